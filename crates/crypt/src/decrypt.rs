//! Reading an encrypted archive: decrypted whole into a private temporary file first.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use age::DecryptError;
use sitepack_format::workdir::WorkDir;

use crate::{AGE_SUFFIX, CryptError, Identities};

/// The first line of an age file (binary format).
const MAGIC: &[u8] = b"age-encryption.org/";
/// The first line of an ASCII-armored age file.
const ARMOR: &[u8] = b"-----BEGIN AGE ENCRYPTED FILE-----";

/// Whether these first bytes of a file are an age file's (binary or armored).
#[must_use]
pub fn is_age(start: &[u8]) -> bool {
    start.starts_with(MAGIC) || start.starts_with(ARMOR)
}

/// Whether the file at `path` is an age file, judged by its first bytes (never by its
/// name: `age -o backup.zip` names it as it likes). Anything but a regular file (a FIFO,
/// which opening would block on; a directory) is not one: its reader says what it is.
pub fn is_encrypted(path: &Path) -> Result<bool, CryptError> {
    if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return Ok(false);
    }
    let mut start = Vec::with_capacity(ARMOR.len());
    File::open(path)
        .and_then(|f| f.take(ARMOR.len() as u64).read_to_end(&mut start))
        .map_err(|e| CryptError::io("read", path, e))?;
    Ok(is_age(&start))
}

/// What the private directories of decrypted archives are called, in the system's
/// temporary directory.
const DECRYPTED_PREFIX: &str = "sitepack-decrypted-";

/// An archive decrypted into a private temporary directory (0700, the file 0600),
/// removed when dropped, and by an interrupt meanwhile.
#[derive(Debug)]
pub struct Decrypted {
    path: PathBuf,
    // Unregistered after the directory is gone (fields drop in order).
    _dir: WorkDir,
    _interruptible: sitepack_format::interrupt::Registered,
}

impl Decrypted {
    /// The plaintext archive.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Bytes read and written at a time while decrypting: `io::copy`'s 8 KiB would make a
/// system call per eighth of one of age's 64 KiB chunks.
const COPY_BUFFER: usize = 256 * 1024;

/// Below this size an archive is decrypted on one thread: a second stream costs a
/// second header parse and key unwrap, more than it saves on a small file.
const PARALLEL_FROM: u64 = 8 * 1024 * 1024;

/// age's plaintext chunk size: each chunk is authenticated on its own, under a nonce
/// made of its index and whether it is the last.
const CHUNK: u64 = 64 * 1024;

/// An age header longer than this is refused as damage before age parses it: age's
/// header parser takes quadratic time (a 1 MB header took seconds), and a real one, even
/// to a thousand recipients, is far shorter.
const MAX_HEADER: u64 = 128 * 1024;

/// What age's stream reads a file through: the file itself, or its armor decoded.
trait Input: BufRead + Seek + Send {}
impl<T: BufRead + Seek + Send> Input for T {}

type Stream = age::stream::StreamReader<Box<dyn Input>>;

/// The loaded identities, shared by both streams of a large archive: an identity file
/// is read once (it may be a pipe, `--identity <(pass show key)`).
type Keys = Vec<Box<dyn age::Identity + Send + Sync>>;

/// The one open archive file, read at a position of its own: both streams of a large
/// archive read the very same file, never the path twice (it could be replaced between).
struct At {
    file: Arc<File>,
    position: u64,
}

impl Read for At {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.position)?;
        self.position += n as u64;
        Ok(n)
    }
}

impl Seek for At {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let (base, delta) = match to {
            SeekFrom::Start(offset) => (offset, 0),
            SeekFrom::Current(delta) => (self.position, delta),
            SeekFrom::End(delta) => (self.file.metadata()?.len(), delta),
        };
        self.position = base.checked_add_signed(delta).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "a seek before the start")
        })?;
        Ok(self.position)
    }
}

