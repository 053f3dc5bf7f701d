//! URL rewrite of a cross-site restore: the source site's base URLs become the target's.
//!
//! [`UrlRewrite`] documents what is matched and why.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::AddAssign;
use std::str::FromStr;

use aho_corasick::{AhoCorasick, Anchored, Input, MatchKind, PatternID, StartKind};

/// Extensions (compared in any ASCII case) of the files whose text [`is_text_file`] accepts.
const TEXT_EXTENSIONS: [&str; 8] = ["html", "htm", "css", "txt", "md", "csv", "xml", "js"];

/// Whether a module file named `name` (a `/`-separated path or a bare file name) is text
/// that the URL rewrite applies to: its extension is one of `html`, `htm`, `css`, `txt`,
/// `md`, `csv`, `xml`, `js`, in any case. Which area's files to rewrite is the caller's
/// decision; this only looks at the name.
#[must_use]
pub fn is_text_file(name: &str) -> bool {
    let file_name = name.rsplit('/').next().unwrap_or(name);
    match file_name.rsplit_once('.') {
        Some((stem, extension)) if !stem.is_empty() => TEXT_EXTENSIONS
            .iter()
            .any(|known| extension.eq_ignore_ascii_case(known)),
        _ => false,
    }
}

/// The form in which a URL occurs in text; see [`UrlRewrite`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UrlForm {
    /// `https://old.example/…`
    Plain,
    /// `https:\/\/old.example\/…` or `\/\/old.example\/…`, as JSON encoders that escape `/` write it.
    JsonEscaped,
    /// `//old.example/…`
    ProtocolRelative,
    /// `https%3A%2F%2Fold.example%2F…` or `%2F%2Fold.example%2F…`, hex digits in any case.
    PercentEncoded,
}

impl UrlForm {
    /// Every form, in reporting order.
    pub const ALL: [UrlForm; 4] = [
        UrlForm::Plain,
        UrlForm::JsonEscaped,
        UrlForm::ProtocolRelative,
        UrlForm::PercentEncoded,
    ];

    /// How a report names the form: `plain`, `JSON-escaped`, `protocol-relative`, `percent-encoded`.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            UrlForm::Plain => "plain",
            UrlForm::JsonEscaped => "JSON-escaped",
            UrlForm::ProtocolRelative => "protocol-relative",
            UrlForm::PercentEncoded => "percent-encoded",
        }
    }
}

impl fmt::Display for UrlForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Which URL of a rule an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleSide {
    /// The URL to replace.
    From,
    /// The URL that replaces it.
    To,
}

impl fmt::Display for RuleSide {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RuleSide::From => "FROM",
            RuleSide::To => "TO",
        })
    }
}

/// Why a URL of a rule is not an absolute http(s) base URL, with what to do about it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlProblem {
    /// The URL does not start with `http://` or `https://`.
    #[error(
        "it does not start with http:// or https://; give the full base URL, e.g. https://shop.example"
    )]
    Scheme,
    /// The host is missing or is not a host name.
    #[error(
        "its host is missing or not a host name; use letters, digits, '-' and '.' \
         (the punycode xn-- form for an internationalized name), e.g. shop.example"
    )]
    Host,
    /// The URL has user information (`user@`).
    #[error("it has user information before '@'; give only scheme, host, optional port and path")]
    UserInfo,
    /// The port is not a number from 1 to 65535.
    #[error("its port is not a number from 1 to 65535")]
    Port,
    /// The URL has a query (`?…`) or a fragment (`#…`).
    #[error("it has a query or fragment; give only the base URL, without '?' or '#'")]
    QueryOrFragment,
    /// The URL holds a character that has no place in a base URL.
    #[error(
        "it contains {ch:?}, which a base URL cannot hold; percent-encode it in the path, \
         or use the punycode xn-- form of an internationalized host"
    )]
    Character {
        /// The character.
        ch: char,
    },
}

/// Why URL rewrite rules could not be accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RewriteError {
    /// The text of a rule is not `FROM=TO`.
    #[error(
        "URL rewrite rule `{text}` is not FROM=TO; write it as e.g. https://old.example=https://new.example"
    )]
    MalformedRule {
        /// The text as given.
        text: String,
    },
    /// One URL of a rule is not an absolute http(s) base URL.
    #[error("URL rewrite rule `{rule}`: {side} `{url}` is not an absolute http(s) base URL")]
    InvalidUrl {
        /// The rule, as given.
        rule: String,
        /// Which of its URLs is wrong.
        side: RuleSide,
        /// That URL, as given.
        url: String,
        /// What is wrong with it.
        #[source]
        problem: UrlProblem,
    },
    /// Two rules have the same FROM (after normalization).
    #[error("URL rewrite rules `{first}` and `{second}` have the same FROM; keep only one of them")]
    DuplicateFrom {
        /// The earlier rule.
        first: String,
        /// The later rule.
        second: String,
    },
    /// Two rules rewrite the same text (a shared protocol-relative form) to different texts.
    #[error(
        "URL rewrite rules `{first}` and `{second}` both rewrite `{pattern}`, but differently; \
         give their TO URLs the same host, port and path, or drop one of the rules"
    )]
    Conflict {
        /// The earlier rule.
        first: String,
        /// The later rule.
        second: String,
        /// The text both rewrite.
        pattern: String,
    },
    /// The matcher could not be built (far more rules than any site has).
    #[error("cannot build the URL matcher for {rules} rewrite rules")]
    Matcher {
        /// How many rules there were.
        rules: usize,
        /// Why it failed.
        #[source]
        source: aho_corasick::BuildError,
    },
}

/// An absolute http(s) base URL, normalized: lower-case scheme and host, no trailing `/`.
///
/// Parsed here rather than with the `url` crate: a WHATWG parser repairs what a rule must
/// refuse, and rewrites what the matcher must find as written. It accepts `https:/x` and
/// `https:///x` (host `x`), an empty port, port 0, IPv6 hosts and host names such as
/// `-x.example`, `x_y.example` or `x..example`; it turns `\` into `/`, percent-encodes
/// a space or `"`, converts an internationalized host to punycode, resolves `..` in the
/// path and drops a default port (`:443`), so the text it gives back is not the text
/// the rule names. Checking for each of these would be this parser again.
#[derive(Clone, Debug, PartialEq, Eq)]
struct BaseUrl {
    /// `scheme://host[:port][path]`.
    text: String,
    /// Where `host[:port]` ends and the path (empty or starting with `/`) begins.
    path_start: usize,
}

impl BaseUrl {
    fn parse(raw: &str) -> Result<BaseUrl, UrlProblem> {
        if let Some(ch) = raw.chars().find(|ch| !ch.is_ascii_graphic()) {
            return Err(UrlProblem::Character { ch });
        }
        let (scheme, rest) = raw.split_once("://").ok_or(UrlProblem::Scheme)?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(UrlProblem::Scheme);
        }
        if rest.contains(['?', '#']) {
            return Err(UrlProblem::QueryOrFragment);
        }
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if authority.contains('@') {
            return Err(UrlProblem::UserInfo);
        }
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        if !is_host_name(host) {
            return Err(UrlProblem::Host);
        }
        if port.is_some_and(|port| !is_port(port)) {
            return Err(UrlProblem::Port);
        }
        let path = path.trim_end_matches('/');
        check_path(path)?;
        let mut text = format!("{scheme}://{}", authority.to_ascii_lowercase());
        let path_start = text.len();
        text.push_str(path);
        Ok(BaseUrl { text, path_start })
    }

    fn scheme(&self) -> &str {
        self.text.split_once(':').map_or("", |(scheme, _)| scheme)
    }

    /// `host[:port]`.
    fn authority(&self) -> &str {
        let start = self.scheme().len() + "://".len();
        &self.text[start..self.path_start]
    }

    fn path(&self) -> &str {
        &self.text[self.path_start..]
    }
}

