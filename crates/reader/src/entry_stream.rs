//! The one read path for entry data: decompresses at most the declared size + 1 byte,
//! computing CRC-32 and SHA-256 over exactly the bytes extraction writes.

use std::io::{self, Read};

use flate2::{Decompress, FlushDecompress, Status};
use sitepack_format::zip_records::METHOD_DEFLATED;
use sitepack_format::{Sha256, Sha256Hasher};

use crate::container::Record;
use crate::source::ReadAt;

const CHUNK: usize = 64 * 1024;

/// What reading an entry found.
#[derive(Debug)]
pub(crate) struct Computed {
    /// Bytes produced (at most the declared size + 1).
    pub size: u64,
    pub crc: u32,
    pub sha256: Sha256,
}

/// A `Read` over one entry's decompressed bytes. Errors are `InvalidData` for a broken
/// deflate stream; it ends after the declared size + 1 byte at most, so an understated
/// size shows as one byte too many rather than as a flood.
pub(crate) struct EntryStream<'a> {
    file: &'a dyn ReadAt,
    /// Next compressed byte to read, and where the compressed data ends.
    position: u64,
    end: u64,
    /// Bytes still allowed out: declared size + 1.
    remaining: u64,
    inflate: Option<Decompress>,
    input: Vec<u8>,
    input_filled: usize,
    input_at: usize,
    finished: bool,
    crc: crc32fast::Hasher,
    sha: Sha256Hasher,
}

impl<'a> EntryStream<'a> {
    /// A stream over a record whose local header checked out.
    pub fn new(file: &'a dyn ReadAt, record: &Record) -> io::Result<Self> {
        let start = record.data_start.ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, "no readable local header")
        })?;
        let deflated = record.method == METHOD_DEFLATED;
        let input_len = if deflated {
            usize::try_from(record.compressed.min(CHUNK as u64)).unwrap_or(CHUNK)
        } else {
            0
        };
        Ok(Self {
            file,
            position: start,
            end: start + record.compressed,
            remaining: record.uncompressed.saturating_add(1),
            inflate: deflated.then(|| Decompress::new(false)),
            input: vec![0; input_len],
            input_filled: 0,
            input_at: 0,
            finished: false,
            crc: crc32fast::Hasher::new(),
            sha: Sha256Hasher::new(),
        })
    }

    /// The digests of everything read so far.
    pub fn finish(self) -> Computed {
        Computed {
            size: self.sha.len(),
            crc: self.crc.finalize(),
            sha256: self.sha.finish(),
        }
    }

    fn read_stored(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want =
            usize::try_from((self.end - self.position).min(buf.len() as u64)).unwrap_or(buf.len());
        let n = self.file.read_at(&mut buf[..want], self.position)?;
        if n == 0 && want > 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file ends inside the entry",
            ));
        }
        self.position += n as u64;
        Ok(n)
    }

    fn read_deflated(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.finished {
                return Ok(0);
            }
            if self.input_at == self.input_filled && self.position < self.end {
                let want = usize::try_from((self.end - self.position).min(self.input.len() as u64))
                    .unwrap_or(self.input.len());
                self.file
                    .read_exact_at(&mut self.input[..want], self.position)?;
                self.position += want as u64;
                self.input_filled = want;
                self.input_at = 0;
            }
            let Some(inflate) = self.inflate.as_mut() else {
                return Ok(0);
            };
            let before_in = inflate.total_in();
            let before_out = inflate.total_out();
            let status = inflate
                .decompress(
                    &self.input[self.input_at..self.input_filled],
                    buf,
                    FlushDecompress::None,
                )
                .map_err(|e| corrupt(&format!("the deflate stream is invalid ({e})")))?;
            let consumed = usize::try_from(inflate.total_in() - before_in).unwrap_or(0);
            let produced = usize::try_from(inflate.total_out() - before_out).unwrap_or(0);
            self.input_at += consumed;
            let input_done = self.input_at == self.input_filled && self.position == self.end;
            if status == Status::StreamEnd {
                self.finished = true;
                if !input_done {
                    return Err(corrupt(
                        "the deflate stream ends before the entry's compressed data does",
                    ));
                }
            } else if input_done && produced == 0 {
                return Err(corrupt("the deflate stream is cut short"));
            }
            if produced > 0 || self.finished {
                return Ok(produced);
            }
        }
    }
}

fn corrupt(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_owned())
}

impl Read for EntryStream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let limit = usize::try_from(self.remaining.min(buf.len() as u64)).unwrap_or(buf.len());
        if limit == 0 {
            return Ok(0);
        }
        let buf = &mut buf[..limit];
        let n = if self.inflate.is_some() {
            self.read_deflated(buf)?
        } else {
            self.read_stored(buf)?
        };
        self.remaining -= n as u64;
        self.crc.update(&buf[..n]);
        self.sha.update(&buf[..n]);
        Ok(n)
    }
}

/// Reads an entry to its end through `sink`, chunk by chunk.
pub(crate) fn drain(
    stream: &mut EntryStream<'_>,
    buffer: &mut [u8],
    mut sink: impl FnMut(&[u8]) -> bool,
) -> io::Result<()> {
    loop {
        let n = stream.read(buffer)?;
        if n == 0 || !sink(&buffer[..n]) {
            return Ok(());
        }
    }
}