/// What age reads: the file from its start, through the armor when it is armored.
fn input(file: &Arc<File>, armored: bool) -> Box<dyn Input> {
    let at = At {
        file: Arc::clone(file),
        position: 0,
    };
    // A binary file is read through a small buffer, which age's 64 KiB chunk reads
    // bypass: the kernel copies each chunk straight into age's own buffer.
    if armored {
        Box::new(age::armor::ArmoredReader::new(at))
    } else {
        Box::new(BufReader::new(at))
    }
}

/// Whether the header (up to its MAC line, `---`) is longer than [`MAX_HEADER`]. A
/// file that cannot be read so is left to age, whose error says what is wrong.
fn header_too_long(file: &Arc<File>, armored: bool) -> bool {
    let mut start = Vec::new();
    if input(file, armored)
        .take(MAX_HEADER)
        .read_to_end(&mut start)
        .is_err()
    {
        return false;
    }
    start.len() as u64 == MAX_HEADER && !start.windows(4).any(|w| w == b"\n---")
}

/// Reads `source`'s header from `file` and unwraps its payload key (with the passphrase,
/// or with `keys`, loaded from `identities` the first time), ready to decrypt. Returns
/// whether the file is passphrase-encrypted (scrypt) beside the stream.
fn open_stream(
    file: &Arc<File>,
    (source, archive): (&Path, &str),
    identities: &Identities,
    keys: &mut Option<Keys>,
    armored: bool,
) -> Result<(Stream, bool), CryptError> {
    let damaged = |reason: String| CryptError::Damaged {
        archive: archive.to_owned(),
        reason,
    };
    let decryptor = age::Decryptor::new_buffered(input(file, armored)).map_err(|e| match e {
        DecryptError::Io(e) if !is_damage(&e) => CryptError::io("read", source, e),
        e => damaged(e.to_string()),
    })?;
    if decryptor.is_scrypt() {
        let Some(file) = identities.passphrase_file() else {
            return Err(CryptError::NoPassphrase {
                archive: archive.to_owned(),
            });
        };
        let identity = age::scrypt::Identity::new(Identities::passphrase(file)?);
        let stream = decryptor
            .decrypt(std::iter::once(&identity as &dyn age::Identity))
            .map_err(|e| match e {
                DecryptError::DecryptionFailed => CryptError::WrongPassphrase {
                    archive: archive.to_owned(),
                    file: file.to_path_buf(),
                },
                // Said here: age's own message computes 2^(required - target), which
                // overflows for a crafted header (work factor 62 and up).
                DecryptError::ExcessiveWork { required, .. } => damaged(format!(
                    "its passphrase is stretched with scrypt work factor {required}, far more \
                     than sitepack (or age) ever writes: refused, it would take too long"
                )),
                e => damaged(e.to_string()),
            })?;
        return Ok((stream, true));
    }
    if identities.is_empty() {
        return Err(CryptError::NoIdentity {
            archive: archive.to_owned(),
        });
    }
    let keys = match keys {
        Some(keys) => keys,
        None => keys.insert(identities.load()?),
    };
    let stream = decryptor
        .decrypt(keys.iter().map(|k| k.as_ref() as &dyn age::Identity))
        .map_err(|e| match e {
            DecryptError::NoMatchingKeys => CryptError::WrongIdentity {
                archive: archive.to_owned(),
                files: identities.describe(),
            },
            DecryptError::Io(e) if !is_damage(&e) => CryptError::io("read", source, e),
            e => damaged(e.to_string()),
        })?;
    Ok((stream, false))
}

/// Whether reading the age file failed because of what it holds (a bad or cut-off
/// header, nonce or chunk), not because it could not be read.
fn is_damage(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof
    )
}

