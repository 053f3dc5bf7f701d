//! A minimal, deterministic ZIP writer: every entry's CRC and sizes are known before its
//! local header is written, so no data descriptors and no seeking are needed (the same
//! bytes go to a file or to a pipe).

use std::io::{self, Write};

use sitepack_format::Timestamp;
use sitepack_format::zip_records::{
    CENTRAL_HEADER, CENTRAL_HEADER_LEN, END_OF_CENTRAL_DIRECTORY, FLAG_UTF8, HOST_UNIX,
    LOCAL_HEADER, LOCAL_HEADER_LEN, METHOD_DEFLATED, METHOD_STORED, VERSION_DEFAULT, VERSION_ZIP64,
    ZIP64_END_OF_CENTRAL_DIRECTORY, ZIP64_END_OF_CENTRAL_DIRECTORY_LEN, ZIP64_EXTRA_FIELD,
    ZIP64_LOCATOR, ZIP64_MARKER_16, ZIP64_MARKER_32,
};

/// Compression method of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Stored,
    Deflated,
}

impl Method {
    fn code(self) -> u16 {
        match self {
            Self::Stored => METHOD_STORED,
            Self::Deflated => METHOD_DEFLATED,
        }
    }
}

/// What the central directory needs to know about an entry already written.
struct CentralRecord {
    /// Where the name is in [`ZipOut::names`].
    name: std::ops::Range<usize>,
    method: Method,
    crc: u32,
    compressed: u64,
    size: u64,
    offset: u64,
}

/// Writes entries one after another into `out`, counting the bytes written.
pub(crate) struct ZipOut<W: Write> {
    out: W,
    written: u64,
    dos_time: u16,
    dos_date: u16,
    central: Vec<CentralRecord>,
    /// Every entry name, one after another: one allocation instead of one per entry.
    names: String,
}

/// Sizes and offsets from this value on go in ZIP64 fields.
const MAX32: u64 = ZIP64_MARKER_32 as u64;
/// "Made by" Unix, so that the external attributes carry a Unix mode.
const MADE_BY_UNIX: u16 = HOST_UNIX << 8;
/// Regular file, rw-r--r--.
const FILE_MODE: u32 = 0o100_644;

impl<W: Write> ZipOut<W> {
    pub(crate) fn new(out: W, time: Timestamp) -> Self {
        let (dos_time, dos_date) = dos_date_time(time);
        Self {
            out,
            written: 0,
            dos_time,
            dos_date,
            central: Vec::new(),
            names: String::new(),
        }
    }

    /// Writes the local header of an entry whose data follows through [`Self::write_data`].
    pub(crate) fn start_entry(
        &mut self,
        name: &str,
        method: Method,
        crc: u32,
        compressed: u64,
        size: u64,
    ) -> io::Result<()> {
        let zip64 = size >= MAX32 || compressed >= MAX32;
        let mut extra = Vec::new();
        if zip64 {
            extra.extend_from_slice(&ZIP64_EXTRA_FIELD.to_le_bytes());
            extra.extend_from_slice(&16u16.to_le_bytes());
            extra.extend_from_slice(&size.to_le_bytes());
            extra.extend_from_slice(&compressed.to_le_bytes());
        }
        let mut header = Vec::with_capacity(LOCAL_HEADER_LEN + name.len() + extra.len());
        header.extend_from_slice(LOCAL_HEADER);
        header.extend_from_slice(
            &(if zip64 {
                VERSION_ZIP64
            } else {
                VERSION_DEFAULT
            })
            .to_le_bytes(),
        );
        header.extend_from_slice(&flags(name).to_le_bytes());
        header.extend_from_slice(&method.code().to_le_bytes());
        header.extend_from_slice(&self.dos_time.to_le_bytes());
        header.extend_from_slice(&self.dos_date.to_le_bytes());
        header.extend_from_slice(&crc.to_le_bytes());
        header.extend_from_slice(&clamp32(compressed, zip64).to_le_bytes());
        header.extend_from_slice(&clamp32(size, zip64).to_le_bytes());
        header.extend_from_slice(&u16_len(name.len())?.to_le_bytes());
        header.extend_from_slice(&u16_len(extra.len())?.to_le_bytes());
        header.extend_from_slice(name.as_bytes());
        header.extend_from_slice(&extra);
        let start = self.names.len();
        self.names.push_str(name);
        self.central.push(CentralRecord {
            name: start..self.names.len(),
            method,
            crc,
            compressed,
            size,
            offset: self.written,
        });
        self.write_all(&header)
    }

