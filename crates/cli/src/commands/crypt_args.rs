//! The encryption options: `--encrypt-to`/`--recipients-file` of the commands that write
//! archives, `--identity` of those that read them.

use std::path::PathBuf;

use anyhow::Result;
use sitepack_crypt::{Identities, Recipients};

/// Who an archive is encrypted to (`create`).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct EncryptArgs {
    /// Encrypt the archive with age to this recipient (an X25519 public key, age1…, as
    /// `age-keygen -y` prints it); repeatable. `-o` must then end in `.age`.
    #[arg(long, value_name = "RECIPIENT")]
    pub(crate) encrypt_to: Vec<String>,
    /// Encrypt to every recipient in this file (one public key a line, `#` comments), as
    /// `age -R` reads it; repeatable.
    #[arg(long, value_name = "FILE")]
    pub(crate) recipients_file: Vec<PathBuf>,
    /// Encrypt with the passphrase on the first line of this file instead (age's scrypt
    /// mode, as `age -p`); reading then takes --passphrase-file.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["encrypt_to", "recipients_file"])]
    pub(crate) passphrase_file: Option<PathBuf>,
}

impl EncryptArgs {
    /// The recipients, when encryption was asked for.
    pub(crate) fn recipients(&self) -> Result<Option<Recipients>> {
        if let Some(file) = &self.passphrase_file {
            return Ok(Some(Recipients::passphrase_file(file)?));
        }
        if self.encrypt_to.is_empty() && self.recipients_file.is_empty() {
            return Ok(None);
        }
        Ok(Some(Recipients::parse(
            &self.encrypt_to,
            &self.recipients_file,
        )?))
    }
}

/// The identities an encrypted archive is read with.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct IdentityArgs {
    /// An age identity file (AGE-SECRET-KEY-1… lines, as `age-keygen` writes it) to
    /// decrypt an encrypted archive with; repeatable. The archive is decrypted into a
    /// private temporary file (0600), removed afterwards.
    #[arg(
        long = "identity",
        value_name = "FILE",
        env = "SITEPACK_IDENTITY_FILE",
        hide_env_values = true
    )]
    identity: Vec<PathBuf>,
    /// The passphrase (the first line of this file) of an archive encrypted with one.
    #[arg(
        long,
        value_name = "FILE",
        env = "SITEPACK_PASSPHRASE_FILE",
        hide_env_values = true
    )]
    passphrase_file: Option<PathBuf>,
}

impl IdentityArgs {
    pub(crate) fn identities(&self) -> Identities {
        Identities::new(self.identity.clone()).with_passphrase_file(self.passphrase_file.clone())
    }
}
