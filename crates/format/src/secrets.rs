//! Which JSON values are secrets, and how they are removed.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};
use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

mod records;

pub use records::{RecordRedaction, RecordRules};

use crate::credentials::allowed_value_problem;
use crate::{
    AllowedCredential, ArchivePath, CredentialMatch, DOCUMENTED_EXAMPLE_CREDENTIALS, FormatError,
    SiteSecrets, find_credentials,
};

/// Word sequences that make a key secret when its words end with them
/// (`smtp_password`, `stripe_api_key`, `proxy_authorization`).
const SECRET_PHRASES: &[&[&str]] = &[
    &["password"],
    &["passwd"],
    &["pass"],
    &["pwd"],
    &["passphrase"],
    &["passcode"],
    &["token"],
    &["api", "key"],
    &["apikey"],
    &["private", "key"],
    &["priv", "key"],
    &["privkey"],
    &["signing", "key"],
    &["encryption", "key"],
    &["tls", "key"],
    &["ssl", "key"],
    &["authorization"],
    &["credential"],
];
/// Secret only after another word (`stripe_sk`): a bare `sk` is also a language code.
const QUALIFIED_SECRET_WORDS: &[&str] = &["sk"];
/// A key with this word anywhere among its words is secret (`aws_secret_access_key`).
const SECRET_WORD: &str = "secret";
/// Trailing words that say how a value is written, not what it is: `privateKeyPem` is a
/// private key, `token_value` a token.
const ENCODING_WORDS: &[&str] = &[
    "pem", "der", "b64", "base64", "hex", "raw", "value", "string", "str", "text", "data",
];

/// Every key that a default rule catches contains one of these, in ASCII lower case
/// (after NFKC, which is the identity on ASCII).
const DEFAULT_RULE_WORDS: &[&str] = &[
    "pass",
    "pwd",
    "secret",
    "token",
    "key",
    "authorization",
    "credential",
    "sk",
];

/// Members of an object naming a header or setting (`{"name": "Authorization",
/// "value": "Bearer …"}`): when one of them holds a secret key name, [`PAIR_VALUE`] is
/// secret.
const PAIR_NAMES: &[&str] = &["name", "key", "header"];
const PAIR_VALUE: &str = "value";

/// A URL whose userinfo holds a password: `scheme://user:password@`.
static URL_WITH_PASSWORD: LazyLock<Regex> = LazyLock::new(|| {
    #[expect(clippy::expect_used, reason = "a constant pattern, covered by tests")]
    Regex::new(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@:]*:[^\s/?#@]+@").expect("pattern compiles")
});

/// The secret policy of one site: the default key patterns plus the site's additions
/// from `site.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretPolicy {
    /// The site's `secrets.keys`, normalized to words.
    extra_keys: Vec<Vec<String>>,
    pointers: Vec<(ArchivePath, String)>,
    /// `secrets.allow` values.
    allowed_values: Vec<String>,
    /// `secrets.allow` path globs.
    allowed_paths: Vec<String>,
    /// Everything is kept whole: no value redacted, no credential refused (a
    /// database site's pre-restore snapshot, which never leaves the site's own state
    /// directory and must give back exactly the rows it replaced).
    keep_rows_whole: bool,
}

impl SecretPolicy {
    /// The policy of a site with the given `site.json` additions.
    pub fn new(additions: Option<&SiteSecrets>) -> Result<Self, FormatError> {
        let Some(additions) = additions else {
            return Ok(Self::default());
        };
        let extra_keys = additions.keys.iter().map(|k| key_words(k)).collect();
        let pointers = additions
            .pointers
            .iter()
            .map(|text| parse_site_pointer(text))
            .collect::<Result<_, _>>()?;
        let mut allowed_values = Vec::new();
        let mut allowed_paths = Vec::new();
        for (index, item) in additions.allow.iter().enumerate() {
            match item {
                AllowedCredential::Value(value) => {
                    if let Some(reason) = allowed_value_problem(value) {
                        return Err(FormatError::InvalidAllowedValue { index, reason });
                    }
                    allowed_values.push(value.clone());
                }
                AllowedCredential::Path(glob) => allowed_paths.push(glob.clone()),
            }
        }
        Ok(Self {
            extra_keys,
            pointers,
            allowed_values,
            allowed_paths,
            keep_rows_whole: false,
        })
    }

    /// The policy of a local snapshot of table rows: the rows written through
    /// [`RecordRules`] are kept whole (nothing redacted, no credential refused). Only for
    /// an archive that never leaves the site's state directory (a database site's
    /// pre-restore snapshot, which must put back exactly the rows it holds).
    #[must_use]
    pub fn keeping_rows_whole() -> Self {
        Self {
            keep_rows_whole: true,
            ..Self::default()
        }
    }

    /// Whether rows are kept whole ([`Self::keeping_rows_whole`]).
    #[must_use]
    pub fn keeps_rows_whole(&self) -> bool {
        self.keep_rows_whole
    }

    /// Whether a credential shape matching `credential` may travel in the entry at the
    /// site-relative `path`: a documented example value, a `secrets.allow` value, or a
    /// file a `secrets.allow` path glob matches.
    #[must_use]
    pub fn allows_credential(&self, path: &ArchivePath, credential: &[u8]) -> bool {
        self.keep_rows_whole
            || self.allows_credential_value(credential)
            || self
                .allowed_paths
                .iter()
                .any(|glob| glob_matches(glob, path.as_str()))
    }