    /// Appends (part of) the compressed data of the current entry.
    pub(crate) fn write_data(&mut self, data: &[u8]) -> io::Result<()> {
        self.write_all(data)
    }

    /// Writes the central directory and end records; returns the inner writer.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        let cd_start = self.written;
        let records = std::mem::take(&mut self.central);
        let names = std::mem::take(&mut self.names);
        for record in &records {
            let name = &names[record.name.clone()];
            let needs = [
                record.size >= MAX32,
                record.compressed >= MAX32,
                record.offset >= MAX32,
            ];
            let zip64 = needs.iter().any(|&n| n);
            let mut extra = Vec::new();
            if zip64 {
                let values = [record.size, record.compressed, record.offset];
                let fields: Vec<u64> = values
                    .iter()
                    .zip(needs)
                    .filter_map(|(&v, needed)| needed.then_some(v))
                    .collect();
                extra.extend_from_slice(&ZIP64_EXTRA_FIELD.to_le_bytes());
                extra.extend_from_slice(&u16_len(fields.len() * 8)?.to_le_bytes());
                for field in fields {
                    extra.extend_from_slice(&field.to_le_bytes());
                }
            }
            let version = if zip64 {
                VERSION_ZIP64
            } else {
                VERSION_DEFAULT
            };
            let mut header = Vec::with_capacity(CENTRAL_HEADER_LEN + name.len() + extra.len());
            header.extend_from_slice(CENTRAL_HEADER);
            header.extend_from_slice(&(MADE_BY_UNIX | version).to_le_bytes());
            header.extend_from_slice(&version.to_le_bytes());
            header.extend_from_slice(&flags(name).to_le_bytes());
            header.extend_from_slice(&record.method.code().to_le_bytes());
            header.extend_from_slice(&self.dos_time.to_le_bytes());
            header.extend_from_slice(&self.dos_date.to_le_bytes());
            header.extend_from_slice(&record.crc.to_le_bytes());
            header.extend_from_slice(&clamp32(record.compressed, needs[1]).to_le_bytes());
            header.extend_from_slice(&clamp32(record.size, needs[0]).to_le_bytes());
            header.extend_from_slice(&u16_len(name.len())?.to_le_bytes());
            header.extend_from_slice(&u16_len(extra.len())?.to_le_bytes());
            header.extend_from_slice(&0u16.to_le_bytes()); // comment length
            header.extend_from_slice(&0u16.to_le_bytes()); // disk number
            header.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
            header.extend_from_slice(&(FILE_MODE << 16).to_le_bytes());
            header.extend_from_slice(&clamp32(record.offset, needs[2]).to_le_bytes());
            header.extend_from_slice(name.as_bytes());
            header.extend_from_slice(&extra);
            self.write_all(&header)?;
        }
        let cd_end = self.written;
        let cd_size = cd_end - cd_start;
        let count = records.len() as u64;
        let zip64 = count >= u64::from(ZIP64_MARKER_16) || cd_size >= MAX32 || cd_start >= MAX32;
        let mut tail = Vec::new();
        if zip64 {
            tail.extend_from_slice(ZIP64_END_OF_CENTRAL_DIRECTORY);
            // The record's size counts the bytes after the signature and itself.
            tail.extend_from_slice(&(ZIP64_END_OF_CENTRAL_DIRECTORY_LEN as u64 - 12).to_le_bytes());
            tail.extend_from_slice(&(MADE_BY_UNIX | VERSION_ZIP64).to_le_bytes());
            tail.extend_from_slice(&VERSION_ZIP64.to_le_bytes());
            tail.extend_from_slice(&0u32.to_le_bytes()); // this disk
            tail.extend_from_slice(&0u32.to_le_bytes()); // disk with the central directory
            tail.extend_from_slice(&count.to_le_bytes());
            tail.extend_from_slice(&count.to_le_bytes());
            tail.extend_from_slice(&cd_size.to_le_bytes());
            tail.extend_from_slice(&cd_start.to_le_bytes());
            tail.extend_from_slice(ZIP64_LOCATOR);
            tail.extend_from_slice(&0u32.to_le_bytes());
            tail.extend_from_slice(&cd_end.to_le_bytes());
            tail.extend_from_slice(&1u32.to_le_bytes());
        }
        let count16 = u16::try_from(count)
            .ok()
            .filter(|_| !zip64)
            .unwrap_or(ZIP64_MARKER_16);
        tail.extend_from_slice(END_OF_CENTRAL_DIRECTORY);
        tail.extend_from_slice(&0u16.to_le_bytes());
        tail.extend_from_slice(&0u16.to_le_bytes());
        tail.extend_from_slice(&count16.to_le_bytes());
        tail.extend_from_slice(&count16.to_le_bytes());
        tail.extend_from_slice(&clamp32(cd_size, zip64).to_le_bytes());
        tail.extend_from_slice(&clamp32(cd_start, zip64).to_le_bytes());
        tail.extend_from_slice(&0u16.to_le_bytes()); // comment length
        self.write_all(&tail)?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        self.out.write_all(data)?;
        self.written += data.len() as u64;
        Ok(())
    }
}

