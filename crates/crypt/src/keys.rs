//! Recipients (public keys) and identities (secret key files).

use std::io::BufReader;
use std::path::{Path, PathBuf};

use age::secrecy::SecretString;
use age::x25519;

use crate::CryptError;

/// Who can decrypt an archive: age X25519 public keys, or whoever knows a passphrase
/// (age's scrypt recipient).
#[derive(Clone)]
pub struct Recipients(Kind);

#[derive(Clone)]
enum Kind {
    Keys(Vec<x25519::Recipient>),
    Passphrase(SecretString),
}

/// What [`Recipients::to_strings`] says of a passphrase (never the passphrase).
pub const PASSPHRASE_RECIPIENT: &str = "passphrase (scrypt)";

impl std::fmt::Debug for Recipients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.to_strings()).finish()
    }
}

/// The passphrase in `path`: its first line, without the line ending.
fn read_passphrase(path: &Path) -> Result<SecretString, CryptError> {
    let text = read_small(path, "read the passphrase file")?;
    let line = text.lines().next().unwrap_or_default();
    if line.is_empty() {
        return Err(CryptError::EmptyPassphrase {
            path: path.to_path_buf(),
        });
    }
    Ok(SecretString::from(line.to_owned()))
}

/// The most a passphrase or recipients file may hold: far more than any real one, so
/// that `/dev/zero` given by mistake is refused instead of read into memory.
const KEY_FILE_LIMIT: u64 = 1024 * 1024;

/// The text of a small key file (at most [`KEY_FILE_LIMIT`] bytes).
fn read_small(path: &Path, action: &'static str) -> Result<String, CryptError> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(|e| CryptError::io(action, path, e))?;
    let mut text = String::new();
    file.take(KEY_FILE_LIMIT + 1)
        .read_to_string(&mut text)
        .map_err(|e| CryptError::io(action, path, e))?;
    if text.len() as u64 > KEY_FILE_LIMIT {
        return Err(CryptError::io(
            action,
            path,
            std::io::Error::other(format!(
                "it holds more than {KEY_FILE_LIMIT} bytes: not a key file"
            )),
        ));
    }
    Ok(text)
}

impl Recipients {
    /// The recipients given one by one (`--encrypt-to`) and in recipients files (one
    /// public key a line; empty lines and `#` comments skipped), as `age -r`/`-R` read
    /// them. At least one is needed.
    pub fn parse(given: &[String], files: &[PathBuf]) -> Result<Self, CryptError> {
        let mut recipients = Vec::new();
        for text in given {
            recipients.push(parse_recipient(text.trim(), "--encrypt-to")?);
        }
        for file in files {
            let text = read_small(file, "read the recipients file")?;
            for (number, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let where_ = format!("{} line {}", file.display(), number + 1);
                recipients.push(parse_recipient(line, &where_)?);
            }
        }
        if recipients.is_empty() {
            return Err(CryptError::NoRecipients);
        }
        Ok(Self(Kind::Keys(recipients)))
    }

    /// A passphrase, the first line of `path` (age's scrypt recipient, as `age -p`).
    pub fn passphrase_file(path: &Path) -> Result<Self, CryptError> {
        Ok(Self(Kind::Passphrase(read_passphrase(path)?)))
    }

    /// The public keys, as `age1…` text, or [`PASSPHRASE_RECIPIENT`] (for records:
    /// nothing secret).
    #[must_use]
    pub fn to_strings(&self) -> Vec<String> {
        match &self.0 {
            Kind::Keys(keys) => keys.iter().map(ToString::to_string).collect(),
            Kind::Passphrase(_) => vec![PASSPHRASE_RECIPIENT.to_owned()],
        }
    }

    /// The age encryptor to these recipients.
    pub(crate) fn encryptor(&self) -> Result<age::Encryptor, age::EncryptError> {
        match &self.0 {
            Kind::Keys(keys) => {
                age::Encryptor::with_recipients(keys.iter().map(|r| r as &dyn age::Recipient))
            }
            Kind::Passphrase(passphrase) => {
                Ok(age::Encryptor::with_user_passphrase(passphrase.clone()))
            }
        }
    }
}

fn parse_recipient(text: &str, where_: &str) -> Result<x25519::Recipient, CryptError> {
    text.parse().map_err(|_| CryptError::BadRecipient {
        where_: where_.to_owned(),
        // Only what looks like a public key is repeated: a secret key (in any case) or
        // a passphrase file given by mistake is not.
        recipient: if text.to_ascii_lowercase().starts_with("age-secret-key-") {
            "AGE-SECRET-KEY-… (a secret key: give its public key, age1…)".to_owned()
        } else if text.to_ascii_lowercase().starts_with("age1") {
            text.to_owned()
        } else {
            "the text there (not shown: it may be a secret)".to_owned()
        },
    })
}

/// The identity files an encrypted archive is decrypted with (`--identity FILE`,
/// repeatable). They are read only when an encrypted archive is met.
#[derive(Debug, Clone, Default)]
pub struct Identities {
    files: Vec<PathBuf>,
    passphrase_file: Option<PathBuf>,
}

impl Identities {
    /// These identity files.
    #[must_use]
    pub fn new(files: Vec<PathBuf>) -> Self {
        Self {
            files,
            passphrase_file: None,
        }
    }

