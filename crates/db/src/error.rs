//! What can go wrong reading a database site. Every message names the descriptor, table,
//! column or row concerned and says what to do; none repeats a password.

use std::path::PathBuf;

/// An error of a database site.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// A SITE argument that names neither a site directory nor a descriptor.
    #[error("{}: {problem}", path.display())]
    NotASite {
        /// The path given.
        path: PathBuf,
        /// What it is not, and what to give.
        problem: String,
    },
    /// The database could not be reached or refused the connection.
    #[error("cannot connect to {url}: {reason}")]
    Connect {
        /// The database URL, password masked.
        url: String,
        /// The engine's reason, with what to do.
        reason: String,
    },
    /// A statement failed.
    #[error("{what}: {reason}")]
    Query {
        /// What was being done (e.g. `reading table "vehicles"`).
        what: String,
        /// The engine's message.
        reason: String,
    },
    /// A column type sitepack does not know, in a table that would travel.
    #[error(
        "table \"{table}\", column \"{column}\": type {declared} is not supported (format 1.1 writes integer, numeric, float, boolean, text, bytes, date, time, timestamp, timestamptz, json, uuid and arrays of them); exclude the table in the descriptor or change the column's type"
    )]
    UnsupportedType {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// Its declared type.
        declared: String,
    },
    /// A value that cannot be written faithfully.
    #[error("table \"{table}\", row {row}, column \"{column}\": {problem}")]
    BadValue {
        /// The table.
        table: String,
        /// The row's key (`id=7`; a table without a primary key is keyed by all its
        /// columns).
        row: String,
        /// The column.
        column: String,
        /// What is wrong and what to do.
        problem: String,
    },
    /// The site descriptor is not one sitepack can use.
    #[error("site descriptor {}: {problem}", path.display())]
    Descriptor {
        /// The descriptor file.
        path: PathBuf,
        /// What is wrong (with the line and column when the TOML parser gives them) and
        /// what to do.
        problem: String,
    },
    /// The database's schema and the descriptor do not make a tenant plan (a table the
    /// descriptor names is missing, a foreign-key cycle, a table name that cannot be a
    /// file name, a scope that names nothing).
    #[error("{problem}")]
    Plan {
        /// What is wrong, naming the tables concerned, and what to do.
        problem: String,
    },
    /// A path of the site that must stay apart does not: an archive written over the
    /// database or the descriptor, into the state directory, or the uploads directory
    /// holding the database or the state.
    #[error("{}: {problem}", path.display())]
    Overlap {
        /// The path concerned.
        path: PathBuf,
        /// What overlaps what, and what to do.
        problem: String,
    },
    /// A row the archive's reader would refuse (format 1.1's row rules): the backup
    /// stops before anything is archived.
    #[error("{problem}")]
    Unarchivable {
        /// The table, row and column, what is wrong and what to do.
        problem: String,
    },
    /// A table's entry could not be written (its temporary file).
    #[error(transparent)]
    Archive(#[from] Box<sitepack_writer::WriterError>),
    /// A row of the tenant references a row that belongs to another tenant (the other
    /// tenant's value is never repeated).
    #[error(
        "table \"{table}\", row {row}, column {}: references a row of \"{parent}\" that belongs to another tenant; nothing was written: fix the row, or exclude the table in the descriptor",
        columns.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ")
    )]
    TenantLeak {
        /// The referencing table.
        table: String,
        /// The referencing row's key (`id=7`).
        row: String,
        /// The foreign key's columns.
        columns: Vec<String>,
        /// The referenced table.
        parent: String,
    },
    /// The tenant has no row at all: most likely a wrong `tenant` or `tenant_column`.
    #[error(
        "tenant {tenant} has no rows in {database}: check tenant and tenant_column in the site descriptor"
    )]
    UnknownTenant {
        /// The tenant value as the descriptor gives it.
        tenant: String,
        /// The database (password masked).
        database: String,
    },
    /// The archive being restored could not be read.
    #[error(transparent)]
    ArchiveRead(Box<sitepack_reader::ReaderError>),
    /// A restore's checks refused it before anything was changed: every reason at once.
    #[error(
        "the restore is refused, nothing was changed:{}",
        reasons.iter().fold(String::new(), |all, r| all + "\n  - " + r)
    )]
    RestoreRefused {
        /// Each reason, naming the table, column or row and what to do.
        reasons: Vec<String>,
    },
    /// A row of the archive could not be written: the transaction was rolled back, the
    /// database is as it was.
    #[error("table \"{table}\", row {row}: {problem}; nothing was restored (rolled back)")]
    RestoreRow {
        /// The table.
        table: String,
        /// The row's key in the archive (`id=7`), or its line.
        row: String,
        /// What the database (or sitepack) said, naming the column or constraint.
        problem: String,
    },
    /// A restore or revert committed its rows, but its uploaded files could not all be
    /// written: their journal stays, for the next command to finish them.
    #[error("{problem}")]
    FilesUnfinished {
        /// What was done, what failed, and what to do.
        problem: String,
    },
    /// A restore under review: one is pending, none is, its snapshot is missing.
    #[error("{problem}")]
    Review {
        /// What, and what to do.
        problem: String,
    },
    /// A file could not be read or written.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl DbError {
    /// Whether this is a restore's answer rather than a failure: the restore (or keep,
    /// revert) was refused for a reason it names, and nothing was changed. The CLI
    /// exits 1 for these, 2 for any other error; the audit log says `refused`.
    #[must_use]
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Self::RestoreRefused { .. }
                | Self::RestoreRow { .. }
                | Self::Review { .. }
                | Self::UnknownTenant { .. }
                | Self::Plan { .. }
        )
    }

    /// An I/O error on `path`.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

impl From<sitepack_reader::ReaderError> for DbError {
    fn from(error: sitepack_reader::ReaderError) -> Self {
        Self::ArchiveRead(Box::new(error))
    }
}

impl From<sitepack_writer::WriterError> for DbError {
    fn from(error: sitepack_writer::WriterError) -> Self {
        Self::Archive(Box::new(error))
    }
}
