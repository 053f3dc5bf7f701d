//! The crate's one error type.

use std::path::PathBuf;

/// What can go wrong encrypting or decrypting an archive. No variant ever holds key
/// material: identity files are named, never quoted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptError {
    /// A recipient is not an age X25519 public key.
    #[error(
        "{where_}: {recipient:?} is not an age recipient (an X25519 public key, age1…, as `age-keygen -y KEY-FILE` prints it)"
    )]
    BadRecipient {
        /// Where it was given (`--encrypt-to`, or a recipients file and line).
        where_: String,
        /// The recipient as written (a public key: nothing secret).
        recipient: String,
    },
    /// Encryption was asked for without any recipient.
    #[error(
        "no recipient to encrypt to: give --encrypt-to age1… or a --recipients-file with one public key a line"
    )]
    NoRecipients,
    /// An identity file is no age identity file; only its line number is said.
    #[error(
        "{path}: not an age identity file (one AGE-SECRET-KEY-1… a line, as `age-keygen` writes them): {reason}"
    )]
    BadIdentityFile {
        /// The identity file.
        path: PathBuf,
        /// What is wrong (a line number, never the line).
        reason: String,
    },
    /// A passphrase file whose first line is empty.
    #[error("{path}: its first line (the passphrase) is empty")]
    EmptyPassphrase {
        /// The passphrase file.
        path: PathBuf,
    },
    /// An archive encrypted with a passphrase was met and no passphrase file was given.
    #[error(
        "{archive} is encrypted with a passphrase (age): give --passphrase-file FILE (or SITEPACK_PASSPHRASE_FILE)"
    )]
    NoPassphrase {
        /// The archive, as the user named it.
        archive: String,
    },
    /// The passphrase does not decrypt the archive.
    #[error(
        "{archive}: the passphrase in {file} does not decrypt it (a wrong passphrase, or a damaged header)"
    )]
    WrongPassphrase {
        /// The archive, as the user named it.
        archive: String,
        /// The passphrase file.
        file: PathBuf,
    },
    /// An encrypted archive was met and no identity file was given.
    #[error(
        "{archive} is encrypted (age): give --identity FILE (or SITEPACK_IDENTITY_FILE) with a key it is encrypted to"
    )]
    NoIdentity {
        /// The archive, as the user named it.
        archive: String,
    },
    /// None of the identities given can decrypt the archive.
    #[error(
        "{archive} is encrypted to other recipients: none of the identities in {files} can decrypt it (give --identity with the right key file)"
    )]
    WrongIdentity {
        /// The archive, as the user named it.
        archive: String,
        /// The identity files tried, comma-separated.
        files: String,
    },
    /// The ciphertext is damaged or was modified: age's authentication failed. Nothing
    /// decrypted from it is used.
    #[error(
        "{archive}: the encrypted archive is damaged or was modified (age: {reason}); nothing decrypted from it is used: copy it again from where it is kept, or use another backup"
    )]
    Damaged {
        /// The archive, as the user named it.
        archive: String,
        /// What age said.
        reason: String,
    },
    /// Encryption failed.
    #[error("cannot encrypt {path}: {reason}")]
    Encrypt {
        /// The output.
        path: PathBuf,
        /// What age said.
        reason: String,
    },
    /// The output exists and may not be replaced.
    #[error("{path} exists: give --force to replace it")]
    Exists {
        /// The output.
        path: PathBuf,
    },
    /// The output is inside the site being backed up.
    #[error(
        "{path} is inside the site being backed up ({dir}): its next backup would hold this one; write it elsewhere"
    )]
    OutputInside {
        /// The output.
        path: PathBuf,
        /// The site's directory it is in.
        dir: PathBuf,
    },
    /// A file operation failed.
    #[error("cannot {action} {path}")]
    Io {
        /// What was being done ("read", "create", …).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl CryptError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }

    /// Whether this is a verdict on the archive (its ciphertext is damaged or was
    /// modified) rather than an error of the reader (a missing or wrong key, I/O).
    #[must_use]
    pub fn is_damage(&self) -> bool {
        matches!(self, Self::Damaged { .. })
    }
}
