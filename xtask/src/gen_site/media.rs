//! The media library under `files/`: half incompressible (photos, screenshots, videos and
//! opaque `.bin` uploads, all random bytes), a quarter log-like text (`.log`, `.csv`,
//! `.txt`), a quarter raster images with smooth gradients (`.bmp`). Sizes run from about
//! 100 KiB to 40 MiB, a few of them above the writer's 8 MiB streaming threshold; about a
//! third of the files sit in users' own folders (`files/users/<id>/…`).

use std::fmt::Write as _;
use std::fs::File;
use std::io::Write;

use anyhow::{Context, Result};

use super::Tree;
use super::text;
use crate::rng::Rng;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const SMALLEST: u64 = 100 * KIB;
const LARGEST: u64 = 40 * MIB;
/// Files are written in chunks of this size.
const CHUNK: usize = 1 << 20;

/// Writes about `budget` bytes of media.
pub(super) fn write(tree: &mut Tree, rng: &mut Rng, budget: u64, users: &[String]) -> Result<()> {
    let random_budget = budget / 2;
    let text_budget = budget / 4;
    let raster_budget = budget - random_budget - text_budget;
    let avatars = write_avatars(tree, rng, random_budget / 5, users)?;
    let mut sequence = 0;
    for size in sizes(rng, random_budget - avatars) {
        sequence += 1;
        let (extension, magic): (&str, &[u8]) = match rng.below(20) {
            0..=7 => ("jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"),
            8..=11 => ("png", b"\x89PNG\r\n\x1a\n"),
            12..=14 => ("mp4", b"\x00\x00\x00\x20ftypisom"),
            // No name says these do not compress: only a trial compression can tell.
            _ => ("bin", b""),
        };
        let name = match extension {
            "jpg" => format!("IMG_{sequence:05}.jpg"),
            "png" => format!("screenshot-{sequence:05}.png"),
            "mp4" => format!("clip-{sequence:05}.mp4"),
            _ => format!("{}.bin", rng.hex(16)),
        };
        let path = match (extension, owner(rng, users)) {
            (_, Some(user)) => format!("files/users/{user}/uploads/{name}"),
            ("bin", None) => format!("files/uploads/blobs/{name}"),
            ("mp4", None) => format!("files/media/video/{name}"),
            (_, None) => format!("files/media/{}/{name}", month_dir(rng)),
        };
        write_random(tree, rng, &path, magic, size)?;
    }
    for size in sizes(rng, text_budget) {
        sequence += 1;
        match rng.below(3) {
            0 => {
                let day = text::time_in_range(rng);
                let (year, month, dom) = text::civil_from_days(day / 86_400);
                let path =
                    format!("files/logs/{year}/app-{year}-{month:02}-{dom:02}-{sequence}.log");
                write_text(tree, rng, &path, size, day, log_lines)?;
            }
            1 => {
                let path = format!("files/exports/orders-{sequence:05}.csv");
                write_text(tree, rng, &path, size, 0, csv_rows)?;
            }
            _ => {
                let path = match owner(rng, users) {
                    Some(user) => format!("files/users/{user}/documents/notes-{sequence:05}.txt"),
                    None => format!("files/docs/notes-{sequence:05}.txt"),
                };
                write_text(tree, rng, &path, size, 0, prose)?;
            }
        }
    }
    for size in sizes(rng, raster_budget) {
        sequence += 1;
        let path = match owner(rng, users) {
            Some(user) => format!("files/users/{user}/scans/scan-{sequence:05}.bmp"),
            None => format!("files/scans/{}/scan-{sequence:05}.bmp", month_dir(rng)),
        };
        write_bmp(tree, rng, &path, size)?;
    }
    Ok(())
}

/// File sizes adding up to `budget`: the first large (12–40 MiB, so that every kind of
/// media has at least one file on the writer's streaming path), the rest spread on a log
/// scale between 100 KiB and 40 MiB, with no tiny leftover at the end.
fn sizes(rng: &mut Rng, budget: u64) -> Vec<u64> {
    let mut out = Vec::new();
    let mut left = budget;
    while left > 0 {
        let wanted = if out.is_empty() {
            rng.between(12 * MIB, LARGEST)
        } else {
            rng.log_uniform(SMALLEST, LARGEST)
        };
        let mut size = wanted.min(left);
        if left - size < SMALLEST {
            size = left;
        }
        left -= size;
        out.push(size);
    }
    out
}

/// A third of the files belong to a user.
fn owner<'a>(rng: &mut Rng, users: &'a [String]) -> Option<&'a str> {
    rng.chance(33)
        .then(|| users[rng.index(users.len())].as_str())
}

fn month_dir(rng: &mut Rng) -> String {
    let (year, month, _) = text::civil_from_days(text::time_in_range(rng) / 86_400);
    format!("{year}/{month:02}")
}