/// Decrypts `stream` from its current position into `out` at `offset`, `length` bytes
/// (or to its end when `None`), in [`COPY_BUFFER`] pieces; returns the bytes written.
fn decrypt_range(
    stream: &mut Stream,
    out: &File,
    mut offset: u64,
    length: Option<u64>,
) -> io::Result<u64> {
    let mut from = stream.take(length.unwrap_or(u64::MAX));
    let mut buffer = vec![0u8; COPY_BUFFER];
    let start = offset;
    loop {
        let mut filled = 0;
        while filled < buffer.len() {
            match from.read(&mut buffer[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if filled == 0 {
            return Ok(offset - start);
        }
        out.write_all_at(&buffer[..filled], offset)?;
        offset += filled as u64;
    }
}

/// Decrypts the age file `source` (called `archive` in messages) with `identities` into
/// a private temporary file. The whole ciphertext is read and authenticated before this
/// returns: a modified or truncated one is [`CryptError::Damaged`] and its temporary is
/// removed, so nothing decrypted from it is ever used.
///
/// A large binary file with X25519 recipients is decrypted on two threads, each half of
/// its chunks by its own stream: every chunk is still authenticated exactly once, under
/// its own index, and the last one as the last (the second stream checks it first).
pub fn decrypt_to_private_file(
    source: &Path,
    archive: &str,
    identities: &Identities,
) -> Result<Decrypted, CryptError> {
    let file = Arc::new(File::open(source).map_err(|e| CryptError::io("read", source, e))?);
    let mut magic = [0u8; MAGIC.len()];
    let armored = !matches!(file.read_exact_at(&mut magic, 0), Ok(()) if magic == MAGIC);
    let damaged = |e: io::Error, path: &Path| {
        // The payload is authenticated chunk by chunk: a modified chunk (or a cut-off
        // end) is an InvalidData error, and the partial plaintext goes with the directory.
        if is_damage(&e) {
            CryptError::Damaged {
                archive: archive.to_owned(),
                reason: e.to_string(),
            }
        } else {
            CryptError::io("decrypt into", path, e)
        }
    };
    if header_too_long(&file, armored) {
        return Err(CryptError::Damaged {
            archive: archive.to_owned(),
            reason: format!(
                "its header is longer than {} KiB, which no age writer makes",
                MAX_HEADER / 1024
            ),
        });
    }
    let mut keys = None;
    let (mut first, scrypt) =
        open_stream(&file, (source, archive), identities, &mut keys, armored)?;
    let size = file
        .metadata()
        .map_err(|e| CryptError::io("read", source, e))?
        .len();
    // Passphrase files stay on one thread: a second stream would stretch the passphrase
    // (about a second of scrypt) again.
    let second = if size >= PARALLEL_FROM && !scrypt && !armored {
        Some(open_stream(&file, (source, archive), identities, &mut keys, armored)?.0)
    } else {
        None
    };

    // Locked while it lives, so that the next run removes it if this one is killed
    // outright (then nothing removes it at once: the plaintext must not stay for long).
    let temp = std::env::temp_dir();
    let dir = WorkDir::new(&temp, DECRYPTED_PREFIX).map_err(|e| {
        CryptError::io(
            "create a temporary directory for the decrypted archive in",
            &temp,
            e,
        )
    })?;
    let interruptible = sitepack_format::interrupt::temporary(dir.path());
    let name = source
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .map(|n| n.strip_suffix(AGE_SUFFIX).map(str::to_owned).unwrap_or(n))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "archive.zip".to_owned());
    let path = dir.path().join(name);
    let out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| CryptError::io("create", &path, e))?;
    sitepack_format::failpoint::pause("decrypt-partial");
    match second {
        None => {
            decrypt_range(&mut first, &out, 0, None).map_err(|e| damaged(e, &path))?;
        }
        Some(mut second) => {
            // Seeking to the end authenticates the last chunk as the last: the length
            // is the true plaintext's, so each half below is read in full or is damage.
            let length = second
                .seek(SeekFrom::End(0))
                .map_err(|e| damaged(e, &path))?;
            let half = length.div_ceil(CHUNK) / 2 * CHUNK;
            let expect = |read: u64, wanted: u64| {
                if read == wanted {
                    Ok(())
                } else {
                    Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the encrypted payload ends early",
                    ))
                }
            };
            let (head, tail) = std::thread::scope(|scope| {
                let tail = scope.spawn(|| {
                    second.seek(SeekFrom::Start(half))?;
                    expect(decrypt_range(&mut second, &out, half, None)?, length - half)
                });
                // The first half must not end the stream: a chunk sealed as the last
                // just before the middle would otherwise pass (nothing reads past it).
                let head = decrypt_range(&mut first, &out, 0, Some(half))
                    .and_then(|read| expect(read, half))
                    .and_then(|()| first.read(&mut [0u8; 1]))
                    .and_then(|read| expect(read as u64, 1));
                (
                    head,
                    tail.join()
                        .unwrap_or_else(|_| Err(io::Error::other("a decrypting thread panicked"))),
                )
            });
            head.and(tail).map_err(|e| damaged(e, &path))?;
        }
    }
    Ok(Decrypted {
        path,
        _dir: dir,
        _interruptible: interruptible,
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    use age::secrecy::ExposeSecret;

    use super::*;
    use crate::{EncryptingWriter, Recipients};

    fn key(dir: &Path, name: &str) -> (PathBuf, Recipients) {
        let identity = age::x25519::Identity::generate();
        let path = dir.join(name);
        std::fs::write(&path, format!("{}\n", identity.to_string().expose_secret())).unwrap();
        let recipients = Recipients::parse(&[identity.to_public().to_string()], &[]).unwrap();
        (path, recipients)
    }

    fn encrypt(plain: &[u8], recipients: &Recipients) -> Vec<u8> {
        let mut writer = EncryptingWriter::new(Vec::new(), recipients).unwrap();
        writer.write_all(plain).unwrap();
        writer.finish().unwrap().0
    }

    #[test]
    fn decrypts_into_a_private_file_removed_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let (key_file, recipients) = key(dir.path(), "key.txt");
        let plain = vec![7u8; 200_000];
        let source = dir.path().join("x.zip.age");
        std::fs::write(&source, encrypt(&plain, &recipients)).unwrap();
        assert!(is_encrypted(&source).unwrap());
        let decrypted =
            decrypt_to_private_file(&source, "x.zip.age", &Identities::new(vec![key_file]))
                .unwrap();
        assert_eq!(decrypted.path().file_name().unwrap(), "x.zip");
        assert_eq!(std::fs::read(decrypted.path()).unwrap(), plain);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(decrypted.path()), 0o600);
        assert_eq!(mode(decrypted.path().parent().unwrap()), 0o700);
        let temporary = decrypted.path().parent().unwrap().to_path_buf();
        drop(decrypted);
        assert!(!temporary.exists());
    }

    #[test]
    fn the_plaintext_a_killed_run_left_is_removed_by_the_next_decryption() {
        let dir = tempfile::tempdir().unwrap();
        let (key_file, recipients) = key(dir.path(), "key.txt");
        let source = dir.path().join("x.zip.age");
        std::fs::write(&source, encrypt(b"PK plain", &recipients)).unwrap();
        // What `kill -9` leaves: the directory, its (no longer held) lock, the plaintext.
        let killed = std::env::temp_dir().join(format!("{DECRYPTED_PREFIX}killed-run"));
        std::fs::create_dir(&killed).unwrap();
        std::fs::write(killed.join("lock"), b"").unwrap();
        std::fs::write(killed.join("x.zip"), b"PK half of the plaintext").unwrap();
        let decrypted =
            decrypt_to_private_file(&source, "x", &Identities::new(vec![key_file])).unwrap();
        assert!(!killed.exists(), "the killed run's plaintext is gone");
        assert_eq!(std::fs::read(decrypted.path()).unwrap(), b"PK plain");
    }

    #[test]
    fn a_fifo_or_a_directory_is_no_age_file_and_is_not_waited_on() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo.zip.age");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        assert!(
            !is_encrypted(&fifo).unwrap(),
            "never opened: no writer would come"
        );
        assert!(!is_encrypted(dir.path()).unwrap());
        assert!(!is_encrypted(&dir.path().join("missing")).unwrap());
    }

    #[test]
    fn a_missing_or_wrong_identity_and_a_modified_ciphertext_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let (_, recipients) = key(dir.path(), "key.txt");
        let (other, _) = key(dir.path(), "other.txt");
        let source = dir.path().join("x.zip.age");
        let ciphertext = encrypt(&vec![1u8; 150_000], &recipients);
        std::fs::write(&source, &ciphertext).unwrap();

        let error = decrypt_to_private_file(&source, "x", &Identities::none()).unwrap_err();
        assert!(matches!(error, CryptError::NoIdentity { .. }), "{error}");
        let error = decrypt_to_private_file(&source, "x", &Identities::new(vec![other.clone()]))
            .unwrap_err();
        assert!(matches!(error, CryptError::WrongIdentity { .. }), "{error}");
        assert!(error.to_string().contains("other.txt"), "{error}");
        assert!(!error.is_damage());
    }

    #[test]
    fn a_modified_or_cut_ciphertext_is_damage_and_leaves_no_plaintext() {
        let dir = tempfile::tempdir().unwrap();
        let (key_file, recipients) = key(dir.path(), "key.txt");
        let identities = Identities::new(vec![key_file]);
        let ciphertext = encrypt(&vec![1u8; 150_000], &recipients);
        let source = dir.path().join("damaged-small.zip.age");

        // A byte in the second payload chunk (after the first was handed on), one in
        // the header's MAC, and the last chunk cut off.
        let mut in_payload = ciphertext.clone();
        in_payload[100_000] ^= 1;
        let header_end = ciphertext.windows(4).position(|w| w == b"--- ").unwrap();
        let mut in_mac = ciphertext.clone();
        in_mac[header_end + 5] ^= 1;
        let cut = ciphertext[..ciphertext.len() - 100].to_vec();
        // Cut after the header, and in the payload's nonce.
        let header_only = ciphertext[..header_length(&ciphertext)].to_vec();
        let half_nonce = ciphertext[..header_length(&ciphertext) + 8].to_vec();
        for (what, bytes) in [
            ("payload", in_payload),
            ("mac", in_mac),
            ("cut", cut),
            ("header only", header_only),
            ("half a nonce", half_nonce),
        ] {
            std::fs::write(&source, bytes).unwrap();
            let error = decrypt_to_private_file(&source, "x", &identities).unwrap_err();
            assert!(error.is_damage(), "{what}: {error}");
            // What to do comes with it, not only age's own words.
            assert!(
                error.to_string().contains("or use another backup"),
                "{error}"
            );
        }
        assert_eq!(
            leftovers("damaged-small.zip"),
            Vec::<PathBuf>::new(),
            "no decrypted temporary is left"
        );
    }

    /// A plaintext whose every 64 KiB chunk differs, so a chunk put in the wrong place
    /// (or twice) is seen.
    fn numbered(length: usize) -> Vec<u8> {
        (0..length)
            .map(|i| i.wrapping_mul(2_654_435_761).to_le_bytes()[3] ^ (i >> 16).to_le_bytes()[0])
            .collect()
    }

    #[test]
    fn a_large_archive_decrypts_on_two_streams_to_exactly_its_plaintext() {
        let dir = tempfile::tempdir().unwrap();
        let (key_file, recipients) = key(dir.path(), "key.txt");
        let identities = Identities::new(vec![key_file]);
        let source = dir.path().join("big.zip.age");
        // Whole chunks, a short last chunk, and an odd number of chunks.
        let least = usize::try_from(PARALLEL_FROM).unwrap();
        for length in [least, least + 12_345, least + 64 * 1024] {
            let plain = numbered(length);
            std::fs::write(&source, encrypt(&plain, &recipients)).unwrap();
            assert!(std::fs::metadata(&source).unwrap().len() >= PARALLEL_FROM);
            let decrypted = decrypt_to_private_file(&source, "big", &identities).unwrap();
            let got = std::fs::read(decrypted.path()).unwrap();
            assert!(got == plain, "{length} bytes came back different");
        }
    }

    #[test]
    fn an_identity_from_a_pipe_is_read_once_for_both_streams() {
        let dir = tempfile::tempdir().unwrap();
        let (key_file, recipients) = key(dir.path(), "key.txt");
        let plain = numbered(usize::try_from(PARALLEL_FROM).unwrap() + 1);
        let source = dir.path().join("piped.zip.age");
        std::fs::write(&source, encrypt(&plain, &recipients)).unwrap();
        // `--identity <(pass show key)`: a pipe that gives the key once.
        let fifo = dir.path().join("identity.fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let key = std::fs::read(&key_file).unwrap();
        let writer_end = fifo.clone();
        std::thread::spawn(move || std::fs::write(writer_end, key).unwrap());
        let (done, result) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let decrypted = decrypt_to_private_file(&source, "piped", &Identities::new(vec![fifo]));
            let _ = done.send(decrypted.map(|d| std::fs::read(d.path()).unwrap()));
        });
        // A second read of the pipe would wait for a writer that never comes.
        let got = result
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("decrypted without reading the identity twice")
            .unwrap();
        assert!(got == plain);
    }

    #[test]
    fn a_large_archive_changed_or_cut_anywhere_is_damage() {
        let dir = tempfile::tempdir().unwrap();
        let (key_file, recipients) = key(dir.path(), "key.txt");
        let identities = Identities::new(vec![key_file]);
        let ciphertext = encrypt(
            &numbered(usize::try_from(PARALLEL_FROM).unwrap() + 40_000),
            &recipients,
        );
        let source = dir.path().join("damaged-big.zip.age");

        let sealed = 64 * 1024 + 16;
        let payload = header_length(&ciphertext) + 16; // the header, then the nonce
        let chunks = (ciphertext.len() - payload).div_ceil(sealed);
        let chunk_start = |i: usize| payload + i * sealed;
        let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
        // A byte changed in the first chunk, the last of the first half, the first of
        // the second half, and the last chunk.
        for i in [0, chunks / 2 - 1, chunks / 2, chunks - 1] {
            let mut changed = ciphertext.clone();
            changed[chunk_start(i) + 7] ^= 0x40;
            cases.push((format!("chunk {i} changed"), changed));
        }
        // Cut at a chunk boundary (the new last chunk was not sealed as the last), in
        // the middle of the file, by one byte; and one chunk dropped from the middle.
        cases.push((
            "last chunk dropped".into(),
            ciphertext[..chunk_start(chunks - 1)].to_vec(),
        ));
        cases.push((
            "cut in the middle".into(),
            ciphertext[..chunk_start(chunks / 2) + 100].to_vec(),
        ));
        cases.push((
            "one byte short".into(),
            ciphertext[..ciphertext.len() - 1].to_vec(),
        ));
        let mut dropped = ciphertext[..chunk_start(3)].to_vec();
        dropped.extend_from_slice(&ciphertext[chunk_start(4)..]);
        cases.push(("chunk 3 dropped".into(), dropped));
        let mut swapped = ciphertext[..chunk_start(3)].to_vec();
        swapped.extend_from_slice(&ciphertext[chunk_start(4)..chunk_start(5)]);
        swapped.extend_from_slice(&ciphertext[chunk_start(3)..chunk_start(4)]);
        swapped.extend_from_slice(&ciphertext[chunk_start(5)..]);
        cases.push(("chunks 3 and 4 swapped".into(), swapped));
        let mut appended = ciphertext.clone();
        appended.extend_from_slice(&ciphertext[chunk_start(1)..chunk_start(2)]);
        cases.push(("a chunk appended".into(), appended));
        for (what, bytes) in cases {
            std::fs::write(&source, bytes).unwrap();
            let error = decrypt_to_private_file(&source, "big", &identities).unwrap_err();
            assert!(error.is_damage(), "{what}: {error}");
        }
        assert_eq!(
            leftovers("damaged-big.zip"),
            Vec::<PathBuf>::new(),
            "no decrypted temporary is left"
        );
    }

    /// An X25519 recipient that also keeps the file key it wraps, so that a test can
    /// seal chunks of that file itself.
    struct Leaky {
        inner: age::x25519::Recipient,
        file_key: std::sync::Mutex<Option<[u8; 16]>>,
    }

    impl age::Recipient for Leaky {
        fn wrap_file_key(
            &self,
            file_key: &age_core::format::FileKey,
        ) -> Result<
            (
                Vec<age_core::format::Stanza>,
                std::collections::HashSet<String>,
            ),
            age::EncryptError,
        > {
            *self.file_key.lock().unwrap() = Some(*file_key.expose_secret());
            self.inner.wrap_file_key(file_key)
        }
    }

    #[test]
    fn a_stream_sealed_as_ended_anywhere_but_at_its_end_is_damage() {
        use chacha20poly1305::aead::{Aead, KeyInit};
        let dir = tempfile::tempdir().unwrap();
        let identity = age::x25519::Identity::generate();
        let key_file = dir.path().join("key.txt");
        std::fs::write(
            &key_file,
            format!("{}\n", identity.to_string().expose_secret()),
        )
        .unwrap();
        let identities = Identities::new(vec![key_file]);
        let leaky = Leaky {
            inner: identity.to_public(),
            file_key: std::sync::Mutex::new(None),
        };
        let plain = numbered(usize::try_from(PARALLEL_FROM).unwrap() + 3 * 65_536 + 99);
        let encryptor =
            age::Encryptor::with_recipients(std::iter::once(&leaky as &dyn age::Recipient))
                .unwrap();
        let mut writer = encryptor.wrap_output(Vec::new()).unwrap();
        writer.write_all(&plain).unwrap();
        let genuine = writer.finish().unwrap();
        let file_key = leaky.file_key.lock().unwrap().unwrap();
        let header = header_length(&genuine);
        let nonce = &genuine[header..header + 16];
        let cipher = chacha20poly1305::ChaCha20Poly1305::new(
            &age_core::primitives::hkdf(nonce, b"payload", &file_key).into(),
        );
        let chunks: Vec<&[u8]> = plain.chunks(65_536).collect();
        // The stream re-sealed with chunk `ended` (and the true last one) flagged last.
        let forged = |ended: usize| {
            let mut bytes = genuine[..header + 16].to_vec();
            for (index, chunk) in chunks.iter().enumerate() {
                let mut chunk_nonce = [0u8; 12];
                chunk_nonce[3..11].copy_from_slice(&(index as u64).to_be_bytes());
                chunk_nonce[11] = u8::from(index == ended || index + 1 == chunks.len());
                bytes.extend(cipher.encrypt(&chunk_nonce.into(), *chunk).unwrap());
            }
            bytes
        };
        let source = dir.path().join("forged.zip.age");
        // Sealing only the true last chunk as the last gives back the genuine file: the
        // forging is right, so each refusal below is the flag's.
        std::fs::write(&source, forged(chunks.len() - 1)).unwrap();
        let decrypted = decrypt_to_private_file(&source, "forged", &identities).unwrap();
        assert!(std::fs::read(decrypted.path()).unwrap() == plain);
        // The second stream starts at chunk `middle`.
        let middle = chunks.len() / 2;
        for ended in [
            0,
            middle - 2,
            middle - 1,
            middle,
            middle + 1,
            chunks.len() - 2,
        ] {
            std::fs::write(&source, forged(ended)).unwrap();
            let error = decrypt_to_private_file(&source, "forged", &identities).unwrap_err();
            assert!(
                error.is_damage(),
                "chunk {ended} sealed as the last: {error}"
            );
        }
    }

    #[test]
    fn a_header_too_long_to_parse_quickly_is_damage() {
        let dir = tempfile::tempdir().unwrap();
        let (key_file, recipients) = key(dir.path(), "key.txt");
        let genuine = encrypt(b"PK plain", &recipients);
        // A stanza of many body lines before the MAC line: age would spend long on it.
        let mac = genuine.windows(4).position(|w| w == b"\n---").unwrap() + 1;
        let mut padded = genuine[..mac].to_vec();
        padded.extend_from_slice(b"-> grease\n");
        for _ in 0..4000 {
            padded.extend_from_slice(&[b'A'; 64]);
            padded.push(b'\n');
        }
        padded.extend_from_slice(b"AA\n");
        padded.extend_from_slice(&genuine[mac..]);
        let source = dir.path().join("padded.zip.age");
        std::fs::write(&source, padded).unwrap();
        let started = std::time::Instant::now();
        let error = decrypt_to_private_file(&source, "padded", &Identities::new(vec![key_file]))
            .unwrap_err();
        assert!(
            error.is_damage() && error.to_string().contains("header"),
            "{error}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    /// The length of an age file's header: up to and including the MAC line.
    fn header_length(ciphertext: &[u8]) -> usize {
        let mac = ciphertext.windows(4).position(|w| w == b"\n---").unwrap() + 1;
        mac + ciphertext[mac..].iter().position(|&b| b == b'\n').unwrap() + 1
    }

    #[test]
    fn a_passphrase_encrypts_and_decrypts_and_a_wrong_or_missing_one_is_said() {
        let dir = tempfile::tempdir().unwrap();
        let passphrase = dir.path().join("passphrase.txt");
        std::fs::write(&passphrase, "correct horse battery staple\n").unwrap();
        let recipients = Recipients::passphrase_file(&passphrase).unwrap();
        assert_eq!(recipients.to_strings(), [crate::PASSPHRASE_RECIPIENT]);
        let source = dir.path().join("x.zip.age");
        std::fs::write(&source, encrypt(b"PK plain", &recipients)).unwrap();
        let with = |file: &Path| Identities::none().with_passphrase_file(Some(file.to_path_buf()));
        let decrypted = decrypt_to_private_file(&source, "x", &with(&passphrase)).unwrap();
        assert_eq!(std::fs::read(decrypted.path()).unwrap(), b"PK plain");

        let wrong = dir.path().join("wrong.txt");
        std::fs::write(&wrong, "Tr0ub4dor&3\n").unwrap();
        let error = decrypt_to_private_file(&source, "x", &with(&wrong)).unwrap_err();
        assert!(
            matches!(error, CryptError::WrongPassphrase { .. }),
            "{error}"
        );
        assert!(!error.is_damage() && !error.to_string().contains("Tr0ub4dor"));
        let (key_file, _) = key(dir.path(), "key.txt");
        let error =
            decrypt_to_private_file(&source, "x", &Identities::new(vec![key_file])).unwrap_err();
        assert!(matches!(error, CryptError::NoPassphrase { .. }), "{error}");
        std::fs::write(&wrong, "\n").unwrap();
        assert!(matches!(
            Recipients::passphrase_file(&wrong),
            Err(CryptError::EmptyPassphrase { .. })
        ));

        // A crafted header asking for an absurd scrypt work factor is refused as damage,
        // whatever the factor (age's own message would overflow from 62 on).
        let text = std::fs::read(&source).unwrap();
        let line_start = text.windows(10).position(|w| w == b"-> scrypt ").unwrap();
        let line_end = line_start + text[line_start..].iter().position(|&b| b == b'\n').unwrap();
        let factor_start = line_start
            + text[line_start..line_end]
                .iter()
                .rposition(|&b| b == b' ')
                .unwrap()
            + 1;
        for factor in ["40", "62", "64", "255"] {
            let mut crafted = text[..factor_start].to_vec();
            crafted.extend_from_slice(factor.as_bytes());
            crafted.extend_from_slice(&text[line_end..]);
            std::fs::write(&source, crafted).unwrap();
            let error = decrypt_to_private_file(&source, "x", &with(&passphrase)).unwrap_err();
            assert!(error.is_damage(), "{factor}: {error}");
        }
    }

    /// The decrypted copies named `name` left in the temporary directory (a name only
    /// one test uses: tests run side by side, each with decrypted directories of its own).
    fn leftovers(name: &str) -> Vec<PathBuf> {
        std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path().join(name))
            .filter(|p| p.to_string_lossy().contains(DECRYPTED_PREFIX) && p.exists())
            .collect()
    }
}