fn flags(name: &str) -> u16 {
    if name.is_ascii() { 0 } else { FLAG_UTF8 }
}

fn clamp32(value: u64, in_zip64_extra: bool) -> u32 {
    if in_zip64_extra {
        ZIP64_MARKER_32
    } else {
        u32::try_from(value).unwrap_or(ZIP64_MARKER_32)
    }
}

fn u16_len(len: usize) -> io::Result<u16> {
    u16::try_from(len).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "ZIP field longer than 65535 bytes",
        )
    })
}

/// MS-DOS time and date fields, clamped to the range they can express (1980–2107).
fn dos_date_time(time: Timestamp) -> (u16, u16) {
    let t = time.as_offset_date_time();
    let year = t.year();
    if year < 1980 {
        return (0, (1 << 5) | 1);
    }
    if year > 2107 {
        return (0xBF7D, 0xFF9F); // 23:59:58 on 2107-12-31
    }
    let time =
        (u16::from(t.hour()) << 11) | (u16::from(t.minute()) << 5) | (u16::from(t.second()) / 2);
    let year_offset = u16::try_from(year - 1980).unwrap_or(127);
    let date = (year_offset << 9) | (u16::from(u8::from(t.month())) << 5) | u16::from(t.day());
    (time, date)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dos_times() {
        let t: Timestamp = "2026-11-22T08:30:42Z".parse().unwrap();
        let (time, date) = dos_date_time(t);
        assert_eq!(time, (8 << 11) | (30 << 5) | (42 / 2));
        assert_eq!(date, ((2026 - 1980) << 9) | (11 << 5) | 0x16);
        assert_eq!(
            dos_date_time(Timestamp::from_unix_seconds(0).unwrap()),
            (0, (1 << 5) | 1)
        );
    }

    #[test]
    fn empty_archive_is_just_an_end_record() {
        let out = ZipOut::new(Vec::new(), Timestamp::from_unix_seconds(0).unwrap())
            .finish()
            .unwrap();
        assert_eq!(out.len(), 22);
        assert_eq!(&out[..4], END_OF_CENTRAL_DIRECTORY);
    }
}