/// Dot-separated labels of ASCII letters, digits and inner `-`.
fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn is_port(port: &str) -> bool {
    !port.is_empty()
        && port.len() <= 5
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u16>().is_ok_and(|port| port != 0)
}

/// A path may hold RFC 3986 path characters, with `%` only as the start of an escape.
fn check_path(path: &str) -> Result<(), UrlProblem> {
    let bytes = path.as_bytes();
    for (index, &byte) in bytes.iter().enumerate() {
        let allowed = match byte {
            b'%' => bytes
                .get(index + 1..index + 3)
                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)),
            _ => is_unreserved(byte) || b"!$&'()*+,;=:@/".contains(&byte),
        };
        if !allowed {
            return Err(UrlProblem::Character {
                ch: char::from(byte),
            });
        }
    }
    Ok(())
}

fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

/// Checks that `url` is an absolute http(s) base URL, as each side of a [`RewriteRule`]
/// must be.
pub(crate) fn check_base_url(url: &str) -> Result<(), UrlProblem> {
    BaseUrl::parse(url).map(|_| ())
}

/// One `FROM=TO` rule: both absolute http(s) base URLs (scheme `http` or `https`, a host,
/// an optional port and path, no query or fragment), normalized to a lower-case scheme and
/// host without trailing `/`.
///
/// Built with [`RewriteRule::new`] or parsed from `FROM=TO` (split at the first `=`).
/// A rule whose TO equals its FROM is allowed: it keeps a longer URL away from a shorter
/// rule (`https://shop.example/keep=https://shop.example/keep` beside
/// `https://shop.example=https://new.example`), and its matches are counted like others.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RewriteRule {
    from: BaseUrl,
    to: BaseUrl,
}

impl RewriteRule {
    /// A rule replacing base URL `from` with base URL `to`.
    pub fn new(from: &str, to: &str) -> Result<RewriteRule, RewriteError> {
        Self::with_text(from, to, &format!("{from}={to}"))
    }

    fn with_text(from: &str, to: &str, rule: &str) -> Result<RewriteRule, RewriteError> {
        let parse = |side, url: &str| {
            BaseUrl::parse(url).map_err(|problem| RewriteError::InvalidUrl {
                rule: rule.to_owned(),
                side,
                url: url.to_owned(),
                problem,
            })
        };
        Ok(RewriteRule {
            from: parse(RuleSide::From, from)?,
            to: parse(RuleSide::To, to)?,
        })
    }

    /// The normalized URL to replace.
    #[must_use]
    pub fn from(&self) -> &str {
        &self.from.text
    }

    /// The normalized URL that replaces it.
    #[must_use]
    pub fn to(&self) -> &str {
        &self.to.text
    }
}

impl FromStr for RewriteRule {
    type Err = RewriteError;

    /// Parses `FROM=TO`, as given to `--rewrite-url`.
    fn from_str(text: &str) -> Result<RewriteRule, RewriteError> {
        match text.split_once('=') {
            Some((from, to)) if !from.is_empty() && !to.is_empty() => {
                RewriteRule::with_text(from, to, text)
            }
            _ => Err(RewriteError::MalformedRule {
                text: text.to_owned(),
            }),
        }
    }
}

impl fmt::Display for RewriteRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.from.text, self.to.text)
    }
}

/// How many replacements were made, per rule (its index in [`UrlRewrite::rules`]) and per
/// [`UrlForm`]. Add the counts of several texts with `+=`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RewriteCounts {
    /// Only non-zero counts are stored, so equal counts compare equal.
    counts: BTreeMap<(usize, UrlForm), u64>,
}

impl RewriteCounts {
    /// All replacements.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    /// The replacements by rule `rule` in form `form`.
    #[must_use]
    pub fn get(&self, rule: usize, form: UrlForm) -> u64 {
        self.counts.get(&(rule, form)).copied().unwrap_or(0)
    }

    /// The replacements by rule `rule`, all forms together.
    #[must_use]
    pub fn rule_total(&self, rule: usize) -> u64 {
        UrlForm::ALL.iter().map(|&form| self.get(rule, form)).sum()
    }

    /// The non-zero counts as `(rule, form, count)`, by rule and then in [`UrlForm::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (usize, UrlForm, u64)> + '_ {
        self.counts
            .iter()
            .map(|(&(rule, form), &count)| (rule, form, count))
    }

    fn add(&mut self, rule: usize, form: UrlForm, count: u64) {
        if count > 0 {
            *self.counts.entry((rule, form)).or_insert(0) += count;
        }
    }
}

impl AddAssign<&RewriteCounts> for RewriteCounts {
    fn add_assign(&mut self, other: &RewriteCounts) {
        for (rule, form, count) in other.iter() {
            self.add(rule, form, count);
        }
    }
}

/// How a URL is spelled: the encoding of its `:` and `/`.
#[derive(Clone, Copy)]
enum Encoding {
    Plain,
    Json,
    Percent,
}

/// One text searched for: a form of a rule's FROM.
#[derive(Clone, Debug)]
struct Candidate {
    /// The FROM text, as the normalized FROM spells it in this form.
    pattern: Vec<u8>,
    /// Which bytes of `pattern` must match exactly (the path); the others match in any ASCII
    /// case (scheme, host, hex digits).
    exact: Vec<bool>,
    /// The TO text in the same form.
    replacement: String,
    /// Without a scheme (`//`, `\/\/`, `%2F%2F`): must start a URL.
    scheme_less: bool,
    rule: usize,
    form: UrlForm,
}

impl Candidate {
    fn new(rule_index: usize, rule: &RewriteRule, encoding: Encoding, scheme_less: bool) -> Self {
        let (pattern, exact) = spell(&rule.from, encoding, scheme_less);
        let (replacement, _) = spell(&rule.to, encoding, scheme_less);
        let form = match (encoding, scheme_less) {
            (Encoding::Plain, false) => UrlForm::Plain,
            (Encoding::Plain, true) => UrlForm::ProtocolRelative,
            (Encoding::Json, _) => UrlForm::JsonEscaped,
            (Encoding::Percent, _) => UrlForm::PercentEncoded,
        };
        Candidate {
            pattern: pattern.into_bytes(),
            exact,
            replacement,
            scheme_less,
            rule: rule_index,
            form,
        }
    }

    /// Whether this candidate occurs at `start` in `hay`, with its exact bytes and
    /// boundaries; the matcher has already found its bytes there in some ASCII case.
    fn accepts(&self, hay: &[u8], start: usize) -> bool {
        let end = start + self.pattern.len();
        let Some(found) = hay.get(start..end) else {
            return false;
        };
        let exact_bytes_match = found
            .iter()
            .zip(&self.pattern)
            .zip(&self.exact)
            .all(|((found, wanted), &exact)| !exact || found == wanted);
        exact_bytes_match
            && !(self.scheme_less && continues_to_the_left(hay, start))
            && !continues_to_the_right(hay, end)
    }
}

