//! Hashing and compression of one entry, on the same buffers: SHA-256, CRC-32 and
//! deflate (or store, for data that does not compress).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use flate2::Compression;
use flate2::write::DeflateEncoder;
use sitepack_format::{Limits, Sha256, Sha256Hasher};

use crate::zip_out::Method;

/// Extensions of formats that are already compressed: deflating them costs time and
/// saves nothing.
const COMPRESSED_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "webp", "avif", "heic", "mp4", "m4v", "mov", "webm", "mkv", "avi",
    "mp3", "m4a", "aac", "ogg", "opus", "flac", "zip", "gz", "tgz", "bz2", "xz", "zst", "7z",
    "rar", "woff", "woff2", "jar", "apk", "docx", "xlsx", "pptx", "odt", "ods", "epub",
];

/// How much of an entry is deflated on trial to decide whether it compresses.
const TRIAL_BYTES: usize = 64 * 1024;
/// Store when deflate saves less than this fraction (in 1/100).
const MIN_SAVING_PERCENT: u64 = 3;
/// Streaming reads of large files use this buffer size.
const CHUNK: usize = 1024 * 1024;

/// The compressed bytes of an entry, wherever they are kept until written.
#[derive(Debug)]
pub(crate) enum Payload {
    /// Small entries: in memory.
    Memory(Vec<u8>),
    /// Large deflated entries: in an anonymous temporary file.
    Spilled(File),
    /// Large stored entries: the site file, read again from its start when written
    /// (through the handle it was opened with), and checked against the CRC taken on
    /// the first read.
    Reread(File),
}

/// An entry ready to be appended.
#[derive(Debug)]
pub(crate) struct Encoded {
    pub method: Method,
    pub crc: u32,
    pub size: u64,
    pub compressed_size: u64,
    pub sha256: Sha256,
    pub payload: Payload,
}

/// Whether the name says the data is already compressed.
pub(crate) fn is_precompressed(file_name: &str) -> bool {
    file_name.rsplit_once('.').is_some_and(|(_, ext)| {
        COMPRESSED_EXTENSIONS
            .iter()
            .any(|c| c.eq_ignore_ascii_case(ext))
    })
}

/// Encodes an entry held in memory.
pub(crate) fn encode_bytes(data: Vec<u8>, level: u32, precompressed: bool) -> io::Result<Encoded> {
    let sha256 = Sha256::of(&data);
    let crc = crc32fast::hash(&data);
    let size = data.len() as u64;
    let stored = |data: Vec<u8>| Encoded {
        method: Method::Stored,
        crc,
        size,
        compressed_size: size,
        sha256,
        payload: Payload::Memory(data),
    };
    if level == 0 || precompressed || data.is_empty() || !compresses(&data, level)? {
        return Ok(stored(data));
    }
    let deflated = deflate(&data, level)?;
    if !worth_deflating(size, deflated.len() as u64) {
        return Ok(stored(data));
    }
    Ok(Encoded {
        method: Method::Deflated,
        crc,
        size,
        compressed_size: deflated.len() as u64,
        sha256,
        payload: Payload::Memory(deflated),
    })
}

/// Encodes a large file by streaming it, showing each chunk to `observe` (the credential
/// scan): stored entries are read again through `file` when written, deflated ones go
/// through an anonymous temporary file in `spill_dir`.
pub(crate) fn encode_file(
    mut file: File,
    level: u32,
    precompressed: bool,
    spill_dir: &Path,
    observe: &mut dyn FnMut(&[u8]),
) -> io::Result<Encoded> {
    let mut buffer = vec![0u8; CHUNK];
    let first = read_full(&mut file, &mut buffer)?;
    let store = level == 0 || precompressed || first == 0 || !compresses(&buffer[..first], level)?;
    let mut hasher = Sha256Hasher::new();
    let mut crc = crc32fast::Hasher::new();
    let mut encoder = if store {
        None
    } else {
        Some(DeflateEncoder::new(
            io::BufWriter::new(tempfile::tempfile_in(spill_dir)?),
            Compression::new(level),
        ))
    };
    let mut chunk = first;
    while chunk > 0 {
        let data = &buffer[..chunk];
        observe(data);
        hasher.update(data);
        crc.update(data);
        if let Some(encoder) = encoder.as_mut() {
            encoder.write_all(data)?;
        }
        chunk = read_full(&mut file, &mut buffer)?;
    }
    let size = hasher.len();
    let mut reread = || -> io::Result<Payload> {
        file.seek(SeekFrom::Start(0))?;
        Ok(Payload::Reread(file.try_clone()?))
    };
    let (method, compressed_size, payload) = match encoder {
        None => (Method::Stored, size, reread()?),
        Some(encoder) => {
            let mut spill = encoder
                .finish()?
                .into_inner()
                .map_err(io::IntoInnerError::into_error)?;
            let compressed = spill.stream_position()?;
            spill.seek(SeekFrom::Start(0))?;
            if worth_deflating(size, compressed) {
                (Method::Deflated, compressed, Payload::Spilled(spill))
            } else {
                (Method::Stored, size, reread()?)
            }
        }
    };
    Ok(Encoded {
        method,
        crc: crc.finalize(),
        size,
        compressed_size,
        sha256: hasher.finish(),
        payload,
    })
}

