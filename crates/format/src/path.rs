//! `ArchivePath`: the one kind of path that may name an archive entry or a site file.

use std::fmt;
use std::str::FromStr;

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::is_nfc;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use crate::FormatError;

/// Longest accepted path, in UTF-8 bytes.
pub const MAX_PATH_BYTES: usize = 1024;
/// Longest accepted path component, in UTF-8 bytes.
pub const MAX_COMPONENT_BYTES: usize = 255;

/// Why a string is not an [`ArchivePath`]. Each dangerous shape has its own kind;
/// none of them is ever repaired.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PathRejection {
    /// The whole name is empty.
    Empty,
    /// Two slashes in a row or a trailing slash.
    EmptyComponent,
    /// A `.` or `..` component.
    DotComponent,
    /// Starts with `/` or `\`.
    Absolute,
    /// Contains a backslash (a separator on Windows).
    Backslash,
    /// Contains `:` (a drive prefix such as `C:` or an NTFS stream).
    Colon,
    /// Contains a control, format, private-use, unassigned or line-separator character.
    ControlCharacter {
        /// The offending character.
        ch: char,
    },
    /// The text is not in Unicode Normalization Form C.
    NotNfc,
    /// A Windows reserved device name, with or without an extension.
    ReservedName {
        /// The offending component.
        component: String,
    },
    /// A component ending in `.` or a space (Windows silently drops them).
    TrailingDotOrSpace {
        /// The offending component.
        component: String,
    },
    /// A component longer than [`MAX_COMPONENT_BYTES`].
    ComponentTooLong {
        /// Its length in bytes.
        bytes: usize,
    },
    /// The path is longer than [`MAX_PATH_BYTES`].
    TooLong {
        /// Its length in bytes.
        bytes: usize,
    },
}

impl fmt::Display for PathRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("the name is empty"),
            Self::EmptyComponent => {
                f.write_str("it has an empty component (`//` or a trailing `/`)")
            }
            Self::DotComponent => f.write_str("it has a `.` or `..` component"),
            Self::Absolute => f.write_str("it is absolute (starts with `/` or `\\`)"),
            Self::Backslash => f.write_str("it contains a backslash"),
            Self::Colon => f.write_str("it contains `:` (a drive or stream prefix)"),
            Self::ControlCharacter { ch } => {
                write!(
                    f,
                    "it contains the control or format character U+{:04X}",
                    u32::from(*ch)
                )
            }
            Self::NotNfc => f.write_str("it is not in Unicode NFC form"),
            Self::ReservedName { component } => {
                write!(f, "`{component}` is a reserved device name on Windows")
            }
            Self::TrailingDotOrSpace { component } => {
                write!(f, "`{component}` ends in a dot or a space")
            }
            Self::ComponentTooLong { bytes } => write!(
                f,
                "a component is {bytes} bytes long (at most {MAX_COMPONENT_BYTES})"
            ),
            Self::TooLong { bytes } => {
                write!(f, "it is {bytes} bytes long (at most {MAX_PATH_BYTES})")
            }
        }
    }
}

/// A validated, relative, `/`-separated path that cannot escape the directory it is
/// joined onto, on Unix or Windows. Built only through [`FromStr`] / [`TryFrom`].
///
/// ```
/// use sitepack_format::ArchivePath;
/// let p: ArchivePath = "files/docs/Überweisung – März.pdf".parse()?;
/// assert_eq!(p.file_name(), "Überweisung – März.pdf");
/// assert!("files/../etc/passwd".parse::<ArchivePath>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct ArchivePath(String);

impl ArchivePath {
    /// The path as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The `/`-separated components.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// The last component.
    #[must_use]
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// The key under which two names collide on a case-insensitive or
    /// normalizing file system (`Readme.txt` and `README.TXT` share a key).
    #[must_use]
    pub fn collision_key(&self) -> String {
        if self.0.is_ascii() {
            // Full case folding of ASCII is lowercasing; NFD and NFC leave it alone.
            return self.0.to_ascii_lowercase();
        }
        let folded = caseless::default_case_fold_str(&self.0.nfd().collect::<String>());
        folded.nfc().collect()
    }

