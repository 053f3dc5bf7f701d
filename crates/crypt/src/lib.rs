//! Encryption at rest for sitepack archives, with [age](https://age-encryption.org/v1)
//! (X25519 recipients, or a passphrase through age's scrypt recipient), interoperable
//! with the `age` command both ways.
//!
//! - [`Recipients`]: who an archive is encrypted to (`age1…` public keys, given one by
//!   one or in a recipients file; or a passphrase file).
//! - [`Identities`]: the identity files (`AGE-SECRET-KEY-1…`) and the passphrase file an
//!   archive is decrypted with, read only when an encrypted archive is met.
//! - [`EncryptingWriter`]: an archive written through encryption, with the size and
//!   SHA-256 of the ciphertext; [`EncryptedFile`] writes one into a file beside its
//!   destination and renames it into place when complete.
//! - [`is_encrypted`] and [`decrypt_to_private_file`]: an encrypted archive decrypted
//!   into a private temporary file (mode 0600, in a 0700 directory), removed when the
//!   [`Decrypted`] is dropped, and by an interrupt (`sitepack_format::interrupt`).
//!   A modified ciphertext fails age's authentication: nothing is handed on.
//!
//! Key material never appears in an error: identity files are named, never quoted.
//!
//! ```
//! use std::io::Write;
//! use sitepack_crypt::{EncryptingWriter, Recipients};
//!
//! let recipients = Recipients::parse(
//!     &["age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p".to_owned()],
//!     &[],
//! )?;
//! let mut writer = EncryptingWriter::new(Vec::new(), &recipients)?;
//! writer.write_all(b"PK\x05\x06")?;
//! let (ciphertext, written) = writer.finish()?;
//! assert!(sitepack_crypt::is_age(&ciphertext));
//! assert_eq!(written.size, ciphertext.len() as u64);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod decrypt;
mod encrypt;
mod error;
mod keys;

pub use decrypt::{Decrypted, decrypt_to_private_file, is_age, is_encrypted};
pub use encrypt::{EncryptedFile, EncryptingWriter, Existing, Written};
pub use error::CryptError;
pub use keys::{Identities, PASSPHRASE_RECIPIENT, Recipients};

/// The file name ending of an encrypted archive (`OUT.zip.age`).
pub const AGE_SUFFIX: &str = ".age";