    /// Whether `credential` is a documented example value or a `secrets.allow` value
    /// (for text outside any file, such as an archive's label).
    #[must_use]
    pub fn allows_credential_value(&self, credential: &[u8]) -> bool {
        DOCUMENTED_EXAMPLE_CREDENTIALS
            .iter()
            .copied()
            .chain(self.allowed_values.iter().map(String::as_str))
            .any(|allowed| allowed.as_bytes() == credential)
    }

    /// The credential shapes in `bytes` of the entry at `path` that are not allowed.
    #[must_use]
    pub fn credentials_in(&self, path: &ArchivePath, bytes: &[u8]) -> Vec<CredentialMatch> {
        let mut found = find_credentials(bytes);
        found.retain(|f| !self.allows_credential(path, &f.value));
        found
    }

    /// The credential shapes in the keys and strings of `value` (a document, or one
    /// record or line of the entry at `path`) that are not allowed, with the pointer of
    /// the string or member that holds each.
    #[must_use]
    pub fn credentials_in_value(
        &self,
        path: &ArchivePath,
        value: &Value,
    ) -> Vec<(String, CredentialMatch)> {
        let mut found = Vec::new();
        self.collect_credentials(path, value, &mut String::new(), &mut found);
        found
    }

    /// Depth-first, in document order (`serde_json` bounds the depth at 128).
    fn collect_credentials(
        &self,
        path: &ArchivePath,
        value: &Value,
        pointer: &mut String,
        found: &mut Vec<(String, CredentialMatch)>,
    ) {
        let mut add = |pointer: &str, text: &str| {
            found.extend(
                self.credentials_in(path, text.as_bytes())
                    .into_iter()
                    .map(|m| (pointer.to_owned(), m)),
            );
        };
        match value {
            Value::String(text) => add(pointer, text),
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    let len = pointer.len();
                    pointer.push('/');
                    pointer.push_str(&index.to_string());
                    self.collect_credentials(path, item, pointer, found);
                    pointer.truncate(len);
                }
            }
            Value::Object(map) => {
                for (key, item) in map {
                    let len = pointer.len();
                    pointer.push('/');
                    push_escaped_token(pointer, key);
                    found.extend(
                        self.credentials_in(path, key.as_bytes())
                            .into_iter()
                            .map(|m| (pointer.clone(), m)),
                    );
                    self.collect_credentials(path, item, pointer, found);
                    pointer.truncate(len);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    /// Whether values under `key` are secret (docs/FORMAT.md §11.1): the key's words
    /// (NFKC, trimmed, camelCase and every separator split, lower case, the last word
    /// singular) end with a secret phrase, or hold the word `secret`, or equal one of the
    /// site's `secrets.keys`.
    #[must_use]
    pub fn is_secret_key(&self, key: &str) -> bool {
        // Fast path for the common case: every default rule needs one of these words,
        // and most keys of a site hold none of them.
        // Separators are dropped first, since words are also matched joined (`pass_word`).
        if self.extra_keys.is_empty() && key.is_ascii() {
            // Asked of every member of every record: usual keys need no allocation.
            let mut stack = [0u8; 64];
            let mut heap = Vec::new();
            let letters = key
                .bytes()
                .filter(u8::is_ascii_alphanumeric)
                .map(|b| b.to_ascii_lowercase());
            let lower: &[u8] = if key.len() <= stack.len() {
                let mut len = 0;
                for (slot, b) in stack.iter_mut().zip(letters) {
                    *slot = b;
                    len += 1;
                }
                &stack[..len]
            } else {
                heap.extend(letters);
                &heap
            };
            if !DEFAULT_RULE_WORDS
                .iter()
                .any(|word| lower.windows(word.len()).any(|w| w == word.as_bytes()))
            {
                return false;
            }
        }
        let words = key_words(key);
        is_default_secret(&words) || self.extra_keys.contains(&words)
    }

    /// Removes every secret value from `value`, a document at `site_path` or one record
    /// of the collection at `site_path`, and returns the RFC 6901 pointers of what was
    /// removed (site pointers first, then each object's secret members before its
    /// children's). Empty strings and `null` are not secrets and stay.
    /// A secret object member is removed; a secret array element (named by a site
    /// pointer, or a URL with a password) becomes `null`, so that later indices keep
    /// their meaning. `site.json`'s own `secrets` member (the policy itself) is skipped.
    pub fn redact(&self, site_path: &ArchivePath, value: &mut Value) -> Vec<String> {
        let mut removed = Vec::new();
        if self.keep_rows_whole {
            return removed;
        }
        for (path, pointer) in &self.pointers {
            if path == site_path && remove_at_pointer(value, pointer) {
                removed.push(pointer.clone());
            }
        }
        if is_url_with_password(value) {
            *value = Value::Null;
            removed.push(String::new());
        }
        let skip = (site_path.as_str() == SITE_JSON).then_some(SITE_POLICY_MEMBER);
        let mut members = Vec::new();
        self.redact_members(value, &mut String::new(), skip, &mut members);
        removed.extend(members.into_iter().map(|(pointer, _)| pointer));
        removed
    }

    /// Whether an object member is secret: its key, the name it is paired with, or a URL
    /// with a password as its value.
    fn is_secret_member(&self, key: &str, value: &Value, secret_pair: bool) -> bool {
        holds_secret(value)
            && (self.is_secret_key(key)
                || (secret_pair && is_single_word(key, PAIR_VALUE))
                || is_url_with_password(value))
    }

    /// Whether an object names a secret setting in a `name`/`key`/`header` member, so
    /// that its `value` member is secret.
    fn is_secret_pair(&self, map: &Map<String, Value>) -> bool {
        map.iter().any(|(key, named)| {
            named.as_str().is_some_and(|name| {
                PAIR_NAMES.iter().any(|pair| is_single_word(key, pair)) && self.is_secret_key(name)
            })
        })
    }

    /// Removes the secret members below `value` (at `pointer`), adding each removed
    /// value with its pointer to `removed`.
    fn redact_members(
        &self,
        value: &mut Value,
        pointer: &mut String,
        skip: Option<&str>,
        removed: &mut Vec<(String, Value)>,
    ) {
        match value {
            Value::Object(map) => {
                let secret_pair = self.is_secret_pair(map);
                let secret_keys: Vec<String> = map
                    .iter()
                    .filter(|(key, v)| {
                        skip != Some(key.as_str()) && self.is_secret_member(key, v, secret_pair)
                    })
                    .map(|(key, _)| key.clone())
                    .collect();
                for key in secret_keys {
                    let secret = map.shift_remove(&key).unwrap_or_default();
                    removed.push((format!("{pointer}/{}", escape_pointer_token(&key)), secret));
                }
                // Only containers can hold secret members; scalars need no pointer.
                for (key, child) in map.iter_mut() {
                    if skip == Some(key.as_str())
                        || !matches!(child, Value::Object(_) | Value::Array(_))
                    {
                        continue;
                    }
                    let len = pointer.len();
                    pointer.push('/');
                    push_escaped_token(pointer, key);
                    self.redact_members(child, pointer, None, removed);
                    pointer.truncate(len);
                }
            }
            Value::Array(items) => {
                for (index, child) in items.iter_mut().enumerate() {
                    let len = pointer.len();
                    pointer.push('/');
                    pointer.push_str(&index.to_string());
                    if is_url_with_password(child) {
                        removed.push((pointer.clone(), std::mem::take(child)));
                    } else {
                        self.redact_members(child, pointer, None, removed);
                    }
                    pointer.truncate(len);
                }
            }
            _ => {}
        }
    }
}

/// `site.json`, whose [`SITE_POLICY_MEMBER`] the policy skips.
const SITE_JSON: &str = "site.json";
/// `site.json`'s `secrets`: key names, pointers and allowed values, not secrets.
const SITE_POLICY_MEMBER: &str = "secrets";

fn holds_secret(value: &Value) -> bool {
    !matches!(value, Value::Null) && value.as_str() != Some("")
}

/// Whether `text` contains a URL whose userinfo holds a password
/// (`scheme://user:password@`): secret wherever it is (docs/FORMAT.md §11.1).
#[must_use]
pub fn contains_url_with_password(text: &str) -> bool {
    URL_WITH_PASSWORD.is_match(text)
}

fn is_url_with_password(value: &Value) -> bool {
    // `://` first: asked of every string of every record, and most hold none.
    value
        .as_str()
        .is_some_and(|s| s.contains("://") && URL_WITH_PASSWORD.is_match(s))
}

/// A key's words: NFKC, split at every character that is not a letter or digit and
/// where camelCase starts a word (`apiKey`, `APIKey`, `S3Key`), in lower case, the last
/// word made singular (`apiKeys` → `api`, `key`).
fn key_words(key: &str) -> Vec<String> {
    // Invisible characters (`pa\u{AD}ssword`) are dropped, not separators; NFKC can
    // produce some (U+FFA0 → U+1160), so they are dropped after it too.
    let chars: Vec<char> = key
        .chars()
        .filter(|&c| !is_ignorable(c))
        .nfkc()
        .filter(|&c| !is_ignorable(c))
        .collect();
    let mut words = Vec::new();
    let mut word = String::new();
    for (i, &ch) in chars.iter().enumerate() {
        if !ch.is_alphanumeric() {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            continue;
        }
        let previous = i.checked_sub(1).map(|p| chars[p]);
        let next = chars.get(i + 1);
        // A word starts at an upper-case letter after a lower-case letter or digit
        // (`apiKey`), or at the last capital of an acronym (`APIKey`).
        let starts_word = ch.is_uppercase()
            && previous.is_some_and(|p| {
                p.is_lowercase()
                    || p.is_ascii_digit()
                    || (p.is_uppercase() && next.is_some_and(|n| n.is_lowercase()))
            });
        if starts_word && !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
        word.extend(ch.to_lowercase());
    }
    if !word.is_empty() {
        words.push(word);
    }
    if let Some(last) = words.last_mut() {
        make_singular(last);
    }
    words
}

/// Whether `key`'s words are exactly `word` (lower case, singular). Asked of every
/// member of every record, so an ASCII key is first compared cheaply: its words are
/// `word` only if its letters and digits, in lower case, spell `word` or its plural
/// (NFKC leaves ASCII as it is, and only a final `s` is made singular).
fn is_single_word(key: &str, word: &str) -> bool {
    if key.is_ascii() {
        let mut letters = key
            .bytes()
            .filter(u8::is_ascii_alphanumeric)
            .map(|b| b.to_ascii_lowercase());
        if !word.bytes().all(|b| letters.next() == Some(b)) {
            return false;
        }
        match (letters.next(), letters.next()) {
            (None, _) | (Some(b's'), None) => {}
            _ => return false,
        }
    }
    key_words(key) == [word]
}

/// Characters a key's words ignore: format characters (general category `Cf`: soft
/// hyphen, zero-width space and joiners, bidirectional controls, tags…) and the other
/// default-ignorable ones (combining grapheme joiner, variation selectors, Hangul fillers).
fn is_ignorable(c: char) -> bool {
    c.general_category() == GeneralCategory::Format
        || matches!(
            c,
            '\u{034F}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FFA0}'
                | '\u{E0000}'..='\u{E0FFF}'
        )
}

/// `keys` → `key`, `credentials` → `credential`; `pass`, `tls` and `ids` stay.
fn make_singular(word: &mut String) {
    if word.len() > 3 && word.ends_with('s') && !word.ends_with("ss") {
        word.pop();
    }
}

/// The default rules on a key's words.
fn is_default_secret(words: &[String]) -> bool {
    // `secret` as a word, or spelled as several (`sEcReT` → `s ec re t`, `Se_Crets`).
    for start in 0..words.len() {
        let mut joined = String::new();
        for (end, word) in words.iter().enumerate().skip(start) {
            joined.push_str(word);
            if joined == SECRET_WORD
                || (end + 1 == words.len() && joined.strip_suffix('s') == Some(SECRET_WORD))
            {
                return true;
            }
            if joined.len() > SECRET_WORD.len() {
                break;
            }
        }
    }
    let mut core = words;
    while let [rest @ .., last] = core
        && ENCODING_WORDS.contains(&last.as_str())
    {
        core = rest;
    }
    let ends_with = |phrase: &[&str]| {
        core.len() >= phrase.len() && core[core.len() - phrase.len()..] == *phrase
    };
    SECRET_PHRASES.iter().any(|phrase| ends_with(phrase))
        || (core.len() >= 2 && QUALIFIED_SECRET_WORDS.iter().any(|w| ends_with(&[w])))
        || ends_with_joined_phrase(core)
}

/// Whether some trailing words of `core`, joined without separators and made singular,
/// spell a secret phrase joined the same way: `passPhrase` (`pass phrase`),
/// `keystorePassWord`, `PassWd`, `pass_word` — one-word secret names split by camelCase or
/// a separator. A suffix of a single word is never matched (`bypass`, `compass` stay),
/// and nothing may follow the phrase (`passwordHash` stays).
fn ends_with_joined_phrase(core: &[String]) -> bool {
    let mut joined = String::new();
    for word in core.iter().rev() {
        joined.insert_str(0, word);
        let mut singular = joined.clone();
        make_singular(&mut singular);
        if SECRET_PHRASES
            .iter()
            .any(|phrase| phrase.concat() == joined || phrase.concat() == singular)
        {
            return true;
        }
        // Longer than a plural of the longest phrase: more words cannot help.
        if joined.len() > LONGEST_JOINED_PHRASE + 1 {
            return false;
        }
    }
    false
}

/// Bytes of the longest secret phrase joined (`authorization`, `encryptionkey`).
const LONGEST_JOINED_PHRASE: usize = 13;

/// Whether the site-relative `path` matches `glob`: `**` as a whole component matches
/// any number of components (none too), `*` any characters and `?` one character
/// within a component; everything else matches itself.
fn glob_matches(glob: &str, path: &str) -> bool {
    let globs: Vec<&str> = glob.split('/').collect();
    let parts: Vec<&str> = path.split('/').collect();
    components_match(&globs, &parts)
}

fn components_match(globs: &[&str], parts: &[&str]) -> bool {
    match globs.split_first() {
        None => parts.is_empty(),
        Some((&"**", rest)) => (0..=parts.len()).any(|skip| components_match(rest, &parts[skip..])),
        Some((glob, rest)) => parts.split_first().is_some_and(|(part, parts)| {
            let glob: Vec<char> = glob.chars().collect();
            let part: Vec<char> = part.chars().collect();
            component_matches(&glob, &part) && components_match(rest, parts)
        }),
    }
}

fn component_matches(glob: &[char], text: &[char]) -> bool {
    match glob.split_first() {
        None => text.is_empty(),
        Some(('*', rest)) => (0..=text.len()).any(|skip| component_matches(rest, &text[skip..])),
        Some((&ch, rest)) => text.split_first().is_some_and(|(&first, text)| {
            (ch == '?' || ch == first) && component_matches(rest, text)
        }),
    }
}

/// Escapes one reference token for an RFC 6901 pointer (`~` → `~0`, `/` → `~1`).
#[must_use]
pub fn escape_pointer_token(token: &str) -> String {
    let mut out = String::with_capacity(token.len());
    push_escaped_token(&mut out, token);
    out
}

pub(crate) fn push_escaped_token(out: &mut String, token: &str) {
    if !token.contains(['~', '/']) {
        out.push_str(token);
        return;
    }
    for ch in token.chars() {
        match ch {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            _ => out.push(ch),
        }
    }
}

fn parse_site_pointer(text: &str) -> Result<(ArchivePath, String), FormatError> {
    let bad = |reason: &str| FormatError::InvalidSecretPointer {
        pointer: text.to_owned(),
        reason: reason.to_owned(),
    };
    let (path, pointer) = text
        .split_once('#')
        .ok_or_else(|| bad("there is no `#` between the file and the pointer"))?;
    let path: ArchivePath = path.parse().map_err(|e: FormatError| bad(&e.to_string()))?;
    if !pointer.starts_with('/') {
        return Err(bad("the pointer must start with `/`"));
    }
    if !valid_escapes(pointer) {
        return Err(bad("`~` must be followed by `0` or `1`"));
    }
    Ok((path, pointer.to_owned()))
}

fn valid_escapes(pointer: &str) -> bool {
    let bytes = pointer.as_bytes();
    bytes
        .iter()
        .enumerate()
        .all(|(i, &b)| b != b'~' || matches!(bytes.get(i + 1), Some(b'0' | b'1')))
}

/// Removes the value at `pointer`; `true` when a secret was there.
fn remove_at_pointer(value: &mut Value, pointer: &str) -> bool {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return false;
    };
    let last = last.replace("~1", "/").replace("~0", "~");
    match value.pointer_mut(parent) {
        Some(Value::Object(map)) => match map.get(&last) {
            Some(v) if holds_secret(v) => map.shift_remove(&last).is_some(),
            _ => false,
        },
        Some(Value::Array(items)) => {
            match last.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                Some(v) if holds_secret(v) => {
                    *v = Value::Null;
                    true
                }
                _ => false,
            }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn path(s: &str) -> ArchivePath {
        s.parse().unwrap()
    }

    #[test]
    fn only_the_snapshot_policy_keeps_rows_whole() {
        assert!(SecretPolicy::keeping_rows_whole().keeps_rows_whole());
        assert!(!SecretPolicy::default().keeps_rows_whole());
    }

    #[test]
    fn a_secret_word_past_the_64th_letter_of_a_long_key_is_found() {
        let policy = SecretPolicy::default();
        let long = format!("{}_password", "note".repeat(20));
        assert!(long.len() > 64);
        assert!(policy.is_secret_key(&long), "{long}");
        let plain = format!("{}_colour", "note".repeat(20));
        assert!(!policy.is_secret_key(&plain), "{plain}");
    }

    #[test]
    fn secrets_is_a_secret_word_only_as_the_last_word() {
        let policy = SecretPolicy::default();
        assert!(policy.is_secret_key("app_secrets"));
        assert!(policy.is_secret_key("AppSecrets"));
        // Spelled in pieces, the plural's last piece too short to lose its `s` alone.
        assert!(policy.is_secret_key("se_cre_ts"));
        assert!(!policy.is_secret_key("se_cre_ts_note"));
        assert!(!policy.is_secret_key("secrets_count"));
        // A phrase's plural in pieces, its `s` a piece of its own: 14 letters joined.
        assert!(policy.is_secret_key("a_uthorization_s"));
    }

    #[test]
    fn a_url_with_a_password_is_found_anywhere_in_a_text() {
        assert!(contains_url_with_password(
            "connect with postgres://app:hunter2@db.example/shop please"
        ));
        assert!(!contains_url_with_password("see https://example.com/docs"));
        assert!(!contains_url_with_password(
            "postgres://app@db.example/shop"
        ));
    }

    #[test]
    fn a_local_snapshot_policy_keeps_every_value() {
        let whole = SecretPolicy::keeping_rows_whole();
        let at = path("db/customers.jsonl");
        let mut value = json!({"password": "hunter2", "url": "postgres://u:pw@h/db"});
        let kept = value.clone();
        assert!(whole.redact(&at, &mut value).is_empty());
        assert_eq!(value, kept);
        assert!(whole.allows_credential(&at, b"AKIAIOSFODNN7EXAMPLF"));
        // The default policy removes both.
        let mut value = kept.clone();
        assert_eq!(SecretPolicy::default().redact(&at, &mut value).len(), 2);
    }

    #[test]
    #[expect(clippy::too_many_lines, reason = "two tables of keys")]
    fn default_key_patterns() {
        let policy = SecretPolicy::default();
        let secret = [
            "password",
            "PASSWORD",
            "passwd",
            "secret",
            "token",
            "api_key",
            "apikey",
            "apiKey",
            "API_KEY",
            "X-Api-Key",
            "private_key",
            "privateKey",
            "signing_key",
            "access_token",
            "accessToken",
            "refresh_token",
            "client_secret",
            "clientSecret",
            "webhook_secret",
            "bot_token",
            "smtp_password",
            "stripe_api_key",
            "ssh_private_key",
            "stripe_secret_key",
            "jwt_signing_key",
            "secret_access_key",
            "secret_",
            "Secret-Question",
            // Names the policy once let through (issue "Broken promises I", D9).
            "privateKeyPem",
            "stripe_sk",
            "pass",
            "pwd",
            "passphrase",
            "privkey",
            "tls_key",
            "apiKeys",
            "api_keys",
            "tokens",
            "proxy-authorization",
            "Password ",
            "ｐａｓｓｗｏｒｄ",
            // The same rules on other names.
            "db_pass",
            "ADMIN_PWD",
            "gpgPassphrase",
            "signing_key_b64",
            "Ssl.Key",
            "sftp_passwords",
            "x-auth-tokens",
            "oauth2Credentials",
            "live_sk",
            "  token\t",
            "ＡＰＩ＿ＫＥＹ",
            "privKey",
            "encryption_key_hex",
            "PROXY_AUTHORIZATION",
            "client_secrets",
            // One-word secret names split by camelCase, a separator or an invisible
            // character (issue "secret names that travel", item 1).
            "passPhrase",
            "keystorePassWord",
            "passCode",
            "PassWd",
            "sEcReT",
            "pass_word",
            "pass-phrase",
            "pa\u{AD}ssword",
            "pass\u{200B}word",
            "to\u{2060}ken",
            "Pass_Words",
            "PassWds",
            "smtpPassWord",
            "db.pass.wd",
            "tok_en",
            "api_Key",
            "Author_ization",
            "Se_Crets",
            "s_ecret_ary",
            "webhookSeCret",
            "gpgPassPhraseB64",
            "pass\u{FE0F}word",
        ];
        for key in secret {
            assert!(policy.is_secret_key(key), "{key} should be secret");
        }
        let not_secret = [
            "password_hash",
            "passwordHash",
            "token_expiry_days",
            "publishable_key",
            "client_id",
            "secretary",
            "tokens_used",
            "api",
            "key",
            "username",
            "email",
            "id",
            "public_key",
            "password_policy",
            "secretary_name",
            "PasswordHash",
            "token_count",
            "api_version",
            "credential_type",
            "access_key_id",
            // More that must stay: words that merely contain a secret word, and
            // settings about secrets rather than secrets.
            "passenger",
            "compass",
            "bypass",
            "password_min_length",
            "sk",
            "sku",
            "task",
            "token_type",
            "private_key_id",
            "public_key_fingerprint",
            "passport_number",
            "tls_version",
            "value",
            "pem",
            "key_value",
            "secretariat",
            "",
            "_",
            "passwordless_login",
            "authorization_url",
            // Joined words must spell the whole phrase, end the key, and span words.
            "passWordHash",
            "pass_word_policy",
            "PassWordMinLength",
            "sec_retary",
            "secre_tary",
            "se\u{AD}cretary",
            "by_pass_enabled",
            "com_passion",
            "pass_port",
            "pass_enger",
            "tok_en_expiry_days",
            "token_expiry_days",
            "PassCodeLength",
        ];
        for key in not_secret {
            assert!(!policy.is_secret_key(key), "{key} should not be secret");
        }
    }

    #[test]
    fn the_longest_joined_phrase_bounds_them_all() {
        let longest = SECRET_PHRASES.iter().map(|p| p.concat().len()).max();
        assert_eq!(longest, Some(LONGEST_JOINED_PHRASE));
    }

    #[test]
    fn single_words_are_found_with_or_without_the_fast_path() {
        for (key, word, expected) in [
            ("name", "name", true),
            ("Names", "name", true),
            ("_KEY_", "key", true),
            ("keys", "key", true),
            ("value", "value", true),
            ("Value", "value", true),
            ("nAme", "name", false),
            ("key_name", "name", false),
            ("keyss", "key", false),
            ("header2", "header", false),
            ("ｎａｍｅ", "name", true),
            ("na\u{AD}me", "name", true),
            ("values", "value", true),
        ] {
            assert_eq!(is_single_word(key, word), expected, "{key:?} {word:?}");
            assert_eq!(key_words(key) == [word], expected, "{key:?} {word:?}");
        }
    }

    #[test]
    fn key_words_split_normalize_and_singularize() {
        let table: &[(&str, &[&str])] = &[
            ("clientSecret", &["client", "secret"]),
            ("X-Api-Key", &["x", "api", "key"]),
            ("APIKey", &["api", "key"]),
            ("HTTPToken", &["http", "token"]),
            ("S3Key", &["s3", "key"]),
            ("apiKeys", &["api", "key"]),
            ("ＡＰＩ＿ＫＥＹＳ", &["api", "key"]),
            (" Password ", &["password"]),
            ("a..b__c", &["a", "b", "c"]),
            ("tls", &["tls"]),
            ("pass", &["pass"]),
            ("ids", &["ids"]),
            ("pwds", &["pwd"]),
            ("Straße", &["straße"]),
            ("pa\u{AD}ssword", &["password"]),
            ("pass\u{200B}Word", &["pass", "word"]),
            ("\u{FEFF}token\u{200D}", &["token"]),
            ("sEcReT", &["s", "ec", "re", "t"]),
            ("", &[]),
        ];
        for (key, words) in table {
            assert_eq!(key_words(key), *words, "{key:?}");
        }
    }

    #[test]
    fn name_value_pairs_and_urls_with_passwords_are_secret() {
        let policy = SecretPolicy::default();
        let mut doc = json!({
            "headers": [
                {"name": "Authorization", "value": "Bearer eyJ-pair-1"},
                {"name": "Accept", "value": "text/html"},
                {"header": "X-Api-Key", "Value": "xk-pair-2"},
                {"key": "db_password", "value": "", "note": "empty stays"},
                {"Name": "proxy-authorization", "value": {"basic": "pair-3"}},
                {"title": "token", "value": "kept-title-pair"}
            ],
            "db": "postgres://app:pg-pass-4@db.example:5432/shop",
            "mirror": "https://mirror.example/x?user=a:b@c",
            "plain": "https://user@host.example/",
            "list": ["ok", "redis://:rd-pass-5@cache:6379", {"u": "ftp://f:ftp-6@h"}],
            "at_root_of_text": "see https://ops:ops-7@ci.example/job now"
        });
        let removed = policy.redact(&path("modules/hooks/calls.json"), &mut doc);
        assert_eq!(
            removed,
            [
                "/db",
                "/at_root_of_text",
                "/headers/0/value",
                "/headers/2/Value",
                "/headers/4/value",
                "/list/1",
                "/list/2/u",
            ]
        );
        let text = doc.to_string();
        for gone in [
            "eyJ-pair-1",
            "xk-pair-2",
            "pair-3",
            "pg-pass-4",
            "rd-pass-5",
            "ftp-6",
            "ops-7",
        ] {
            assert!(!text.contains(gone), "{gone}: {text}");
        }
        for kept in [
            "text/html",
            "empty stays",
            "user=a:b@c",
            "https://user@host.example/",
        ] {
            assert!(text.contains(kept), "{kept}: {text}");
        }
        // A whole value that is such a URL becomes null.
        let mut line = json!("amqp://q:amqp-8@broker");
        assert_eq!(policy.redact(&path("themes/x.jsonl"), &mut line), [""]);
        assert_eq!(line, Value::Null);
    }

    #[test]
    fn path_globs_match_components() {
        let table: &[(&str, &str, bool)] = &[
            ("files/keys/**", "files/keys/a.pem", true),
            ("files/keys/**", "files/keys/x/y/a.pem", true),
            ("files/keys/**", "files/keys", true),
            ("files/keys/**", "files/keysx/a.pem", false),
            ("**/test-*.pem", "modules/m/test-1.pem", true),
            ("**/test-*.pem", "test-.pem", true),
            ("**/test-*.pem", "modules/m/test-1.pem.bak", false),
            ("modules/*/fixture?.env", "modules/crm/fixture1.env", true),
            ("modules/*/fixture?.env", "modules/crm/fixture12.env", false),
            ("modules/*/fixture?.env", "modules/a/b/fixture1.env", false),
            ("modules/*/fixture?.env", "modules/crm/fixture.env", false),
            ("themes/app.env", "themes/app.env", true),
            ("themes/app.env", "themes/app.envx", false),
            ("themes/app.env", "themes", false),
            ("*", "a", true),
            ("*", "a/b", false),
            ("a/**/b", "a/b", true),
            ("a/**/b", "a/x/y/b", true),
            ("a/**/b", "a/x/y/c", false),
            ("ä?", "äé", true),
        ];
        for &(glob, path, want) in table {
            assert_eq!(glob_matches(glob, path), want, "{glob} vs {path}");
        }
    }

    #[test]
    fn allowed_credentials_are_documented_examples_site_values_and_paths() {
        let key = "files/ops/deploy.env";
        let real = b"ghp_0123456789abcdefghijABCDEFGHIJ012345";
        let default = SecretPolicy::default();
        assert!(default.allows_credential(&path(key), b"AKIAIOSFODNN7EXAMPLE"));
        assert!(default.allows_credential(&path(key), b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"));
        assert!(!default.allows_credential(&path(key), real));
        assert!(!default.allows_credential(&path(key), b"AKIAIOSFODNN7EXAMPLF"));
        let site = SecretPolicy::new(Some(&SiteSecrets {
            allow: vec![
                AllowedCredential::Value("xoxb-0000000000-test".into()),
                AllowedCredential::Path("files/fixtures/**".into()),
            ],
            ..SiteSecrets::default()
        }))
        .unwrap();
        assert!(site.allows_credential(&path(key), b"xoxb-0000000000-test"));
        assert!(!site.allows_credential(&path(key), real));
        assert!(site.allows_credential(&path("files/fixtures/k.txt"), real));
        assert!(site.allows_credential(&path(key), b"AKIAIOSFODNN7EXAMPLE"));

        let text = format!(
            "a: {} b: xoxb-0000000000-test",
            String::from_utf8_lossy(real)
        );
        let found = site.credentials_in(&path(key), text.as_bytes());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].shape, "a GitHub token");
        assert!(
            site.credentials_in(&path("files/fixtures/x"), text.as_bytes())
                .is_empty()
        );
    }

    #[test]
    fn an_allowed_value_allows_that_value_only() {
        let key = path("files/ops/deploy.env");
        let pem_a = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN\n-----END PRIVATE KEY-----";
        let pem_b = pem_a.replace("MIIE", "XXXX");
        let aws = "abcdEFGHijklMNOPqrstUVWXyz0123456789/+AB";
        let github = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
        let policy = |values: &[&str]| {
            SecretPolicy::new(Some(&SiteSecrets {
                allow: values
                    .iter()
                    .map(|v| AllowedCredential::Value((*v).to_owned()))
                    .collect(),
                ..SiteSecrets::default()
            }))
        };
        let site = policy(&[pem_a, aws, github]).unwrap();
        let shapes = |text: &str| -> Vec<&str> {
            site.credentials_in(&key, text.as_bytes())
                .into_iter()
                .map(|m| m.shape)
                .collect()
        };
        assert!(shapes(&format!("{pem_a}\n")).is_empty());
        assert_eq!(shapes(&pem_b), ["a PEM private key"]);
        assert_eq!(
            shapes("-----BEGIN PRIVATE KEY-----\nMIIE"),
            ["a PEM private key"]
        );
        assert!(shapes(&format!("aws_secret_access_key={aws}\n")).is_empty());
        assert_eq!(
            shapes(&format!("aws_secret_access_key={aws}MORE")),
            ["an AWS secret access key"]
        );
        assert!(shapes(&format!("{github} ")).is_empty());
        assert_eq!(shapes(&format!("{github}MORE")), ["a GitHub token"]);

        // An allowed header alone would allow every key with it: site.json is refused.
        for bad in [
            "-----BEGIN PRIVATE KEY-----",
            "-----BEGIN EC PRIVATE KEY-----\nMHc",
        ] {
            let err = policy(&["sk_live_TestFixture0042", bad]).unwrap_err();
            assert!(
                matches!(err, FormatError::InvalidAllowedValue { index: 1, .. }),
                "{err}"
            );
            assert!(!err.to_string().contains(bad), "{err}");
            assert!(!err.to_string().contains("PRIVATE KEY-----"), "{err}");
        }
    }

    #[test]
    fn credentials_in_values_name_their_pointer() {
        let policy = SecretPolicy::default();
        let doc = json!({
            "a": ["ok", {"b~/": "key: -----BEGIN EC PRIVATE KEY-----"}],
            "sk_live_0123456789abc": 1,
            "n": 5, "t": true, "z": null,
            "example": "AKIAIOSFODNN7EXAMPLE",
            "id": "AKIAZ7Q2W4E6R8T0Y3U5"
        });
        let found: Vec<(String, &str)> = policy
            .credentials_in_value(&path("themes/x.json"), &doc)
            .into_iter()
            .map(|(pointer, m)| (pointer, m.shape))
            .collect();
        assert_eq!(
            found,
            [
                ("/a/1/b~0~1".to_owned(), "a PEM private key"),
                (
                    "/sk_live_0123456789abc".to_owned(),
                    "a Stripe live secret key"
                ),
                ("/id".to_owned(), "an AWS access key id"),
            ]
        );
        let root = json!("xoxs-0123456789-x");
        assert_eq!(
            policy.credentials_in_value(&path("t.jsonl"), &root)[0].0,
            ""
        );
    }

    #[test]
    fn site_json_keeps_its_own_secrets_member() {
        let policy = SecretPolicy::default();
        let own = json!({"keys": ["pin"], "allow": [{"value": "amqp://q:allowed-1@mq"}]});
        let mut site = json!({"id": "s", "secrets": own.clone(), "smtp_password": "sj-9"});
        let removed = policy.redact(&path("site.json"), &mut site);
        assert_eq!(removed, ["/smtp_password"]);
        assert_eq!(site["secrets"], own, "neither removed nor visited");
        // Elsewhere a `secrets` member is secret.
        let mut other = json!({"secrets": {"a": "b"}});
        assert_eq!(
            policy.redact(&path("settings/x.json"), &mut other),
            ["/secrets"]
        );
    }

    #[test]
    fn redacts_nested_values_and_reports_pointers() {
        let policy = SecretPolicy::default();
        let mut doc = json!({
            "stripe": {"api_key": "sk_live_1", "publishable_key": "pk_live_1"},
            "users": [{"name": "a", "password": "hunter2", "password_hash": "$argon2id$x"}],
            "a/b": {"token": "t~1"},
            "empty": {"password": "", "token": null},
            "client_secret": {"nested": "whole object goes"}
        });
        let removed = policy.redact(&path("settings/integrations.json"), &mut doc);
        assert_eq!(
            removed,
            [
                "/client_secret",
                "/stripe/api_key",
                "/users/0/password",
                "/a~1b/token"
            ]
        );
        assert_eq!(
            doc,
            json!({
                "stripe": {"publishable_key": "pk_live_1"},
                "users": [{"name": "a", "password_hash": "$argon2id$x"}],
                "a/b": {},
                "empty": {"password": "", "token": null}
            })
        );
    }

    #[test]
    fn site_additions_add_keys_and_pointers() {
        let additions = SiteSecrets {
            keys: vec!["License-Key".into()],
            allow: vec![],
            pointers: vec![
                "settings/general.json#/smtp/relay".into(),
                "settings/general.json#/hosts/1".into(),
                "modules/crm/contacts.jsonl#/ssn".into(),
            ],
        };
        let policy = SecretPolicy::new(Some(&additions)).unwrap();
        assert!(policy.is_secret_key("license_key"));
        assert!(policy.is_secret_key("licenseKey"));
        assert!(!SecretPolicy::default().is_secret_key("license_key"));

        let mut general = json!({"smtp": {"relay": "user:pw@relay", "host": "h"}, "hosts": ["a", "b", "c"], "license_key": "L-1"});
        let removed = policy.redact(&path("settings/general.json"), &mut general);
        assert_eq!(removed, ["/smtp/relay", "/hosts/1", "/license_key"]);
        assert_eq!(
            general,
            json!({"smtp": {"host": "h"}, "hosts": ["a", null, "c"]})
        );

        // A pointer applies to its own file only, and to every record of a collection.
        let mut other = json!({"smtp": {"relay": "kept"}});
        assert!(
            policy
                .redact(&path("settings/other.json"), &mut other)
                .is_empty()
        );
        let mut record = json!({"id": "c-1", "ssn": "123-45-6789"});
        assert_eq!(
            policy.redact(&path("modules/crm/contacts.jsonl"), &mut record),
            ["/ssn"]
        );
        // A pointer at a value that holds no secret (`null`, `""`) removes nothing.
        let mut empty = json!({"smtp": {"relay": null}, "hosts": ["a", ""]});
        assert!(
            policy
                .redact(&path("settings/general.json"), &mut empty)
                .is_empty()
        );
        assert_eq!(empty, json!({"smtp": {"relay": null}, "hosts": ["a", ""]}));
        // A pointer that names nothing removes nothing.
        let mut missing = json!({"id": "c-2"});
        assert!(
            policy
                .redact(&path("modules/crm/contacts.jsonl"), &mut missing)
                .is_empty()
        );
    }

    #[test]
    fn bad_site_pointers_are_refused() {
        for bad in [
            "settings/general.json",
            "settings/general.json#smtp",
            "../x.json#/a",
            "x.json#/a~2b",
        ] {
            let additions = SiteSecrets {
                keys: vec![],
                allow: vec![],
                pointers: vec![bad.into()],
            };
            let err = SecretPolicy::new(Some(&additions)).unwrap_err();
            assert!(
                matches!(err, FormatError::InvalidSecretPointer { .. }),
                "{bad}: {err}"
            );
        }
    }
}