    /// Every leading part of this path, shortest first, ending with the path itself:
    /// `a`, `a/b`, `a/b/c` for `a/b/c`. Each is itself a valid path.
    pub fn prefixes(&self) -> impl Iterator<Item = ArchivePath> + '_ {
        self.0
            .match_indices('/')
            .map(|(at, _)| at)
            .chain(std::iter::once(self.0.len()))
            .map(|end| ArchivePath(self.0[..end].to_owned()))
    }

    /// This path with `prefix/` removed, when it lies below `prefix`.
    #[must_use]
    pub fn strip_prefix(&self, prefix: &str) -> Option<ArchivePath> {
        let rest = self.0.strip_prefix(prefix)?.strip_prefix('/')?;
        // Any suffix of a valid path at a component boundary is itself valid.
        Some(ArchivePath(rest.to_owned()))
    }

    /// `prefix/self`; fails only when the result is too long or `prefix` is invalid.
    pub fn with_prefix(&self, prefix: &str) -> Result<ArchivePath, FormatError> {
        format!("{prefix}/{}", self.0).parse()
    }

    /// The same path as a native relative path, for joining onto a root directory.
    #[must_use]
    pub fn to_native(&self) -> std::path::PathBuf {
        self.components().collect()
    }
}

impl fmt::Display for ArchivePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ArchivePath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<ArchivePath> for String {
    fn from(path: ArchivePath) -> Self {
        path.0
    }
}

impl FromStr for ArchivePath {
    type Err = FormatError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        check(s).map_err(|reason| FormatError::InvalidPath {
            path: s.escape_debug().to_string(),
            reason,
        })?;
        Ok(Self(s.to_owned()))
    }
}

impl TryFrom<String> for ArchivePath {
    type Error = FormatError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl TryFrom<&str> for ArchivePath {
    type Error = FormatError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl schemars::JsonSchema for ArchivePath {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ArchivePath".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A relative `/`-separated path in NFC; no empty, `.` or `..` components, no `\\`, `:` or control characters, no Windows reserved names, no component ending in a dot or space (docs/FORMAT.md, Paths).",
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_PATH_BYTES,
            // Each component ends in a character that is not `.` or a space, which also
            // rules out `.` and `..`; the Rust check is stricter (NFC, reserved names).
            "pattern": "^[^/\\\\:\\u0000-\\u001f\\u007f-\\u009f]*[^/\\\\:\\u0000-\\u001f\\u007f-\\u009f. ](/[^/\\\\:\\u0000-\\u001f\\u007f-\\u009f]*[^/\\\\:\\u0000-\\u001f\\u007f-\\u009f. ])*$"
        })
    }
}

fn check(s: &str) -> Result<(), PathRejection> {
    if s.is_empty() {
        return Err(PathRejection::Empty);
    }
    if s.len() > MAX_PATH_BYTES {
        return Err(PathRejection::TooLong { bytes: s.len() });
    }
    if s.starts_with('/') || s.starts_with('\\') {
        return Err(PathRejection::Absolute);
    }
    if s.contains('\\') {
        return Err(PathRejection::Backslash);
    }
    if s.contains(':') {
        return Err(PathRejection::Colon);
    }
    if s.is_ascii() {
        // ASCII text is NFC, and its only category C characters are the C0 controls
        // and DEL: the common case, checked without Unicode tables.
        if let Some(&b) = s.as_bytes().iter().find(|b| b.is_ascii_control()) {
            return Err(PathRejection::ControlCharacter { ch: char::from(b) });
        }
    } else {
        if let Some(ch) = s.chars().find(|&ch| is_control_like(ch)) {
            return Err(PathRejection::ControlCharacter { ch });
        }
        if !is_nfc(s) {
            return Err(PathRejection::NotNfc);
        }
    }
    for component in s.split('/') {
        check_component(component)?;
    }
    Ok(())
}

fn check_component(component: &str) -> Result<(), PathRejection> {
    if component.is_empty() {
        return Err(PathRejection::EmptyComponent);
    }
    if component == "." || component == ".." {
        return Err(PathRejection::DotComponent);
    }
    if component.len() > MAX_COMPONENT_BYTES {
        return Err(PathRejection::ComponentTooLong {
            bytes: component.len(),
        });
    }
    if component.ends_with('.') || component.ends_with(' ') {
        return Err(PathRejection::TrailingDotOrSpace {
            component: component.to_owned(),
        });
    }
    if is_windows_reserved(component) {
        return Err(PathRejection::ReservedName {
            component: component.to_owned(),
        });
    }
    Ok(())
}

/// Unicode category C (control, format, private use, unassigned; surrogates cannot
/// occur in Rust text) plus the line and paragraph separators.
fn is_control_like(ch: char) -> bool {
    matches!(
        ch.general_category(),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::PrivateUse
            | GeneralCategory::Unassigned
            | GeneralCategory::Surrogate
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    )
}