/// `url` spelled in `encoding`, with or without its scheme, and which of its bytes must
/// match exactly.
fn spell(url: &BaseUrl, encoding: Encoding, scheme_less: bool) -> (String, Vec<bool>) {
    let (colon, slash) = match encoding {
        Encoding::Plain => (":", "/"),
        Encoding::Json => (":", "\\/"),
        Encoding::Percent => ("%3A", "%2F"),
    };
    let mut text = String::new();
    if !scheme_less {
        text.push_str(url.scheme());
        text.push_str(colon);
    }
    text.push_str(slash);
    text.push_str(slash);
    let (host, port) = match url.authority().split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (url.authority(), None),
    };
    text.push_str(host);
    if let Some(port) = port {
        text.push_str(colon);
        text.push_str(port);
    }
    let mut exact = vec![false; text.len()];
    for byte in url.path().bytes() {
        let spelled = match (byte, encoding) {
            (b'/', _) => slash.to_owned(),
            (_, Encoding::Percent) if !is_unreserved(byte) => format!("%{byte:02X}"),
            _ => char::from(byte).to_string(),
        };
        // A path character written as itself must match exactly; the hex digits of an
        // escape made here match in any case.
        let literal = spelled.len() == 1;
        exact.extend(std::iter::repeat_n(literal, spelled.len()));
        text.push_str(&spelled);
    }
    (text, exact)
}

/// Whether `byte` continues a host name or path segment.
fn is_word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'~') || !byte.is_ascii()
}

/// Whether the text at `end` continues the host or path segment a match ends in.
fn continues_to_the_right(hay: &[u8], end: usize) -> bool {
    match hay.get(end) {
        Some(&b'.') => hay.get(end + 1).is_some_and(|&next| is_word_byte(next)),
        Some(&byte) => is_word_byte(byte),
        None => false,
    }
}

/// Whether the byte before `start` belongs to a URL or word that a scheme-less match
/// would then be the middle of (`http://…`, `https%3A%2F%2F…`, `path//…`).
fn continues_to_the_left(hay: &[u8], start: usize) -> bool {
    start.checked_sub(1).is_some_and(|before| {
        let byte = hay[before];
        is_word_byte(byte) || b"+.:/\\%@".contains(&byte)
    })
}

/// One replacement to make: `hay[start..end]` becomes `replacement`.
struct Edit<'r> {
    start: usize,
    end: usize,
    replacement: &'r str,
}

/// The URL rewrite of a restore: every form of every rule's FROM replaced by its TO.
///
/// It is built from [`RewriteRule`]s, `FROM=TO` pairs of absolute http(s)
/// base URLs, and rewrites every occurrence of each FROM, in one pass over the text, in
/// these forms (FROM `https://old.example/shop`, TO `https://new.example`):
///
/// | [`UrlForm`] | found | written |
/// |---|---|---|
/// | plain | `https://old.example/shop` | `https://new.example` |
/// | JSON-escaped | `https:\/\/old.example\/shop`, `\/\/old.example\/shop` | `https:\/\/new.example`, `\/\/new.example` |
/// | protocol-relative | `//old.example/shop` | `//new.example` |
/// | percent-encoded | `https%3A%2F%2Fold.example%2Fshop`, `%2F%2Fold.example%2Fshop` | `https%3A%2F%2Fnew.example`, `%2F%2Fnew.example` |
///
/// What follows the FROM is kept: `https://old.example/shop/cart?x=1` becomes
/// `https://new.example/cart?x=1`.
///
/// Decisions:
/// - **Schemes are exact.** A FROM rewrites its own scheme only: `https://old.example` leaves
///   `http://old.example` alone. A site reachable under both schemes needs a rule for each.
/// - **Protocol-relative references map host to host**, even when FROM and TO have different
///   schemes: `//old.example` becomes `//new.example`. Such a reference takes the scheme of
///   the page that holds it, and after the restore that page is served by the target, so
///   this is the reference that resolves to TO. Two rules whose FROMs differ only by their
///   scheme share this form; they are refused unless they rewrite it to the same text.
/// - **Case.** Scheme, host and the hex digits of percent escapes match in any ASCII case;
///   the path matches exactly. The output is the normalized TO: lower-case scheme and host,
///   upper-case hex.
/// - **Boundaries.** A match must end where the host or path segment ends: the next byte
///   must not be a letter, digit, `-`, `_`, `~` or non-ASCII byte, nor a `.` followed by
///   one of those. So `https://old.example` leaves `https://old.example.com`,
///   `https://old.example-cdn.com` and `https://old.exampleX` alone, and rewrites
///   `https://old.example:8080/x`, `https://old.example/`, `"https://old.example"` and
///   `see https://old.example.` at the end of a sentence. The scheme-less forms (`//`,
///   `\/\/`, `%2F%2F`) must also *start* a URL: the byte before them must not be a letter,
///   digit, non-ASCII byte or one of `+-._~:/\%@`, so `http://old.example` is not taken for
///   a protocol-relative `//old.example`, nor is `path//old.example`.
/// - **One pass, longest match first.** All forms of all rules are searched together;
///   where several start at the same place the longest one that passes the checks above
///   wins (a rule for `https://shop.example/blog` beats one for `https://shop.example`).
///   Replaced text is never searched again, so rules `a→b` and `b→c` turn `a b` into
///   `b c`, and a TO that contains its FROM is not rewritten twice.
/// - **Counts** are kept per rule and per form ([`RewriteCounts`]). A form shared by two
///   rules counts for the first of them.
/// - **Text files** are the module files named `*.html`, `*.htm`, `*.css`, `*.txt`, `*.md`,
///   `*.csv`, `*.xml` and `*.js` ([`is_text_file`]); `htm` is the same format as `html`.
///   JSON documents and collections go through [`UrlRewrite::rewrite_json`] instead; every
///   other file is left byte for byte as it is.
///
/// ```
/// use sitepack_restore::{RewriteRule, UrlForm, UrlRewrite};
///
/// let rule: RewriteRule = "https://old.example=https://new.example".parse()?;
/// let rewrite = UrlRewrite::new(&[rule])?;
/// let (text, counts) =
///     rewrite.rewrite_str(r#"<a href="https://old.example/a">, "https:\/\/old.example\/b""#);
/// assert_eq!(text, r#"<a href="https://new.example/a">, "https:\/\/new.example\/b""#);
/// assert_eq!(counts.get(0, UrlForm::Plain), 1);
/// assert_eq!(counts.get(0, UrlForm::JsonEscaped), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct UrlRewrite {
    rules: Vec<RewriteRule>,
    /// Finds, in any ASCII case, the texts of `groups`: pattern `i` is the text of `groups[i]`.
    matcher: AhoCorasick,
    /// Candidates grouped by their lower-cased text; within a group they differ in the case
    /// of their exact bytes.
    groups: Vec<Vec<Candidate>>,
}

impl UrlRewrite {
    /// A rewrite applying `rules`. No rules is allowed and rewrites nothing.
    pub fn new(rules: &[RewriteRule]) -> Result<UrlRewrite, RewriteError> {
        let mut group_of_key: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
        let mut groups: Vec<Vec<Candidate>> = Vec::new();
        for (index, rule) in rules.iter().enumerate() {
            if let Some(first) = rules[..index].iter().find(|r| r.from == rule.from) {
                return Err(RewriteError::DuplicateFrom {
                    first: first.to_string(),
                    second: rule.to_string(),
                });
            }
            for encoding in [Encoding::Plain, Encoding::Json, Encoding::Percent] {
                for scheme_less in [false, true] {
                    let candidate = Candidate::new(index, rule, encoding, scheme_less);
                    let key = candidate.pattern.to_ascii_lowercase();
                    let next_group = groups.len();
                    let group = *group_of_key.entry(key).or_insert(next_group);
                    if group == next_group {
                        groups.push(Vec::new());
                    }
                    add_candidate(&mut groups[group], candidate, rules)?;
                }
            }
        }
        let matcher = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .ascii_case_insensitive(true)
            .start_kind(StartKind::Both)
            .build(groups.iter().map(|group| &group[0].pattern))
            .map_err(|source| RewriteError::Matcher {
                rules: rules.len(),
                source,
            })?;
        Ok(UrlRewrite {
            rules: rules.to_vec(),
            matcher,
            groups,
        })
    }

