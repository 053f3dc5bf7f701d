//! Hashing and compression of one entry, on the same buffers: SHA-256, CRC-32 and
//! deflate (or store, for data that does not compress).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::mpsc;

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

/// The entry `encoded` (deflated into a temporary file) stored instead: inflated into a
/// new anonymous temporary file in `spill_dir`, for data that cannot be read again.
pub(crate) fn inflate_to_stored(encoded: Encoded, spill_dir: &Path) -> io::Result<Encoded> {
    let Payload::Spilled(deflated) = encoded.payload else {
        return Ok(encoded);
    };
    let mut stored = tempfile::tempfile_in(spill_dir)?;
    let mut inflater = flate2::read::DeflateDecoder::new(io::BufReader::new(deflated));
    let size = io::copy(&mut inflater, &mut io::BufWriter::new(&mut stored))?;
    if size != encoded.size {
        return Err(io::Error::other("the temporary file changed while in use"));
    }
    stored.seek(SeekFrom::Start(0))?;
    Ok(Encoded {
        method: Method::Stored,
        compressed_size: size,
        payload: Payload::Spilled(stored),
        ..encoded
    })
}

/// Bytes handed from the producer of a stream to its compressing thread at a time.
const STREAM_CHUNK: usize = 256 * 1024;
/// Chunks that may wait for the compressing thread: a stream holds at most a few in
/// memory, however large it is.
const STREAM_QUEUE: usize = 4;