/// Small avatars for as many users as fit in `budget`; returns the bytes written.
fn write_avatars(tree: &mut Tree, rng: &mut Rng, budget: u64, users: &[String]) -> Result<u64> {
    let mut written = 0;
    for user in users {
        let size = rng.between(8 * KIB, 40 * KIB);
        if written + size > budget {
            break;
        }
        let path = format!("files/users/{user}/avatar.jpg");
        write_random(tree, rng, &path, b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", size)?;
        written += size;
    }
    Ok(written)
}

fn write_random(tree: &mut Tree, rng: &mut Rng, path: &str, magic: &[u8], size: u64) -> Result<()> {
    let mut file = tree.create(path)?;
    let mut buffer = vec![0u8; CHUNK];
    let mut left = size;
    let mut first = true;
    while left > 0 {
        let n = usize::try_from(left.min(CHUNK as u64)).unwrap_or(CHUNK);
        let chunk = &mut buffer[..n];
        rng.fill(chunk);
        if first {
            let m = magic.len().min(n);
            chunk[..m].copy_from_slice(&magic[..m]);
            first = false;
        }
        write_chunk(&mut file, chunk, path)?;
        left -= n as u64;
    }
    tree.count(size);
    Ok(())
}

fn write_chunk(file: &mut File, data: &[u8], path: &str) -> Result<()> {
    file.write_all(data)
        .with_context(|| format!("writing {path}"))
}

/// Appends text lines to a buffer; called until the file is large enough.
type LineWriter = fn(&mut Rng, &mut String, &mut u64);

/// Writes at least `size` bytes of text produced by `lines` (whole lines only).
fn write_text(
    tree: &mut Tree,
    rng: &mut Rng,
    path: &str,
    size: u64,
    start: u64,
    lines: LineWriter,
) -> Result<()> {
    let mut file = tree.create(path)?;
    let mut buffer = String::with_capacity(CHUNK + 4096);
    let mut written = 0u64;
    let mut state = start;
    while written < size {
        lines(rng, &mut buffer, &mut state);
        if buffer.len() >= CHUNK || written + buffer.len() as u64 >= size {
            write_chunk(&mut file, buffer.as_bytes(), path)?;
            written += buffer.len() as u64;
            buffer.clear();
        }
    }
    tree.count(written);
    Ok(())
}

const LOG_SOURCES: &[&str] = &[
    "orders.api",
    "crm.api",
    "auth",
    "mailer",
    "inventory.sync",
    "tickets.api",
    "scheduler",
    "http",
];
const HTTP_PATHS: &[&str] = &[
    "/api/orders",
    "/api/contacts",
    "/api/tickets",
    "/api/items",
    "/api/wiki/pages",
    "/login",
    "/api/reports",
];

/// Application log lines; `clock` is the time of the last line.
fn log_lines(rng: &mut Rng, out: &mut String, clock: &mut u64) {
    *clock += rng.below(3);
    text::push_rfc3339(out, *clock, true);
    let level = match rng.below(100) {
        0..=79 => "INFO ",
        80..=89 => "DEBUG",
        90..=96 => "WARN ",
        _ => "ERROR",
    };
    let source = rng.pick(LOG_SOURCES);
    let _ = write!(
        out,
        " {level} {source} request_id={} user=u-{:04} method={} path={}/{} status={} duration_ms={} bytes={}",
        rng.hex(16),
        rng.between(1, 200),
        rng.pick(&["GET", "GET", "GET", "POST", "PUT", "DELETE"]),
        rng.pick(HTTP_PATHS),
        rng.below(100_000),
        [200, 200, 200, 201, 204, 304, 400, 404, 500][rng.index(9)],
        rng.log_uniform(1, 5000),
        rng.below(50_000),
    );
    out.push('\n');
    if level == "ERROR" {
        let _ = writeln!(
            out,
            "  error: {}",
            rng.pick(&[
                "connection reset by peer",
                "deadline exceeded",
                "constraint violation"
            ])
        );
        for _ in 0..rng.between(2, 6) {
            let _ = writeln!(
                out,
                "    at {}::{}::{} (src/{}/{}.rs:{})",
                source.replace('.', "::"),
                rng.pick(text::WORDS),
                rng.pick(&["handle", "run", "call", "execute"]),
                source.replace('.', "/"),
                rng.pick(text::WORDS),
                rng.between(10, 900)
            );
        }
    }
}

/// Order export rows; `row` counts the rows written (0: the header comes first).
fn csv_rows(rng: &mut Rng, out: &mut String, row: &mut u64) {
    if *row == 0 {
        out.push_str("id,user_id,created_at,status,currency,total,sku,quantity,description,city\n");
    }
    *row += 1;
    let _ = write!(out, "ord-{:07},u-{:04},", *row, rng.between(1, 200));
    text::push_rfc3339(out, text::time_in_range(rng), false);
    let cents = rng.between(100, 200_000);
    let _ = writeln!(
        out,
        ",{},EUR,{}.{:02},sku-{:07},{},\"{} {}\",{}",
        rng.pick(&["new", "paid", "shipped", "delivered", "cancelled"]),
        cents / 100,
        cents % 100,
        rng.between(1, 2500),
        rng.between(1, 12),
        text::capitalize(rng.pick(text::COLORS)),
        rng.pick(text::PRODUCTS),
        rng.pick(text::CITIES),
    );
}

/// Plain text: paragraphs separated by blank lines.
fn prose(rng: &mut Rng, out: &mut String, _: &mut u64) {
    let sentences = rng.between(2, 8);
    out.push_str(&text::paragraph(rng, sentences));
    out.push_str("\n\n");
}

/// A 24-bit BMP of about `size` bytes: smooth colour gradients with a little noise (none,
/// like a screenshot, or some, like a scan), which deflate compresses well.
fn write_bmp(tree: &mut Tree, rng: &mut Rng, path: &str, size: u64) -> Result<()> {
    const HEADER: u64 = 54;
    let width: u64 = [800, 1024, 1280, 1920, 2560][rng.index(5)];
    let row_bytes = (width * 3).div_ceil(4) * 4;
    let height = (size.saturating_sub(HEADER) / row_bytes).max(1);
    let image = row_bytes * height;
    let total = HEADER + image;
    let as_u32 = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
    let mut header = Vec::with_capacity(54);
    header.extend_from_slice(b"BM");
    header.extend_from_slice(&as_u32(total).to_le_bytes());
    header.extend_from_slice(&0u32.to_le_bytes());
    header.extend_from_slice(&as_u32(HEADER).to_le_bytes());
    header.extend_from_slice(&40u32.to_le_bytes());
    header.extend_from_slice(&as_u32(width).to_le_bytes());
    header.extend_from_slice(&as_u32(height).to_le_bytes());
    header.extend_from_slice(&1u16.to_le_bytes());
    header.extend_from_slice(&24u16.to_le_bytes());
    header.extend_from_slice(&0u32.to_le_bytes());
    header.extend_from_slice(&as_u32(image).to_le_bytes());
    header.extend_from_slice(&2835u32.to_le_bytes());
    header.extend_from_slice(&2835u32.to_le_bytes());
    header.extend_from_slice(&0u32.to_le_bytes());
    header.extend_from_slice(&0u32.to_le_bytes());

    let mut file = tree.create(path)?;
    write_chunk(&mut file, &header, path)?;
    // Rows are built 8 bytes at a time (fast even in a debug build): a template with a
    // horizontal gradient in blue and red, combined with a per-row value in green and
    // red (a vertical gradient), plus noise in the low bits: none (flat, like a
    // screenshot), or 1 or 2 bits (like a scan). The template is padded to whole
    // 24-byte periods, where the 3-byte pixel and the 8-byte word line up.
    let noise = u64::from_le_bytes([[0u8, 1, 3][rng.index(3)]; 8]);
    let phase = rng.below(256);
    let low_byte = |v: u64| v.to_le_bytes()[0];
    let row_len = usize::try_from(row_bytes).unwrap_or(0);
    let periods = row_len.div_ceil(24);
    let mut template = vec![0u8; periods * 24];
    for x in 0..width {
        let at = usize::try_from(x * 3).unwrap_or(0);
        template[at] = low_byte(x * 256 / width + phase);
        template[at + 2] = low_byte(x * 128 / width);
    }
    let template: Vec<u64> = template
        .chunks_exact(8)
        .map(|w| u64::from_le_bytes(w.try_into().unwrap_or_default()))
        .collect();
    let rows_per_chunk = (CHUNK / row_len.max(1)).max(1);
    let mut buffer = Vec::with_capacity((rows_per_chunk + 1) * periods * 24);
    for y in 0..height {
        let pixel = [
            0,
            low_byte(y * 256 / height),
            low_byte(y * 96 / height + phase),
        ];
        let mut period = [0u8; 24];
        for (i, byte) in period.iter_mut().enumerate() {
            *byte = pixel[i % 3];
        }
        let pattern: Vec<u64> = period
            .chunks_exact(8)
            .map(|w| u64::from_le_bytes(w.try_into().unwrap_or_default()))
            .collect();
        let start = buffer.len();
        for (i, word) in template.iter().enumerate() {
            let mut value = word ^ pattern[i % 3];
            if noise != 0 {
                value ^= rng.next_u64() & noise;
            }
            buffer.extend_from_slice(&value.to_le_bytes());
        }
        buffer.truncate(start + row_len);
        if buffer.len() >= rows_per_chunk * row_len || y + 1 == height {
            write_chunk(&mut file, &buffer, path)?;
            buffer.clear();
        }
    }
    tree.count(total);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_add_up_and_stay_in_range() {
        let mut rng = Rng::derive(1, "sizes");
        for budget in [0, 50 * KIB, 3 * MIB, 250 * MIB] {
            let sizes = sizes(&mut rng, budget);
            assert_eq!(sizes.iter().sum::<u64>(), budget);
            assert!(sizes.iter().all(|&s| s <= LARGEST + SMALLEST), "{sizes:?}");
        }
        let big = sizes(&mut rng, 250 * MIB);
        assert!(big.iter().filter(|&&s| s > 8 * MIB).count() >= 2, "{big:?}");
    }
}