/// Encodes what `write` produces, going through an anonymous temporary file in
/// `spill_dir` (the manifest and checksums, which grow with the site; large JSON Lines
/// as they are checked). Always deflated (unless `level` is 0): JSON and digest lists
/// compress well. `io_error` says a failure of the temporary file.
pub(crate) fn encode_stream<T, E>(
    level: u32,
    spill_dir: &Path,
    write: impl FnOnce(&mut dyn Write) -> Result<T, E>,
    io_error: impl Fn(io::Error) -> E,
) -> Result<(Encoded, T), E> {
    let spill = io::BufWriter::new(tempfile::tempfile_in(spill_dir).map_err(&io_error)?);
    let mut sink = HashingSink {
        hasher: Sha256Hasher::new(),
        crc: crc32fast::Hasher::new(),
        inner: if level == 0 {
            Sink::Raw(spill)
        } else {
            Sink::Deflate(DeflateEncoder::new(spill, Compression::new(level)))
        },
    };
    let written = write(&mut sink)?;
    let finish = || -> io::Result<Encoded> {
        let (method, spill) = match sink.inner {
            Sink::Raw(spill) => (Method::Stored, spill),
            Sink::Deflate(encoder) => (Method::Deflated, encoder.finish()?),
        };
        let mut spill = spill.into_inner().map_err(io::IntoInnerError::into_error)?;
        let compressed_size = spill.stream_position()?;
        spill.seek(SeekFrom::Start(0))?;
        Ok(Encoded {
            method,
            crc: sink.crc.finalize(),
            size: sink.hasher.len(),
            compressed_size,
            sha256: sink.hasher.finish(),
            payload: Payload::Spilled(spill),
        })
    };
    Ok((finish().map_err(io_error)?, written))
}

enum Sink {
    Raw(io::BufWriter<File>),
    Deflate(DeflateEncoder<io::BufWriter<File>>),
}

/// Hashes what passes through on its way to the sink.
struct HashingSink {
    hasher: Sha256Hasher,
    crc: crc32fast::Hasher,
    inner: Sink,
}

impl Write for HashingSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = match &mut self.inner {
            Sink::Raw(out) => out.write(buf)?,
            Sink::Deflate(out) => out.write(buf)?,
        };
        self.hasher.update(&buf[..n]);
        self.crc.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.inner {
            Sink::Raw(out) => out.flush(),
            Sink::Deflate(out) => out.flush(),
        }
    }
}