/// Encodes what `write` produces, going through an anonymous temporary file in
/// `spill_dir` (the manifest and checksums, which grow with the site; large JSON Lines
/// as they are checked). Always deflated (unless `level` is 0): JSON and digest lists
/// compress well. `io_error` says a failure of the temporary file.
///
/// `write` runs on the calling thread while another hashes and deflates what it has
/// written so far (a large JSON Lines entry: checking and deflating take about as long
/// as each other). The compressor is given the very writes `write` made, in order: the
/// deflate stream depends on how its input is cut, and stays what one thread writes.
pub(crate) fn encode_stream<T, E>(
    level: u32,
    spill_dir: &Path,
    write: impl FnOnce(&mut dyn Write) -> Result<T, E>,
    io_error: impl Fn(io::Error) -> E,
) -> Result<(Encoded, T), E> {
    let spill = io::BufWriter::new(tempfile::tempfile_in(spill_dir).map_err(&io_error)?);
    let (full, to_compress) = mpsc::sync_channel::<Chunk>(STREAM_QUEUE);
    let (recycle, empty) = mpsc::channel::<Chunk>();
    std::thread::scope(|scope| {
        let compressor = scope.spawn(move || compress_chunks(level, spill, &to_compress, &recycle));
        let mut sink = ChunkSender {
            buffer: Chunk::new(),
            full: Some(full),
            empty,
            compressor_stopped: false,
        };
        let written = write(&mut sink);
        let sent = sink.send_rest();
        let compressor_stopped = sink.compressor_stopped;
        drop(sink);
        let encoded = match compressor.join() {
            Ok(encoded) => encoded,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        // A failure of the temporary file stops the compressor first: its error is the
        // cause of the writer's.
        match (written, encoded) {
            (_, Err(e)) if compressor_stopped => Err(io_error(e)),
            (Err(e), _) => Err(e),
            (Ok(_), Err(e)) => Err(io_error(e)),
            (Ok(written), Ok(encoded)) => {
                sent.map_err(&io_error)?;
                Ok((encoded, written))
            }
        }
    })
}

/// The compressing side of [`encode_stream`]: hashes and deflates (or stores) each chunk
/// in order, hands the emptied buffer back, and finishes the entry when the producer is
/// done.
fn compress_chunks(
    level: u32,
    spill: io::BufWriter<File>,
    chunks: &mpsc::Receiver<Chunk>,
    recycle: &mpsc::Sender<Chunk>,
) -> io::Result<Encoded> {
    let mut hasher = Sha256Hasher::new();
    let mut crc = crc32fast::Hasher::new();
    let mut sink = if level == 0 {
        Sink::Raw(spill)
    } else {
        Sink::Deflate(DeflateEncoder::new(spill, Compression::new(level)))
    };
    for chunk in chunks {
        hasher.update(&chunk.bytes);
        crc.update(&chunk.bytes);
        let mut start = 0;
        for &end in &chunk.ends {
            let write = &chunk.bytes[start..end];
            match &mut sink {
                Sink::Raw(out) => out.write_all(write)?,
                Sink::Deflate(out) => out.write_all(write)?,
            }
            start = end;
        }
        // The producer may have finished already: then the buffer is not needed.
        let _ = recycle.send(chunk);
    }
    let (method, spill) = match sink {
        Sink::Raw(spill) => (Method::Stored, spill),
        Sink::Deflate(encoder) => (Method::Deflated, encoder.finish()?),
    };
    let mut spill = spill.into_inner().map_err(io::IntoInnerError::into_error)?;
    let compressed_size = spill.stream_position()?;
    spill.seek(SeekFrom::Start(0))?;
    Ok(Encoded {
        method,
        crc: crc.finalize(),
        size: hasher.len(),
        compressed_size,
        sha256: hasher.finish(),
        payload: Payload::Spilled(spill),
    })
}

enum Sink {
    Raw(io::BufWriter<File>),
    Deflate(DeflateEncoder<io::BufWriter<File>>),
}

/// Writes made to a stream, sent to its compressor together.
struct Chunk {
    bytes: Vec<u8>,
    /// Where each write ends in `bytes`.
    ends: Vec<usize>,
}

impl Chunk {
    fn new() -> Self {
        Self {
            bytes: Vec::with_capacity(STREAM_CHUNK),
            ends: Vec::new(),
        }
    }
}

/// Collects what is written into chunks for the compressing thread.
struct ChunkSender {
    buffer: Chunk,
    /// `None` once everything was sent.
    full: Option<mpsc::SyncSender<Chunk>>,
    /// Buffers the compressor is done with.
    empty: mpsc::Receiver<Chunk>,
    /// The compressor ended early (its temporary file failed).
    compressor_stopped: bool,
}

impl ChunkSender {
    fn send_full_buffer(&mut self) -> io::Result<()> {
        let next = self.empty.try_recv().unwrap_or_else(|_| Chunk::new());
        let chunk = std::mem::replace(&mut self.buffer, next);
        let sent = self.full.as_ref().map(|full| full.send(chunk));
        if let Some(Err(_)) = sent {
            self.compressor_stopped = true;
            return Err(io::Error::other("the compressing thread stopped"));
        }
        self.buffer.bytes.clear();
        self.buffer.ends.clear();
        Ok(())
    }

    /// Sends what is left and tells the compressor that the stream is complete.
    fn send_rest(&mut self) -> io::Result<()> {
        let result = if self.buffer.bytes.is_empty() {
            Ok(())
        } else {
            self.send_full_buffer()
        };
        self.full = None;
        result
    }
}

impl Write for ChunkSender {
    /// Takes the whole write, to hand it on as it was made.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.buffer.bytes.len() >= STREAM_CHUNK {
            self.send_full_buffer()?;
        }
        self.buffer.bytes.extend_from_slice(buf);
        self.buffer.ends.push(self.buffer.bytes.len());
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
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

    /// `data` cut into pieces of 1 to 96 bytes, then one of a chunk and a half.
    fn pieces(data: &[u8]) -> Vec<&[u8]> {
        let mut pieces = Vec::new();
        let mut rest = data;
        let mut size = 1;
        while !rest.is_empty() {
            let take = if pieces.len() == 5000 {
                STREAM_CHUNK * 3 / 2
            } else {
                size
            };
            let (piece, after) = rest.split_at(take.min(rest.len()));
            pieces.push(piece);
            rest = after;
            size = size % 96 + 1;
        }
        pieces
    }

    #[test]
    fn streams_are_compressed_on_another_thread_to_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let mut data = b"{\"id\": 1, \"name\": \"a record\"}\n".repeat(40_000);
        data.extend(noise(3 * STREAM_CHUNK + 5, 3));
        for level in [0, 1, 6] {
            // Small writes of varying sizes, as lines are written, and a large one.
            let (encoded, written) = encode_stream(
                level,
                dir.path(),
                |out| -> io::Result<usize> {
                    for piece in pieces(&data) {
                        out.write_all(piece)?;
                    }
                    Ok(data.len())
                },
                |e| e,
            )
            .unwrap();
            assert_eq!(written, data.len());
            assert_eq!(encoded.size, data.len() as u64);
            assert_eq!(encoded.sha256, Sha256::of(&data));
            assert_eq!(encoded.crc, crc32fast::hash(&data));
            let Payload::Spilled(mut spill) = encoded.payload else {
                panic!("not spilled")
            };
            let mut stored = Vec::new();
            spill.read_to_end(&mut stored).unwrap();
            assert_eq!(stored.len() as u64, encoded.compressed_size);
            if level == 0 {
                assert_eq!(encoded.method, Method::Stored);
                assert!(stored == data);
                continue;
            }
            // The same bytes as one thread given the same writes.
            let mut one_thread = DeflateEncoder::new(Vec::new(), Compression::new(level));
            for piece in pieces(&data) {
                one_thread.write_all(piece).unwrap();
            }
            assert!(stored == one_thread.finish().unwrap(), "level {level}");
        }
    }

    #[test]
    fn a_failing_stream_reports_its_own_error() {
        let dir = tempfile::tempdir().unwrap();
        let result = encode_stream(
            6,
            dir.path(),
            |out| -> Result<(), String> {
                out.write_all(&vec![b'x'; 2 * STREAM_CHUNK]).unwrap();
                Err("line 7 is not JSON".to_owned())
            },
            |e| e.to_string(),
        );
        assert_eq!(result.unwrap_err(), "line 7 is not JSON");
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