    /// The rules, normalized; [`RewriteCounts`] refers to them by index.
    #[must_use]
    pub fn rules(&self) -> &[RewriteRule] {
        &self.rules
    }

    /// Whether there are no rules (and so nothing is ever rewritten).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// `text` with every occurrence rewritten, borrowed when nothing was, and the counts.
    #[must_use]
    pub fn rewrite_str<'t>(&self, text: &'t str) -> (Cow<'t, str>, RewriteCounts) {
        let (edits, counts) = self.find_edits(text.as_bytes());
        if edits.is_empty() {
            return (Cow::Borrowed(text), counts);
        }
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        // Matches start and end next to ASCII bytes, so these are character boundaries.
        for edit in &edits {
            out.push_str(&text[copied..edit.start]);
            out.push_str(edit.replacement);
            copied = edit.end;
        }
        out.push_str(&text[copied..]);
        (Cow::Owned(out), counts)
    }

    /// `bytes` (a text module file, in any ASCII-compatible encoding; need not be UTF-8)
    /// with every occurrence rewritten, borrowed when nothing was, and the counts.
    #[must_use]
    pub fn rewrite_bytes<'t>(&self, bytes: &'t [u8]) -> (Cow<'t, [u8]>, RewriteCounts) {
        let (edits, counts) = self.find_edits(bytes);
        if edits.is_empty() {
            return (Cow::Borrowed(bytes), counts);
        }
        let mut out = Vec::with_capacity(bytes.len());
        let mut copied = 0;
        for edit in &edits {
            out.extend_from_slice(&bytes[copied..edit.start]);
            out.extend_from_slice(edit.replacement.as_bytes());
            copied = edit.end;
        }
        out.extend_from_slice(&bytes[copied..]);
        (Cow::Owned(out), counts)
    }

    /// Rewrites every string value in `value`, at any depth; object keys, numbers, booleans
    /// and nulls are left as they are. Returns the counts.
    pub fn rewrite_json(&self, value: &mut serde_json::Value) -> RewriteCounts {
        let mut counts = RewriteCounts::default();
        self.rewrite_json_into(value, &mut counts);
        counts
    }

    fn rewrite_json_into(&self, value: &mut serde_json::Value, counts: &mut RewriteCounts) {
        match value {
            serde_json::Value::String(text) => {
                let (rewritten, found) = self.rewrite_str(text);
                if let Cow::Owned(rewritten) = rewritten {
                    *text = rewritten;
                }
                *counts += &found;
            }
            serde_json::Value::Array(items) => {
                for item in items {
                    self.rewrite_json_into(item, counts);
                }
            }
            serde_json::Value::Object(members) => {
                for member in members.values_mut() {
                    self.rewrite_json_into(member, counts);
                }
            }
            serde_json::Value::Null | serde_json::Value::Bool(_) | serde_json::Value::Number(_) => {
            }
        }
    }

    /// The replacements to make in `hay`, in order and not overlapping: at the leftmost place
    /// where some candidate is accepted, the longest accepted one; then on after it.
    fn find_edits(&self, hay: &[u8]) -> (Vec<Edit<'_>>, RewriteCounts) {
        let mut edits = Vec::new();
        let mut counts = RewriteCounts::default();
        let mut position = 0;
        while let Some(found) = self.matcher.find(Input::new(hay).range(position..)) {
            let start = found.start();
            match self.longest_accepted(hay, start, found.end(), found.pattern()) {
                Some(candidate) => {
                    let end = start + candidate.pattern.len();
                    edits.push(Edit {
                        start,
                        end,
                        replacement: &candidate.replacement,
                    });
                    counts.add(candidate.rule, candidate.form, 1);
                    position = end;
                }
                // Nothing fits here; a match starting inside this one may still.
                None => position = start + 1,
            }
        }
        (edits, counts)
    }

    /// The longest candidate accepted at `start`, given that the longest text found there
    /// ends at `end` and is that of group `group`. The texts found at one place are all
    /// prefixes of what follows it, so the next shorter one is the longest ending before `end`.
    fn longest_accepted(
        &self,
        hay: &[u8],
        start: usize,
        mut end: usize,
        mut group: PatternID,
    ) -> Option<&Candidate> {
        loop {
            if let Some(candidate) = self.groups[group.as_usize()]
                .iter()
                .find(|candidate| candidate.accepts(hay, start))
            {
                return Some(candidate);
            }
            let shorter = self.matcher.find(
                Input::new(hay)
                    .range(start..end - 1)
                    .anchored(Anchored::Yes),
            )?;
            end = shorter.end();
            group = shorter.pattern();
        }
    }
}

