//! The writer's one error type. Every variant names the file and says what to do;
//! none carries a secret value.

use std::io;
use std::path::PathBuf;

use sitepack_format::{ContentProblem, FormatError, mask_credentials};

/// Why a site could not be backed up, or an archive not written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriterError {
    /// The site directory does not exist or is not a directory.
    #[error("{}: not a site directory (it must exist and contain site.json)", path.display())]
    NotASite {
        /// The directory given.
        path: PathBuf,
    },
    /// `site.json` is missing.
    #[error("{}: missing; a site directory needs a site.json with id, name and url", path.display())]
    MissingSiteJson {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// `site.json` breaks `schema/site.schema.json`, or its secret additions are malformed.
    #[error("{}: fix this file", path.display())]
    InvalidSiteJson {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: FormatError,
    },
    /// A JSON file that breaks the content rules (docs/FORMAT.md §8): not JSON, a
    /// duplicate key, a document of the wrong shape, a record without a unique id.
    #[error("{}{}: {problem}{}", path.display(), place(problem), advice(problem))]
    InvalidContent {
        /// The file.
        path: PathBuf,
        /// Which rule it breaks, and where.
        problem: ContentProblem,
    },
    /// A credential shape that is itself a secret (a PEM private key, a live Stripe key,
    /// …) where the secret policy does not remove it.
    /// The path and place are printed with every credential in them masked
    /// (a JSON member's name can be one: `{"sk_live_…": 1}`).
    #[error(
        "{}: holds {shape}; a credential must never travel in a backup: remove it from the site and rotate it, or, if it is a published example or test value, list it (or the file) in site.json secrets.allow (docs/FORMAT.md §11.4)",
        mask_credentials(&format!("{}{place}", path.display()))
    )]
    CredentialShape {
        /// The file.
        path: PathBuf,
        /// Where in it: `:LINE`, `#/json/pointer` or `:LINE#/json/pointer`.
        place: String,
        /// What it is (`a PEM private key`), never the match.
        shape: &'static str,
    },
    /// The site's secret policy would remove what identifies a record.
    #[error(
        "{}:{line}: the secret policy of site.json removes the record's \"{key}\", which a record must keep; take that key or pointer out of site.json \"secrets\"",
        path.display()
    )]
    PolicyRemovesIdentity {
        /// The collection.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// `id` or the owner field.
        key: String,
    },
    /// A symbolic link inside the site: never followed.
    #[error(
        "{}: is a symbolic link; sitepack never follows links inside a site: replace it with the file it points to, or move it out of the site",
        path.display()
    )]
    Symlink {
        /// The link.
        path: PathBuf,
    },
    /// A FIFO, socket or device inside the site.
    #[error("{}: is not a regular file or directory; move it out of the site", path.display())]
    NotRegularFile {
        /// The offending path.
        path: PathBuf,
    },
    /// A file name that is not UTF-8.
    #[error("{}: the name is not valid UTF-8; rename it", path.display())]
    NonUtf8Name {
        /// The offending path (lossily shown).
        path: PathBuf,
    },
    /// A file name that could not safely be extracted elsewhere.
    #[error("{}: cannot be archived", path.display())]
    UnsafeName {
        /// The offending path.
        path: PathBuf,
        /// Which rule it breaks.
        #[source]
        source: FormatError,
    },
    /// Two names that are the same file on a case-insensitive or normalizing file system.
    #[error("{first} and {second} collide on case-insensitive file systems; rename one of them")]
    NameCollision {
        /// The first name (site-relative).
        first: String,
        /// The second name.
        second: String,
    },
    /// The tab, module or user a scope names does not exist.
    #[error("there is no {kind} `{name}` in this site; {}", available_list(.kind, .available))]
    UnknownScopeTarget {
        /// `tab`, `module` or `user`.
        kind: &'static str,
        /// The name asked for.
        name: String,
        /// The names that exist.
        available: Vec<String>,
    },
    /// A file's name (or a directory's on its path) holds a secret credential shape.
    #[error(
        "{}: the name of a file in this directory holds {shape} (the file {}); a credential must never travel in a backup, not even in a file name: rename the file and rotate the credential, or, if it is a published example or test value, list it (or the file) in site.json secrets.allow (docs/FORMAT.md §11.4)",
        mask_credentials(&dir.display().to_string()),
        mask_credentials(path)
    )]
    CredentialInName {
        /// The directory that holds the file.
        dir: PathBuf,
        /// The file's site-relative path (printed masked).
        path: String,
        /// What it is (`a Stripe live secret key`), never the match.
        shape: &'static str,
    },
    /// The label holds a secret credential shape or a URL with a password.
    #[error(
        "the label holds {what}; a label travels in the archive's manifest and a secret must never travel: choose another label"
    )]
    CredentialInLabel {
        /// What it holds (`a Stripe live secret key`, `a URL with a password`), never
        /// the match.
        what: &'static str,
    },
    /// The label contains one of the site's secret values.
    #[error(
        "the label contains a secret value (from {}); choose another label",
        mask_credentials(path)
    )]
    SecretInLabel {
        /// Where the secret was found (site-relative path and pointer).
        path: String,
    },
    /// A file changed while it was being archived.
    #[error("{}: changed while it was being archived; run the backup again when the site is quiet", path.display())]
    FileChanged {
        /// The file.
        path: PathBuf,
    },
    /// The output file exists.
    #[error("{}: already exists; choose another name or pass --force to replace it", path.display())]
    OutputExists {
        /// The output path.
        path: PathBuf,
    },
    /// The output would be written into the site it archives.
    #[error(
        "{}: is inside the site being archived ({}); write the archive outside the site",
        path.display(),
        site.display()
    )]
    OutputInsideSite {
        /// The output path.
        path: PathBuf,
        /// The site directory.
        site: PathBuf,
    },
    /// The archive would exceed a limit that readers enforce by default (docs/FORMAT.md
    /// §13.4): it could not be validated or restored without raising the limit.
    #[error(
        "{}: the archive would hold {actual} {what}, over the {limit} that readers accept by default (docs/FORMAT.md §13.4); back the site up in parts (--scope, --no-files)",
        site.display()
    )]
    OverLimit {
        /// The site directory.
        site: PathBuf,
        /// `entries` or `decompressed bytes`.
        what: &'static str,
        /// The limit.
        limit: u64,
        /// What the archive would hold.
        actual: u64,
    },
    /// Several problems of the site, each naming its file: all that one run found, so
    /// that they can be fixed together.
    #[error(
        "the site cannot be backed up as it is: {} problems (fix them all, then back up again):{}",
        problems.len(),
        problem_list(problems)
    )]
    SiteProblems {
        /// The problems, in path order.
        problems: Vec<WriterError>,
    },
    /// A read or write failed.
    #[error("{}: cannot {action}", path.display())]
    Io {
        /// What was being done (`read`, `write`, `create`, …).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

fn problem_list(problems: &[WriterError]) -> String {
    problems.iter().fold(String::new(), |mut list, problem| {
        list.push_str("\n  - ");
        list.push_str(&sitepack_format::error_chain(problem));
        list
    })
}

/// Where in a file a content problem is: `:LINE:COLUMN`, `:LINE` or nothing.
fn place(problem: &ContentProblem) -> String {
    match (problem.line(), problem.column()) {
        (Some(line), Some(column)) => format!(":{line}:{column}"),
        (Some(line), None) => format!(":{line}"),
        (None, _) => String::new(),
    }
}

/// What to do about a file that is not JSON (the other problems say it themselves).
fn advice(problem: &ContentProblem) -> &'static str {
    match problem {
        ContentProblem::InvalidJson { .. } => "; fix or remove the file",
        _ => "",
    }
}

fn available_list(kind: &str, available: &[String]) -> String {
    if available.is_empty() {
        format!("it has no {kind}s")
    } else {
        format!("{kind}s that exist: {}", available.join(", "))
    }
}

impl WriterError {
    /// Whether this is a problem of one site file (its content, name or kind) that does
    /// not stop the run from looking at the other files: such problems are collected
    /// and reported together ([`WriterError::SiteProblems`]).
    #[must_use]
    pub fn is_site_problem(&self) -> bool {
        matches!(
            self,
            Self::InvalidContent { .. }
                | Self::CredentialShape { .. }
                | Self::CredentialInName { .. }
                | Self::PolicyRemovesIdentity { .. }
                | Self::Symlink { .. }
                | Self::NotRegularFile { .. }
                | Self::NonUtf8Name { .. }
                | Self::UnsafeName { .. }
                | Self::NameCollision { .. }
        )
    }

    /// One error for the problems found: the problem itself when there is one.
    pub(crate) fn from_problems(mut problems: Vec<Self>) -> Option<Self> {
        match problems.len() {
            0 => None,
            1 => problems.pop(),
            _ => Some(Self::SiteProblems { problems }),
        }
    }

    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