/// Fills `buffer` as far as the file allows; returns how much was read.
pub(crate) fn read_full(file: &mut impl Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// A trial deflate of the first [`TRIAL_BYTES`]: does this data compress at all?
fn compresses(data: &[u8], level: u32) -> io::Result<bool> {
    if data.len() <= TRIAL_BYTES {
        // Small entries are compressed whole anyway; the caller compares the result.
        return Ok(true);
    }
    let sample = &data[..TRIAL_BYTES];
    Ok(saves_enough(
        sample.len() as u64,
        deflate(sample, level)?.len() as u64,
    ))
}

/// Deflate when it saves enough, and never past the readers' ratio limit: a reader with
/// default limits would refuse such an entry as a decompression bomb, so it is stored
/// (a writer never writes what its reader refuses).
pub(crate) fn worth_deflating(size: u64, compressed: u64) -> bool {
    saves_enough(size, compressed) && !Limits::default().ratio_exceeded(size, compressed)
}

fn saves_enough(size: u64, compressed: u64) -> bool {
    compressed.saturating_mul(100) <= size.saturating_mul(100 - MIN_SAVING_PERCENT)
}

thread_local! {
    /// One deflate state per worker thread, reset between entries: setting one up
    /// allocates and clears a few hundred KiB, which would otherwise be paid per entry.
    static DEFLATE: std::cell::RefCell<Option<(u32, flate2::Compress)>> = const { std::cell::RefCell::new(None) };
}

fn deflate(data: &[u8], level: u32) -> io::Result<Vec<u8>> {
    DEFLATE.with_borrow_mut(|state| {
        let compress = match state {
            Some((cached, compress)) if *cached == level => {
                compress.reset();
                compress
            }
            _ => {
                &mut state
                    .insert((level, flate2::Compress::new(Compression::new(level), false)))
                    .1
            }
        };
        let mut out = Vec::with_capacity(data.len() / 2 + 64);
        loop {
            let consumed = usize::try_from(compress.total_in()).unwrap_or(usize::MAX);
            let status = compress
                .compress_vec(
                    &data[consumed.min(data.len())..],
                    &mut out,
                    flate2::FlushCompress::Finish,
                )
                .map_err(io::Error::other)?;
            if status == flate2::Status::StreamEnd {
                return Ok(out);
            }
            out.reserve(out.capacity().max(64 * 1024));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut state = 0x2545_f491_4f6c_dd1du64 ^ seed;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()[0]
            })
            .collect()
    }

    #[test]
    fn text_is_deflated_and_noise_is_stored() {
        let text = b"{\"id\": 1, \"name\": \"a record\"}\n".repeat(5000);
        let encoded = encode_bytes(text.clone(), 6, false).unwrap();
        assert_eq!(encoded.method, Method::Deflated);
        assert!(encoded.compressed_size < encoded.size / 10);
        assert_eq!(encoded.crc, crc32fast::hash(&text));
        let encoded = encode_bytes(noise(200_000, 0), 6, false).unwrap();
        assert_eq!(encoded.method, Method::Stored);
        assert_eq!(encoded.compressed_size, 200_000);
        let encoded = encode_bytes(text, 6, true).unwrap();
        assert_eq!(encoded.method, Method::Stored, "precompressed by name");
    }

    #[test]
    fn reused_deflate_state_gives_the_bytes_of_a_fresh_one() {
        let inputs = [
            b"short".to_vec(),
            b"{\"a\": [1, 2, 3]}\n".repeat(20_000),
            noise(300_000, 9),
            b"short".to_vec(),
        ];
        for level in [1, 6, 9] {
            // Each input on a new thread gets a new state; then all on one thread.
            let fresh: Vec<Vec<u8>> = inputs
                .iter()
                .map(|input| {
                    let input = input.clone();
                    std::thread::spawn(move || deflate(&input, level).unwrap())
                        .join()
                        .unwrap()
                })
                .collect();
            for (input, fresh) in inputs.iter().zip(&fresh) {
                let reused = deflate(input, level).unwrap();
                assert!(
                    reused == *fresh,
                    "level {level}, {} bytes: output differs",
                    input.len()
                );
                let mut inflated = Vec::new();
                flate2::read::DeflateDecoder::new(&reused[..])
                    .read_to_end(&mut inflated)
                    .unwrap();
                assert!(inflated == *input, "level {level}: round trip");
            }
        }
    }

    #[test]
    fn precompressed_extensions() {
        for name in ["a.PNG", "photo.jpg", "b.tar.gz", "font.woff2", "clip.mp4"] {
            assert!(is_precompressed(name), "{name}");
        }
        for name in ["a.json", "notes.txt", "png", "archive.zipx"] {
            assert!(!is_precompressed(name), "{name}");
        }
    }

    #[test]
    fn large_files_stream_to_the_same_result() {
        let dir = tempfile::tempdir().unwrap();
        let text = b"line of text that compresses well\n".repeat(100_000);
        let path = dir.path().join("big.txt");
        std::fs::write(&path, &text).unwrap();
        let streamed = encode_file(
            File::open(&path).unwrap(),
            6,
            false,
            dir.path(),
            &mut |_| {},
        )
        .unwrap();
        let in_memory = encode_bytes(text.clone(), 6, false).unwrap();
        assert_eq!(streamed.sha256, in_memory.sha256);
        assert_eq!(streamed.crc, in_memory.crc);
        assert_eq!(streamed.method, Method::Deflated);
        let Payload::Spilled(mut spill) = streamed.payload else {
            panic!("not spilled")
        };
        let mut compressed = Vec::new();
        spill.read_to_end(&mut compressed).unwrap();
        assert_eq!(compressed.len() as u64, streamed.compressed_size);
        let mut inflated = Vec::new();
        flate2::read::DeflateDecoder::new(&compressed[..])
            .read_to_end(&mut inflated)
            .unwrap();
        assert_eq!(inflated, text);

        let path = dir.path().join("noise.bin");
        std::fs::write(&path, noise(3 * CHUNK + 17, 0)).unwrap();
        let streamed = encode_file(
            File::open(&path).unwrap(),
            6,
            false,
            dir.path(),
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(streamed.method, Method::Stored);
        assert!(matches!(streamed.payload, Payload::Reread(_)));
        assert_eq!(streamed.size, 3 * CHUNK as u64 + 17);
    }

    #[test]
    fn data_that_would_exceed_the_readers_ratio_limit_is_stored() {
        // Deflate reaches about 1030:1 on runs of one byte: past the 1000:1 limit.
        for size in [
            usize::try_from(sitepack_format::RATIO_FLOOR).unwrap() + 1,
            10 << 20,
        ] {
            let zeros = vec![0u8; size];
            let encoded = encode_bytes(zeros.clone(), 9, false).unwrap();
            assert_eq!(encoded.method, Method::Stored, "{size}");
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("zeros");
            std::fs::write(&path, &zeros).unwrap();
            let streamed = encode_file(
                File::open(&path).unwrap(),
                9,
                false,
                dir.path(),
                &mut |_| {},
            )
            .unwrap();
            assert_eq!(streamed.method, Method::Stored, "{size}");
        }
        // Under the floor, or under the ratio, deflating goes on.
        let small = encode_bytes(vec![0u8; 1 << 20], 6, false).unwrap();
        assert_eq!(small.method, Method::Deflated);
        let text = "the quick brown fox jumps over the lazy dog\n".repeat(100_000);
        let text = encode_bytes(text.into_bytes(), 6, false).unwrap();
        assert_eq!(text.method, Method::Deflated);
    }
}