/// CON, PRN, AUX, NUL, COM0–9, LPT0–9 (and the superscript-digit forms Windows also
/// reserves), in any case, alone or before an extension, ignoring trailing spaces.
fn is_windows_reserved(component: &str) -> bool {
    let stem = component
        .split('.')
        .next()
        .unwrap_or(component)
        .trim_end_matches(' ');
    let upper = stem.to_uppercase();
    match upper.as_str() {
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$" => true,
        _ => {
            let mut chars = upper.chars();
            let prefix: String = chars.by_ref().take(3).collect();
            let rest: Vec<char> = chars.collect();
            (prefix == "COM" || prefix == "LPT")
                && rest.len() == 1
                && matches!(rest[0], '0'..='9' | '¹' | '²' | '³')
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejection(s: &str) -> Option<PathRejection> {
        match s.parse::<ArchivePath>() {
            Ok(_) => None,
            Err(FormatError::InvalidPath { reason, .. }) => Some(reason),
            Err(other) => panic!("unexpected error {other}"),
        }
    }

    #[test]
    #[expect(clippy::too_many_lines, reason = "one table of cases")]
    fn rejects_every_dangerous_shape() {
        use PathRejection as R;
        let long_component = "a".repeat(256);
        let long_path = ["abcdefghij"; 100].join("/") + "/x";
        let cases: Vec<(&str, PathRejection)> = vec![
            ("", R::Empty),
            ("a//b", R::EmptyComponent),
            ("a/b/", R::EmptyComponent),
            ("./a", R::DotComponent),
            ("a/./b", R::DotComponent),
            ("..", R::DotComponent),
            ("a/../b", R::DotComponent),
            ("../../etc/passwd", R::DotComponent),
            ("/etc/passwd", R::Absolute),
            ("\\server\\share", R::Absolute),
            ("a\\b", R::Backslash),
            ("a\\..\\..\\b", R::Backslash),
            ("C:/Windows", R::Colon),
            ("c:evil", R::Colon),
            ("file.txt:stream", R::Colon),
            ("a\0b", R::ControlCharacter { ch: '\0' }),
            ("a\nb", R::ControlCharacter { ch: '\n' }),
            ("a\u{7f}", R::ControlCharacter { ch: '\u{7f}' }),
            ("a\u{9b}b", R::ControlCharacter { ch: '\u{9b}' }),
            (
                "invoice\u{202e}fdp.exe",
                R::ControlCharacter { ch: '\u{202e}' },
            ),
            ("zero\u{200b}width", R::ControlCharacter { ch: '\u{200b}' }),
            ("bom\u{feff}", R::ControlCharacter { ch: '\u{feff}' }),
            ("private\u{e000}", R::ControlCharacter { ch: '\u{e000}' }),
            ("unassigned\u{378}", R::ControlCharacter { ch: '\u{378}' }),
            ("line\u{2028}sep", R::ControlCharacter { ch: '\u{2028}' }),
            ("Cafe\u{301}.txt", R::NotNfc),
            ("files/U\u{308}berweisung.pdf", R::NotNfc),
            (
                "CON",
                R::ReservedName {
                    component: "CON".into(),
                },
            ),
            (
                "a/con.txt",
                R::ReservedName {
                    component: "con.txt".into(),
                },
            ),
            (
                "nul.tar.gz",
                R::ReservedName {
                    component: "nul.tar.gz".into(),
                },
            ),
            (
                "Aux",
                R::ReservedName {
                    component: "Aux".into(),
                },
            ),
            (
                "prn .txt",
                R::ReservedName {
                    component: "prn .txt".into(),
                },
            ),
            (
                "COM1",
                R::ReservedName {
                    component: "COM1".into(),
                },
            ),
            (
                "lpt9.log",
                R::ReservedName {
                    component: "lpt9.log".into(),
                },
            ),
            (
                "COM¹",
                R::ReservedName {
                    component: "COM¹".into(),
                },
            ),
            (
                "a/b.",
                R::TrailingDotOrSpace {
                    component: "b.".into(),
                },
            ),
            (
                "dir /b",
                R::TrailingDotOrSpace {
                    component: "dir ".into(),
                },
            ),
            (
                "...",
                R::TrailingDotOrSpace {
                    component: "...".into(),
                },
            ),
            (&long_component, R::ComponentTooLong { bytes: 256 }),
            (
                &long_path,
                R::TooLong {
                    bytes: long_path.len(),
                },
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(rejection(input), Some(expected), "input {input:?}");
        }
    }

    #[test]
    fn accepts_legitimate_names() {
        for input in [
            "files/docs/Überweisung – März.pdf",
            "a/b c/d (1).txt",
            "site/settings/general.json",
            ".hidden/.env",
            "console.log",
            "COM10",
            "LPT",
            "auxiliary/nul-file",
            "李雷/头像.png",
            "emoji/🎉.txt",
            "a..b",
            &"a".repeat(255),
        ] {
            assert_eq!(rejection(input), None, "input {input:?}");
        }
    }

    #[test]
    fn collision_key_folds_case_and_normalization() {
        let key = |s: &str| s.parse::<ArchivePath>().unwrap().collision_key();
        assert_eq!(key("Readme.txt"), key("README.TXT"));
        assert_eq!(key("files/Straße.txt"), key("files/STRASSE.txt"));
        assert_eq!(key("Ǆ"), key("ǆ"));
        assert_ne!(key("a.txt"), key("b.txt"));
    }

    #[test]
    fn prefixes_are_the_leading_parts() {
        let path: ArchivePath = "a/b c/d.txt".parse().unwrap();
        let prefixes: Vec<String> = path.prefixes().map(String::from).collect();
        assert_eq!(prefixes, ["a", "a/b c", "a/b c/d.txt"]);
    }

    #[test]
    fn rejections_say_what_is_wrong() {
        let table: &[(&str, &str)] = &[
            ("", "the name is empty"),
            ("a//b", "empty component"),
            ("a/../b", "`.` or `..` component"),
            ("/a", "it is absolute"),
            ("a\\b", "backslash"),
            ("C:x", "contains `:`"),
            ("a\u{7}b", "control or format character U+0007"),
            ("e\u{301}", "not in Unicode NFC form"),
            (
                "lpt1.txt",
                "`lpt1.txt` is a reserved device name on Windows",
            ),
            ("a./b", "`a.` ends in a dot or a space"),
        ];
        for (input, message) in table {
            let reason = check(input).unwrap_err().to_string();
            assert!(reason.contains(message), "{input:?}: {reason}");
        }
        let long = "x".repeat(256);
        assert_eq!(
            check(&long).unwrap_err().to_string(),
            "a component is 256 bytes long (at most 255)"
        );
        let too_long = format!("{0}/{0}/{0}/{0}/{0}", "y".repeat(205));
        assert_eq!(
            check(&too_long).unwrap_err().to_string(),
            "it is 1029 bytes long (at most 1024)"
        );
    }

    #[test]
    fn a_path_of_exactly_the_maximum_length_is_accepted() {
        let longest = format!("{0}/{0}/{0}/{0}/{1}", "z".repeat(200), "w".repeat(220));
        assert_eq!(longest.len(), MAX_PATH_BYTES);
        assert!(longest.parse::<ArchivePath>().is_ok());
        assert!(format!("{longest}w").parse::<ArchivePath>().is_err());
    }

    #[test]
    fn paths_print_strip_and_borrow_as_their_text() {
        let path: ArchivePath = "site/settings/a b.json".parse().unwrap();
        assert_eq!(path.to_string(), "site/settings/a b.json");
        assert_eq!(AsRef::<str>::as_ref(&path), "site/settings/a b.json");
        assert_eq!(
            path.strip_prefix("site").map(String::from).as_deref(),
            Some("settings/a b.json")
        );
        assert_eq!(path.strip_prefix("sit"), None);
        assert_eq!(path.strip_prefix("site/settings/a b.json"), None);
        assert_eq!(path.strip_prefix("files"), None);
    }

    #[test]
    fn serde_rejects_bad_paths() {
        assert!(serde_json::from_str::<ArchivePath>("\"../x\"").is_err());
        let ok: ArchivePath = serde_json::from_str("\"a/b\"").unwrap();
        assert_eq!(serde_json::to_string(&ok).unwrap(), "\"a/b\"");
    }

    proptest::proptest! {
        /// No accepted path, joined onto a root, ever leaves that root.
        #[test]
        fn accepted_paths_stay_under_root(s in "([a-zA-Z.:/\\\\ \u{0}\u{202e}é]|\\.\\.|/\\.\\./){0,24}") {
            if let Ok(path) = s.parse::<ArchivePath>() {
                let root = std::path::Path::new("/srv/root");
                let joined = root.join(path.to_native());
                proptest::prop_assert!(joined.starts_with(root));
                let mut depth = 0usize;
                for component in joined.strip_prefix(root).unwrap().components() {
                    proptest::prop_assert!(
                        matches!(component, std::path::Component::Normal(_)),
                        "{component:?} in {s:?}"
                    );
                    depth += 1;
                }
                proptest::prop_assert_eq!(depth, path.components().count());
            }
        }
    }
}