    /// These identities, and the passphrase in `path` (its first line) for an archive
    /// encrypted with a passphrase.
    #[must_use]
    pub fn with_passphrase_file(mut self, path: Option<PathBuf>) -> Self {
        self.passphrase_file = path;
        self
    }

    /// The passphrase file, when one was given.
    pub(crate) fn passphrase_file(&self) -> Option<&Path> {
        self.passphrase_file.as_deref()
    }

    /// The passphrase, read from its file.
    pub(crate) fn passphrase(path: &Path) -> Result<SecretString, CryptError> {
        read_passphrase(path)
    }

    /// No identity at all: an encrypted archive is refused with a clear message.
    #[must_use]
    pub fn none() -> Self {
        Self::default()
    }

    /// Whether no identity file was given.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The files, comma-separated, as messages name them.
    pub(crate) fn describe(&self) -> String {
        self.files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Reads every identity file.
    pub(crate) fn load(&self) -> Result<Vec<Box<dyn age::Identity + Send + Sync>>, CryptError> {
        let mut identities = Vec::new();
        for file in &self.files {
            identities.extend(load_file(file)?);
        }
        Ok(identities)
    }
}

fn load_file(path: &Path) -> Result<Vec<Box<dyn age::Identity + Send + Sync>>, CryptError> {
    let file =
        std::fs::File::open(path).map_err(|e| CryptError::io("read the identity file", path, e))?;
    let bad = |reason: String| CryptError::BadIdentityFile {
        path: path.to_path_buf(),
        reason,
    };
    // age names the line, never quotes it.
    let parsed = age::IdentityFile::from_buffer(BufReader::new(file)).map_err(|e| {
        if e.kind() == std::io::ErrorKind::InvalidData {
            bad(e.to_string())
        } else {
            CryptError::io("read the identity file", path, e)
        }
    })?;
    let identities = parsed.into_identities().map_err(|e| bad(e.to_string()))?;
    if identities.is_empty() {
        return Err(bad("it holds no identity".to_owned()));
    }
    Ok(identities)
}

#[cfg(test)]
mod tests {
    use age::secrecy::ExposeSecret;

    use super::*;

    const PUBLIC: &str = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";

    #[test]
    fn recipients_come_from_arguments_and_files_and_bad_ones_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("recipients.txt");
        std::fs::write(&file, format!("# ops\n\n{PUBLIC}\n")).unwrap();
        let both = Recipients::parse(&[PUBLIC.to_owned()], std::slice::from_ref(&file)).unwrap();
        assert_eq!(both.to_strings(), [PUBLIC, PUBLIC]);

        // A line that is no public key is named by its place, never quoted (a
        // passphrase file given by mistake); a malformed public key is quoted.
        std::fs::write(&file, format!("{PUBLIC}\ncorrect horse battery\n")).unwrap();
        let error = Recipients::parse(&[], std::slice::from_ref(&file))
            .unwrap_err()
            .to_string();
        assert!(error.contains("recipients.txt line 2"), "{error}");
        assert!(!error.contains("horse"), "{error}");
        let error = Recipients::parse(&["age1nope".to_owned()], &[])
            .unwrap_err()
            .to_string();
        assert!(error.contains("\"age1nope\""), "{error}");
        // A lowercase secret key is still a secret key.
        let lower = x25519::Identity::generate()
            .to_string()
            .expose_secret()
            .to_ascii_lowercase();
        let error = Recipients::parse(std::slice::from_ref(&lower), &[])
            .unwrap_err()
            .to_string();
        assert!(!error.contains(&lower[15..]), "{error}");
        // A file far larger than any key file is refused, not read whole.
        let huge = dir.path().join("huge.txt");
        std::fs::write(&huge, vec![b'a'; 2 * 1024 * 1024]).unwrap();
        let error = Recipients::parse(&[], std::slice::from_ref(&huge)).unwrap_err();
        let error = sitepack_format::error_chain(&error);
        assert!(error.contains("not a key file"), "{error}");
        let error = Recipients::passphrase_file(&huge).unwrap_err();
        let error = sitepack_format::error_chain(&error);
        assert!(error.contains("not a key file"), "{error}");

        let secret = x25519::Identity::generate();
        let secret_text = secret.to_string().expose_secret().to_owned();
        let error = Recipients::parse(std::slice::from_ref(&secret_text), &[])
            .unwrap_err()
            .to_string();
        assert!(!error.contains(&secret_text), "{error}");
        assert!(error.contains("--encrypt-to"), "{error}");

        assert!(matches!(
            Recipients::parse(&[], &[]),
            Err(CryptError::NoRecipients)
        ));
    }

    #[test]
    fn a_bad_identity_file_is_named_and_never_quoted() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key.txt");
        std::fs::write(&file, "AGE-SECRET-KEY-1NOTAKEYATALL\n").unwrap();
        let error = Identities::new(vec![file.clone()])
            .load()
            .err()
            .unwrap()
            .to_string();
        assert!(
            error.contains("key.txt") && error.contains("line 1"),
            "{error}"
        );
        assert!(!error.contains("NOTAKEY"), "{error}");

        std::fs::write(&file, "# nothing\n").unwrap();
        let error = Identities::new(vec![file])
            .load()
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("holds no identity"), "{error}");
    }
}