/// Adds `candidate` to the candidates with the same lower-cased text, unless one with the
/// very same text is there already: then it must rewrite it the same way and is dropped.
fn add_candidate(
    group: &mut Vec<Candidate>,
    candidate: Candidate,
    rules: &[RewriteRule],
) -> Result<(), RewriteError> {
    match group.iter().find(|c| c.pattern == candidate.pattern) {
        None => group.push(candidate),
        Some(existing) if existing.replacement == candidate.replacement => {}
        Some(existing) => {
            return Err(RewriteError::Conflict {
                first: rules[existing.rule].to_string(),
                second: rules[candidate.rule].to_string(),
                pattern: String::from_utf8_lossy(&candidate.pattern).into_owned(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::json;

    fn rewrite(rules: &[(&str, &str)]) -> UrlRewrite {
        let rules: Vec<RewriteRule> = rules
            .iter()
            .map(|(from, to)| RewriteRule::new(from, to).unwrap())
            .collect();
        UrlRewrite::new(&rules).unwrap()
    }

    fn rewritten(rewrite: &UrlRewrite, text: &str) -> String {
        rewrite.rewrite_str(text).0.into_owned()
    }

    const OLD_TO_NEW: &[(&str, &str)] = &[("https://old.example", "https://new.example")];

    #[test]
    fn every_form_is_rewritten() {
        let rewrite = rewrite(OLD_TO_NEW);
        let cases = [
            // (input, output, form)
            (
                "see https://old.example/a",
                "see https://new.example/a",
                UrlForm::Plain,
            ),
            (
                r#""https:\/\/old.example\/a""#,
                r#""https:\/\/new.example\/a""#,
                UrlForm::JsonEscaped,
            ),
            (
                r#""\/\/old.example\/a""#,
                r#""\/\/new.example\/a""#,
                UrlForm::JsonEscaped,
            ),
            (
                r#"<img src="//old.example/a.png">"#,
                r#"<img src="//new.example/a.png">"#,
                UrlForm::ProtocolRelative,
            ),
            (
                "url(//old.example/a.png)",
                "url(//new.example/a.png)",
                UrlForm::ProtocolRelative,
            ),
            ("//old.example", "//new.example", UrlForm::ProtocolRelative),
            (
                "?next=https%3A%2F%2Fold.example%2Fa",
                "?next=https%3A%2F%2Fnew.example%2Fa",
                UrlForm::PercentEncoded,
            ),
            (
                "?next=https%3a%2f%2fold.example%2fa",
                "?next=https%3A%2F%2Fnew.example%2fa",
                UrlForm::PercentEncoded,
            ),
            (
                "?next=%2F%2Fold.example%2Fa",
                "?next=%2F%2Fnew.example%2Fa",
                UrlForm::PercentEncoded,
            ),
        ];
        for (input, output, form) in cases {
            let (text, counts) = rewrite.rewrite_str(input);
            assert_eq!(text, output, "{input}");
            assert_eq!(counts.get(0, form), 1, "{input}");
            assert_eq!(counts.total(), 1, "{input}");
        }
    }

    #[test]
    fn mixed_forms_in_one_string_are_all_rewritten_and_counted() {
        let rewrite = rewrite(OLD_TO_NEW);
        let input = r#"<a href="https://old.example/a"><img src="//old.example/i.png">
<script>var c = {"u":"https:\/\/old.example\/b"};</script>
<a href="/login?next=https%3A%2F%2Fold.example%2Fc">https://old.example</a>"#;
        let (text, counts) = rewrite.rewrite_str(input);
        assert_eq!(
            text,
            r#"<a href="https://new.example/a"><img src="//new.example/i.png">
<script>var c = {"u":"https:\/\/new.example\/b"};</script>
<a href="/login?next=https%3A%2F%2Fnew.example%2Fc">https://new.example</a>"#
        );
        assert_eq!(counts.get(0, UrlForm::Plain), 2);
        assert_eq!(counts.get(0, UrlForm::ProtocolRelative), 1);
        assert_eq!(counts.get(0, UrlForm::JsonEscaped), 1);
        assert_eq!(counts.get(0, UrlForm::PercentEncoded), 1);
        assert_eq!(counts.rule_total(0), 5);
        assert_eq!(counts.total(), 5);
        assert_eq!(
            counts.iter().collect::<Vec<_>>(),
            [
                (0, UrlForm::Plain, 2),
                (0, UrlForm::JsonEscaped, 1),
                (0, UrlForm::ProtocolRelative, 1),
                (0, UrlForm::PercentEncoded, 1),
            ]
        );
    }

    #[test]
    fn a_match_must_end_where_the_host_ends() {
        let rewrite = rewrite(OLD_TO_NEW);
        let untouched = [
            "https://old.example.com",
            "https://old.example.com/a",
            "https://old.example-cdn.com",
            "https://old.example-x",
            "https://old.exampleX",
            "https://old.example_x",
            "https://old.example~x",
            "https://old.exampleé",
            "//old.example.com/a",
            r"https:\/\/old.example.org",
            "https%3A%2F%2Fold.example.net",
        ];
        for input in untouched {
            let (text, counts) = rewrite.rewrite_str(input);
            assert!(matches!(text, Cow::Borrowed(_)), "{input}");
            assert_eq!(counts.total(), 0, "{input}");
        }
        let rewritten_cases = [
            ("https://old.example:8080/x", "https://new.example:8080/x"),
            ("https://old.example/", "https://new.example/"),
            (
                r#"{"u": "https://old.example"}"#,
                r#"{"u": "https://new.example"}"#,
            ),
            ("'https://old.example'", "'https://new.example'"),
            ("https://old.example", "https://new.example"),
            ("https://old.example?x=1", "https://new.example?x=1"),
            ("https://old.example#top", "https://new.example#top"),
            ("see https://old.example.", "see https://new.example."),
            ("(https://old.example).", "(https://new.example)."),
            ("https://old.example\nnext", "https://new.example\nnext"),
            (
                "https://old.example https://old.example",
                "https://new.example https://new.example",
            ),
            ("https://old.example..", "https://new.example.."),
            (r"https:\/\/old.example\/", r"https:\/\/new.example\/"),
            (
                "https%3A%2F%2Fold.example%3A8080",
                "https%3A%2F%2Fnew.example%3A8080",
            ),
        ];
        for (input, output) in rewritten_cases {
            assert_eq!(rewritten(&rewrite, input), output, "{input}");
        }
    }

    #[test]
    fn a_scheme_less_match_must_start_a_url() {
        let rewrite = rewrite(OLD_TO_NEW);
        let untouched = [
            // Another scheme: not this rule's URL, and not a protocol-relative one either.
            "http://old.example/a",
            "ftp://old.example/a",
            r"http:\/\/old.example\/a",
            "http%3A%2F%2Fold.example%2Fa",
            "http%3a%2f%2fold.example",
            // The middle of a path.
            "x//old.example",
            "https://other.example//old.example",
            "path/.//old.example",
            "a///old.example",
            r"a\//old.example",
            "%2F%2F%2Fold.example",
        ];
        for input in untouched {
            assert_eq!(rewritten(&rewrite, input), input, "{input}");
        }
        let rewritten_cases = [
            ("src=//old.example/a", "src=//new.example/a"),
            (
                "a.png 1x, //old.example/b.png 2x",
                "a.png 1x, //new.example/b.png 2x",
            ),
            ("](//old.example)", "](//new.example)"),
            ("&quot;//old.example&quot;", "&quot;//new.example&quot;"),
        ];
        for (input, output) in rewritten_cases {
            assert_eq!(rewritten(&rewrite, input), output, "{input}");
        }
    }

    #[test]
    fn scheme_and_host_match_in_any_case_and_the_path_exactly() {
        let rewrite = rewrite(&[("https://Shop.Example/Blog/", "https://News.Example")]);
        assert_eq!(rewrite.rules()[0].from(), "https://shop.example/Blog");
        assert_eq!(rewrite.rules()[0].to(), "https://news.example");
        let cases = [
            (
                "HTTPS://SHOP.EXAMPLE/Blog/post",
                "https://news.example/post",
            ),
            ("https://shop.example/Blog", "https://news.example"),
            ("//sHoP.example/Blog/x", "//news.example/x"),
            (
                "HTTPS%3a%2F%2Fshop.EXAMPLE%2fBlog%2Fx",
                "https%3A%2F%2Fnews.example%2Fx",
            ),
            (r"https:\/\/SHOP.example\/Blog", r"https:\/\/news.example"),
            // The path is case-sensitive, and must end where a segment ends.
            (
                "https://shop.example/blog/post",
                "https://shop.example/blog/post",
            ),
            ("https://shop.example/BLOG", "https://shop.example/BLOG"),
            (
                "https://shop.example/Blogger",
                "https://shop.example/Blogger",
            ),
            (
                "https://shop.example/Blog.html",
                "https://shop.example/Blog.html",
            ),
            ("https://shop.example%2FBlog", "https://shop.example%2FBlog"),
        ];
        for (input, output) in cases {
            assert_eq!(rewritten(&rewrite, input), output, "{input}");
        }
    }

    #[test]
    fn a_path_is_percent_encoded_like_encode_uri_component() {
        let rewrite = rewrite(&[("https://old.example/a%20b:c", "https://new.example/d(e)")]);
        let cases = [
            (
                "https://old.example/a%20b:c/x",
                "https://new.example/d(e)/x",
            ),
            (
                "https%3A%2F%2Fold.example%2Fa%2520b%3Ac%2Fx",
                "https%3A%2F%2Fnew.example%2Fd%28e%29%2Fx",
            ),
            (
                "https%3a%2f%2fold.example%2fa%2520b%3ac",
                "https%3A%2F%2Fnew.example%2Fd%28e%29",
            ),
        ];
        for (input, output) in cases {
            assert_eq!(rewritten(&rewrite, input), output, "{input}");
        }
    }

    #[test]
    fn the_longest_match_wins() {
        let rewrite = rewrite(&[
            ("https://shop.example", "https://a.example"),
            ("https://shop.example/blog", "https://b.example"),
        ]);
        let (text, counts) = rewrite.rewrite_str(
            "https://shop.example/blog/x https://shop.example/x https://shop.example/blogger \
             //shop.example/blog https://shop.example/Blog",
        );
        assert_eq!(
            text,
            "https://b.example/x https://a.example/x https://a.example/blogger \
             //b.example https://a.example/Blog"
        );
        assert_eq!(counts.get(0, UrlForm::Plain), 3);
        assert_eq!(counts.get(1, UrlForm::Plain), 1);
        assert_eq!(counts.get(1, UrlForm::ProtocolRelative), 1);
    }

    #[test]
    fn a_longer_match_that_fails_its_checks_gives_way_to_a_shorter_one() {
        // `https://shop.example/blog` is found first (in any case) at each place, fails
        // the exact path or the boundary, and the shorter rule must still apply there.
        let rewrite = rewrite(&[
            ("https://shop.example/blog", "https://b.example"),
            ("https://shop.example/Blog", "https://c.example"),
            ("https://shop.example", "https://a.example"),
        ]);
        let cases = [
            ("https://shop.example/BLOG", "https://a.example/BLOG"),
            ("https://shop.example/blogs", "https://a.example/blogs"),
            ("https://shop.example/Blog/x", "https://c.example/x"),
            ("https://shop.example/blog/x", "https://b.example/x"),
            ("//shop.example/bLog", "//a.example/bLog"),
        ];
        for (input, output) in cases {
            assert_eq!(rewritten(&rewrite, input), output, "{input}");
        }
    }

    #[test]
    fn a_match_that_fails_its_checks_does_not_hide_one_starting_inside_it() {
        let rewrite = rewrite(&[
            ("https://a.example/h", "https://b.example"),
            ("https://a.example/Https:", "https://c.example"),
            ("https://old.example", "https://new.example"),
        ]);
        // `https://a.example/h` is followed by a letter, `https://a.example/Https:` differs
        // in the case of its path, and `https://old.example` starts inside both.
        let (text, counts) = rewrite.rewrite_str("https://a.example/https://old.example/x");
        assert_eq!(text, "https://a.example/https://new.example/x");
        assert_eq!((counts.rule_total(2), counts.total()), (1, 1));
    }

    #[test]
    fn a_replacement_never_feeds_another() {
        let rewrite = rewrite(&[
            ("https://a.example", "https://b.example"),
            ("https://b.example", "https://c.example"),
        ]);
        let (text, counts) = rewrite.rewrite_str("https://a.example https://b.example");
        assert_eq!(text, "https://b.example https://c.example");
        assert_eq!((counts.rule_total(0), counts.rule_total(1)), (1, 1));

        // A TO that holds its FROM is written once, not again and again.
        let rewrite = self::rewrite(&[("https://shop.example", "https://shop.example/v2")]);
        let once = rewritten(&rewrite, "https://shop.example/x //shop.example/y");
        assert_eq!(once, "https://shop.example/v2/x //shop.example/v2/y");
    }

    #[test]
    fn an_identity_rule_shields_a_longer_url_from_a_shorter_rule() {
        let rewrite = rewrite(&[
            ("https://shop.example", "https://new.example"),
            ("https://shop.example/keep", "https://shop.example/keep"),
        ]);
        let (text, counts) =
            rewrite.rewrite_str("https://shop.example/keep/a https://shop.example/b");
        assert_eq!(text, "https://shop.example/keep/a https://new.example/b");
        assert_eq!((counts.rule_total(0), counts.rule_total(1)), (1, 1));
    }

    #[test]
    fn a_protocol_relative_url_maps_host_to_host_when_the_scheme_changes() {
        let rewrite = rewrite(&[("http://old.example", "https://new.example")]);
        let cases = [
            ("http://old.example/a", "https://new.example/a"),
            ("//old.example/a", "//new.example/a"),
            (r"http:\/\/old.example", r"https:\/\/new.example"),
            (r"\/\/old.example", r"\/\/new.example"),
            ("http%3A%2F%2Fold.example", "https%3A%2F%2Fnew.example"),
            ("%2F%2Fold.example", "%2F%2Fnew.example"),
            // The scheme is exact: this rule is about http only.
            ("https://old.example/a", "https://old.example/a"),
        ];
        for (input, output) in cases {
            assert_eq!(rewritten(&rewrite, input), output, "{input}");
        }
    }

    #[test]
    fn rules_for_both_schemes_share_their_protocol_relative_form() {
        let rewrite = rewrite(&[
            ("http://old.example", "http://new.example"),
            ("https://old.example", "https://new.example"),
        ]);
        let (text, counts) =
            rewrite.rewrite_str("http://old.example https://old.example //old.example");
        assert_eq!(text, "http://new.example https://new.example //new.example");
        assert_eq!(counts.get(0, UrlForm::Plain), 1);
        assert_eq!(counts.get(1, UrlForm::Plain), 1);
        // A form shared by two rules counts for the first.
        assert_eq!(counts.get(0, UrlForm::ProtocolRelative), 1);
        assert_eq!(counts.get(1, UrlForm::ProtocolRelative), 0);

        let rules = [
            RewriteRule::new("http://old.example", "https://a.example").unwrap(),
            RewriteRule::new("https://old.example", "https://b.example").unwrap(),
        ];
        let error = UrlRewrite::new(&rules).unwrap_err();
        assert!(
            matches!(&error, RewriteError::Conflict { pattern, .. } if pattern == "//old.example"),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "URL rewrite rules `http://old.example=https://a.example` and \
             `https://old.example=https://b.example` both rewrite `//old.example`, but \
             differently; give their TO URLs the same host, port and path, or drop one of \
             the rules"
        );
    }

    #[test]
    fn bytes_that_are_not_utf8_are_kept_around_replacements() {
        let rewrite = rewrite(OLD_TO_NEW);
        let input = b"\xff\xfe<a href=\"https://old.example/a\">\x80\xa9 //old.example \xc3";
        let (bytes, counts) = rewrite.rewrite_bytes(input);
        assert_eq!(
            &*bytes,
            b"\xff\xfe<a href=\"https://new.example/a\">\x80\xa9 //new.example \xc3"
        );
        assert_eq!(counts.total(), 2);
        // A non-ASCII byte after the host may continue an internationalized name.
        let (bytes, counts) = rewrite.rewrite_bytes(b"https://old.example\xc3\xa9");
        assert!(matches!(bytes, Cow::Borrowed(_)));
        assert_eq!(counts.total(), 0);
        // Before a scheme-less form it is part of a word.
        let (bytes, _) = rewrite.rewrite_bytes(b"\xe9//old.example");
        assert_eq!(&*bytes, b"\xe9//old.example");
    }

    #[test]
    fn json_string_values_are_rewritten_at_any_depth_and_nothing_else() {
        let rewrite = rewrite(OLD_TO_NEW);
        let mut value = json!({
            "https://old.example": "https://old.example/key-stays",
            "logo": "//old.example/logo.png",
            "pages": [
                {"url": "https://old.example/a", "html": "<a href=\"https://old.example/b\">"},
                ["https:\\/\\/old.example\\/c", 12, true, null],
            ],
            "count": 3,
            "other": "https://old.example.com",
        });
        let counts = rewrite.rewrite_json(&mut value);
        assert_eq!(
            value,
            json!({
                "https://old.example": "https://new.example/key-stays",
                "logo": "//new.example/logo.png",
                "pages": [
                    {"url": "https://new.example/a", "html": "<a href=\"https://new.example/b\">"},
                    ["https:\\/\\/new.example\\/c", 12, true, null],
                ],
                "count": 3,
                "other": "https://old.example.com",
            })
        );
        assert_eq!(counts.get(0, UrlForm::Plain), 3);
        assert_eq!(counts.get(0, UrlForm::ProtocolRelative), 1);
        assert_eq!(counts.get(0, UrlForm::JsonEscaped), 1);
        assert_eq!(counts.total(), 5);
    }

    #[test]
    fn counts_add_up() {
        let rewrite = rewrite(&[
            ("https://a.example", "https://b.example"),
            ("https://c.example", "https://d.example"),
        ]);
        let mut total = RewriteCounts::default();
        for text in [
            "https://a.example //c.example",
            "https://a.example",
            "nothing",
        ] {
            total += &rewrite.rewrite_str(text).1;
        }
        assert_eq!(total.get(0, UrlForm::Plain), 2);
        assert_eq!(total.get(1, UrlForm::ProtocolRelative), 1);
        assert_eq!(total.get(1, UrlForm::Plain), 0);
        assert_eq!(total.get(7, UrlForm::Plain), 0);
        assert_eq!(
            (total.rule_total(0), total.rule_total(1), total.total()),
            (2, 1, 3)
        );
        // Counts of nothing equal the default, however they came about.
        assert_eq!(rewrite.rewrite_str("nothing").1, RewriteCounts::default());
    }

    #[test]
    fn no_rules_rewrite_nothing() {
        let rewrite = UrlRewrite::new(&[]).unwrap();
        assert!(rewrite.is_empty());
        let (text, counts) = rewrite.rewrite_str("https://old.example //old.example");
        assert!(matches!(
            text,
            Cow::Borrowed("https://old.example //old.example")
        ));
        assert_eq!(counts.total(), 0);
        assert!(matches!(
            rewrite.rewrite_bytes(b"\xff"),
            (Cow::Borrowed(b"\xff"), _)
        ));
    }

    #[test]
    fn rules_parse_from_from_equals_to_and_print_normalized() {
        let rule: RewriteRule = "HTTPS://Old.Example:8443/Shop/=http://NEW.example//"
            .parse()
            .unwrap();
        assert_eq!(rule.from(), "https://old.example:8443/Shop");
        assert_eq!(rule.to(), "http://new.example");
        assert_eq!(
            rule.to_string(),
            "https://old.example:8443/Shop=http://new.example"
        );
        assert_eq!(rule.to_string().parse::<RewriteRule>().unwrap(), rule);
        // Split at the first `=`: a TO path may hold one.
        let rule: RewriteRule = "https://a.example=https://b.example/x=y".parse().unwrap();
        assert_eq!(rule.to(), "https://b.example/x=y");
    }

    #[test]
    fn urls_that_are_not_http_base_urls_are_refused_on_either_side() {
        let cases = [
            ("old.example", UrlProblem::Scheme),
            ("ftp://old.example", UrlProblem::Scheme),
            ("https:/old.example", UrlProblem::Scheme),
            ("https://old.example?x", UrlProblem::QueryOrFragment),
            ("https://old.example/a#b", UrlProblem::QueryOrFragment),
            ("https://", UrlProblem::Host),
            ("https:///a", UrlProblem::Host),
            ("https://old..example", UrlProblem::Host),
            ("https://old.example.", UrlProblem::Host),
            ("https://-old.example", UrlProblem::Host),
            ("https://old_x.example", UrlProblem::Host),
            ("https://[::1]", UrlProblem::Host),
            ("https://user@old.example", UrlProblem::UserInfo),
            ("https://old.example:99999", UrlProblem::Port),
            ("https://old.example:0", UrlProblem::Port),
            ("https://old.example:+80", UrlProblem::Port),
            ("https://old.example:", UrlProblem::Port),
            ("https://old.example/a b", UrlProblem::Character { ch: ' ' }),
            ("https://öld.example", UrlProblem::Character { ch: 'ö' }),
            (
                "https://old.example/a\"b",
                UrlProblem::Character { ch: '"' },
            ),
            (
                "https://old.example/a\\b",
                UrlProblem::Character { ch: '\\' },
            ),
            ("https://old.example/%zz", UrlProblem::Character { ch: '%' }),
        ];
        for (url, expected_problem) in cases {
            for (text, expected_side) in [
                (format!("{url}=https://new.example"), RuleSide::From),
                (format!("https://new.example={url}"), RuleSide::To),
            ] {
                let error = text.parse::<RewriteRule>().unwrap_err();
                let RewriteError::InvalidUrl {
                    rule,
                    side,
                    url: found,
                    problem,
                } = &error
                else {
                    panic!("{text}: {error:?}");
                };
                assert_eq!((rule, *side, found.as_str()), (&text, expected_side, url));
                assert_eq!(problem, &expected_problem, "{text}");
            }
        }
    }

    #[test]
    fn a_refused_rule_says_which_rule_which_url_and_what_to_do() {
        let error = "https://old.example=https://new.example?x"
            .parse::<RewriteRule>()
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "URL rewrite rule `https://old.example=https://new.example?x`: TO \
             `https://new.example?x` is not an absolute http(s) base URL"
        );
        assert_eq!(
            std::error::Error::source(&error).unwrap().to_string(),
            "it has a query or fragment; give only the base URL, without '?' or '#'"
        );

        let error = RewriteRule::new("old.example", "https://new.example").unwrap_err();
        assert_eq!(
            error.to_string(),
            "URL rewrite rule `old.example=https://new.example`: FROM `old.example` is not an \
             absolute http(s) base URL"
        );
    }

    #[test]
    fn a_rule_must_be_from_equals_to() {
        for text in [
            "https://old.example",
            "=https://new.example",
            "https://old.example=",
            "",
        ] {
            let error = text.parse::<RewriteRule>().unwrap_err();
            assert!(matches!(&error, RewriteError::MalformedRule { text: t } if t == text));
            assert!(error.to_string().contains("is not FROM=TO"), "{error}");
        }
    }

    #[test]
    fn two_rules_with_the_same_from_are_refused() {
        let rules = [
            RewriteRule::new("https://old.example/", "https://a.example").unwrap(),
            RewriteRule::new("HTTPS://OLD.example", "https://b.example").unwrap(),
        ];
        let error = UrlRewrite::new(&rules).unwrap_err();
        assert!(matches!(error, RewriteError::DuplicateFrom { .. }));
        assert_eq!(
            error.to_string(),
            "URL rewrite rules `https://old.example=https://a.example` and \
             `https://old.example=https://b.example` have the same FROM; keep only one of them"
        );
    }

    #[test]
    fn text_files_are_known_by_their_extension() {
        let cases = [
            ("index.html", true),
            ("modules/blog/page.HTM", true),
            ("modules/theme/site.css", true),
            ("notes.txt", true),
            ("README.md", true),
            ("export.csv", true),
            ("feed.Xml", true),
            ("app.js", true),
            ("settings.json", false),
            ("records.jsonl", false),
            ("logo.png", false),
            ("archive.html.gz", false),
            ("html", false),
            (".html", false),
            ("modules/x.html/logo.png", false),
            ("script.mjs", false),
            ("", false),
        ];
        for (name, expected) in cases {
            assert_eq!(is_text_file(name), expected, "{name}");
        }
    }
}

/// Model-based property tests: texts are built from pieces whose expected rewrite is known.
#[cfg(test)]
mod properties {
    use super::*;

    use proptest::prelude::*;

    /// `(FROM scheme, FROM host, FROM path)` and `(TO scheme, TO host, TO path)` of each rule.
    /// No TO host holds a FROM host, so a rewritten text holds no FROM.
    const RULES: [[(&str, &str, &str); 2]; 2] = [
        [("https", "old.example", ""), ("https", "new.test", "")],
        [
            ("http", "shop.example", "/blog"),
            ("https", "cdn.test", "/news"),
        ],
    ];

    /// Near misses of the rules' FROMs: no piece of them may change.
    const MISSES: &[&str] = &[
        "https://old.example.com",
        "https://old.example-cdn.test/a",
        "https://old.exampleX",
        "http://old.example/a",
        "HTTP://OLD.EXAMPLE",
        "https://shop.example/blog",
        "http://shop.example/blogger",
        "http://shop.example/Blog",
        "http://shop.example",
        "//shop.example/blog.html",
        "x//old.example",
        r"http:\/\/old.example",
        r"\/\/old.example.org",
        "https%3A%2F%2Fold.example.com",
        "http%3a%2f%2fold.example",
        "a%2F%2Fold.example",
        "https://new.test.old.example",
        "mailto:admin@old.example",
        "old.example",
    ];

    /// Bytes that end any URL and are part of no pattern.
    const SEPARATORS: &[&str] = &[" ", "\"", "'", "(", ")", ",", ";", "\n", "<", ">", "=", "|"];

    const SUFFIXES: &[&str] = &["", "/x", ":8080/y", "?q=1", "#f", "/"];

    #[derive(Clone, Copy, Debug)]
    enum Spelling {
        Plain,
        Json,
        Percent { lower_hex: bool },
    }

    /// A URL spelled independently of the code under test.
    fn spelled(scheme: Option<&str>, host: &str, path: &str, spelling: Spelling) -> String {
        let (colon, slash) = match spelling {
            Spelling::Plain => (":", "/"),
            Spelling::Json => (":", r"\/"),
            Spelling::Percent { lower_hex: false } => ("%3A", "%2F"),
            Spelling::Percent { lower_hex: true } => ("%3a", "%2f"),
        };
        let scheme = scheme
            .map(|scheme| format!("{scheme}{colon}"))
            .unwrap_or_default();
        format!("{scheme}{slash}{slash}{host}{}", path.replace('/', slash))
    }

    fn form(spelling: Spelling, schemed: bool) -> UrlForm {
        match (spelling, schemed) {
            (Spelling::Plain, true) => UrlForm::Plain,
            (Spelling::Plain, false) => UrlForm::ProtocolRelative,
            (Spelling::Json, _) => UrlForm::JsonEscaped,
            (Spelling::Percent { .. }, _) => UrlForm::PercentEncoded,
        }
    }

    /// `text` with the case of its letters flipped where `flips` (repeated) says so.
    fn recased(text: &str, flips: &[bool]) -> String {
        text.chars()
            .zip(flips.iter().cycle())
            .map(|(ch, &flip)| match (flip, ch.is_ascii_lowercase()) {
                (false, _) => ch,
                (true, true) => ch.to_ascii_uppercase(),
                (true, false) => ch.to_ascii_lowercase(),
            })
            .collect()
    }

    #[derive(Clone, Debug)]
    enum Piece {
        /// A FROM in some form and case, then a suffix: rewritten to the TO.
        Hit {
            rule: usize,
            spelling: Spelling,
            schemed: bool,
            flips: Vec<bool>,
            suffix: &'static str,
        },
        /// A TO in some form: kept.
        To {
            rule: usize,
            spelling: Spelling,
            schemed: bool,
        },
        /// A near miss: kept.
        Miss(&'static str),
        /// Anything too short to hold a FROM: kept.
        Junk(String),
    }

    impl Piece {
        /// The text of the piece, and what it is rewritten to with the counted form.
        fn render(&self) -> (String, String, Option<(usize, UrlForm)>) {
            match self {
                Piece::Hit {
                    rule,
                    spelling,
                    schemed,
                    flips,
                    suffix,
                } => {
                    let [(scheme, host, path), (to_scheme, to_host, to_path)] = RULES[*rule];
                    let scheme = schemed.then(|| recased(scheme, flips));
                    let input = spelled(scheme.as_deref(), &recased(host, flips), path, *spelling);
                    let to_spelling = match spelling {
                        Spelling::Percent { .. } => Spelling::Percent { lower_hex: false },
                        other => *other,
                    };
                    let output =
                        spelled(schemed.then_some(to_scheme), to_host, to_path, to_spelling);
                    (
                        format!("{input}{suffix}"),
                        format!("{output}{suffix}"),
                        Some((*rule, form(*spelling, *schemed))),
                    )
                }
                Piece::To {
                    rule,
                    spelling,
                    schemed,
                } => {
                    let (scheme, host, path) = RULES[*rule][1];
                    let text = spelled(schemed.then_some(scheme), host, path, *spelling);
                    (text.clone(), text, None)
                }
                Piece::Miss(text) => ((*text).to_owned(), (*text).to_owned(), None),
                Piece::Junk(text) => (text.clone(), text.clone(), None),
            }
        }
    }

    fn spelling() -> impl Strategy<Value = Spelling> {
        prop_oneof![
            Just(Spelling::Plain),
            Just(Spelling::Json),
            any::<bool>().prop_map(|lower_hex| Spelling::Percent { lower_hex }),
        ]
    }

    fn piece() -> impl Strategy<Value = Piece> {
        prop_oneof![
            3 => (
                0..RULES.len(),
                spelling(),
                any::<bool>(),
                prop::collection::vec(any::<bool>(), 1..8),
                prop::sample::select(SUFFIXES),
            )
                .prop_map(|(rule, spelling, schemed, flips, suffix)| Piece::Hit {
                    rule,
                    spelling,
                    schemed,
                    flips,
                    suffix,
                }),
            1 => (0..RULES.len(), spelling(), any::<bool>())
                .prop_map(|(rule, spelling, schemed)| Piece::To { rule, spelling, schemed }),
            2 => prop::sample::select(MISSES).prop_map(Piece::Miss),
            1 => "[a-z0-9./:%\\\\-]{0,6}".prop_map(Piece::Junk),
        ]
    }

    fn rewrite() -> UrlRewrite {
        let rules: Vec<RewriteRule> = RULES
            .iter()
            .map(|[(scheme, host, path), (to_scheme, to_host, to_path)]| {
                RewriteRule::new(
                    &format!("{scheme}://{host}{path}"),
                    &format!("{to_scheme}://{to_host}{to_path}"),
                )
                .unwrap()
            })
            .collect();
        UrlRewrite::new(&rules).unwrap()
    }

    proptest! {
        /// Pieces apart: every FROM is rewritten, nothing else is, the counts say so, and
        /// the result holds no FROM any more.
        #[test]
        fn separated_pieces_rewrite_as_modelled(
            pieces in prop::collection::vec((piece(), prop::sample::select(SEPARATORS)), 0..12),
        ) {
            let rewrite = rewrite();
            let mut input = String::new();
            let mut expected = String::new();
            let mut expected_counts = RewriteCounts::default();
            for (piece, separator) in &pieces {
                let (text, output, counted) = piece.render();
                input.push_str(&text);
                input.push_str(separator);
                expected.push_str(&output);
                expected.push_str(separator);
                if let Some((rule, form)) = counted {
                    expected_counts.add(rule, form, 1);
                }
            }

            let (text, counts) = rewrite.rewrite_str(&input);
            prop_assert_eq!(&text, &expected);
            prop_assert_eq!(&counts, &expected_counts);

            let (bytes, byte_counts) = rewrite.rewrite_bytes(input.as_bytes());
            prop_assert_eq!(&*bytes, expected.as_bytes());
            prop_assert_eq!(&byte_counts, &expected_counts);

            let (again, again_counts) = rewrite.rewrite_str(&text);
            prop_assert!(matches!(again, Cow::Borrowed(_)));
            prop_assert_eq!(again_counts.total(), 0);
        }

        /// Pieces run together with any characters between them: text and bytes agree, and
        /// a second pass changes nothing (no TO holds a FROM, and no boundary changes).
        #[test]
        fn any_text_is_rewritten_once_and_for_all(
            pieces in prop::collection::vec((piece(), ".{0,3}"), 0..12),
        ) {
            let rewrite = rewrite();
            let input: String = pieces
                .iter()
                .map(|(piece, glue)| piece.render().0 + glue)
                .collect();

            let (text, counts) = rewrite.rewrite_str(&input);
            let (bytes, byte_counts) = rewrite.rewrite_bytes(input.as_bytes());
            prop_assert_eq!(&*bytes, text.as_bytes());
            prop_assert_eq!(&byte_counts, &counts);

            let (again, again_counts) = rewrite.rewrite_str(&text);
            prop_assert_eq!(&again, &text);
            prop_assert_eq!(again_counts.total(), 0);
        }
    }
}
