//! What can go wrong reading a database site. Every message names the descriptor, table,
//! column or row concerned and says what to do; none repeats a password.

use std::path::PathBuf;

/// An error of a database site.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
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
        /// The row's key (`id=7`, or its position when the table has no key).
        row: String,
        /// The column.
        column: String,
        /// What is wrong and what to do.
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
    /// An I/O error on `path`.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
