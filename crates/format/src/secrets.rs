//! Which JSON values are secrets, and how they are removed.

use serde_json::Value;

use crate::{ArchivePath, FormatError, SiteSecrets};

/// Keys that are secrets exactly (after normalization).
const SECRET_KEYS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "private_key",
    "signing_key",
    "access_token",
    "refresh_token",
    "client_secret",
    "authorization",
    "credentials",
];
/// Key endings that make a key secret.
const SECRET_SUFFIXES: &[&str] = &[
    "_secret",
    "_token",
    "_password",
    "_api_key",
    "_private_key",
    "_secret_key",
    "_signing_key",
];
/// Key beginnings that make a key secret.
const SECRET_PREFIXES: &[&str] = &["secret_"];
/// A key with this word among its `_`-separated words is secret
/// (`aws_secret_access_key`, `stripe_secret_key`).
const SECRET_WORD: &str = "secret";

/// Every key that a default rule catches contains one of these, in lower case.
const DEFAULT_RULE_WORDS: &[&str] = &[
    "pass",
    "secret",
    "token",
    "key",
    "authorization",
    "credentials",
];

/// The secret policy of one site: the default key patterns plus the site's additions
/// from `site.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretPolicy {
    extra_keys: Vec<String>,
    pointers: Vec<(ArchivePath, String)>,
}

impl SecretPolicy {
    /// The policy of a site with the given `site.json` additions.
    pub fn new(additions: Option<&SiteSecrets>) -> Result<Self, FormatError> {
        let Some(additions) = additions else {
            return Ok(Self::default());
        };
        let extra_keys = additions.keys.iter().map(|k| normalize_key(k)).collect();
        let pointers = additions
            .pointers
            .iter()
            .map(|text| parse_site_pointer(text))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            extra_keys,
            pointers,
        })
    }

    /// Whether values under `key` are secret. Keys are compared case-insensitively
    /// after turning camelCase, `-` and spaces into `_` (`clientSecret`,
    /// `X-Api-Key` and `client_secret` are the same key).
    #[must_use]
    pub fn is_secret_key(&self, key: &str) -> bool {
        // Fast path for the common case: every default rule needs one of these words,
        // and most keys of a site hold none of them.
        if self.extra_keys.is_empty() && key.is_ascii() {
            let lower = key.to_ascii_lowercase();
            if !DEFAULT_RULE_WORDS.iter().any(|word| lower.contains(word)) {
                return false;
            }
        }
        let key = normalize_key(key);
        SECRET_KEYS.contains(&key.as_str())
            || SECRET_SUFFIXES.iter().any(|s| key.ends_with(s))
            || SECRET_PREFIXES.iter().any(|p| key.starts_with(p))
            || key.split('_').any(|word| word == SECRET_WORD)
            || self.extra_keys.contains(&key)
    }

    /// Removes every secret value from `value`, a document at `site_path` or one record
    /// of the collection at `site_path`, and returns the RFC 6901 pointers of what was
    /// removed (site pointers first, then each object's secret keys before its children's).
    /// Empty strings and `null` are not secrets and stay.
    /// A secret object member is removed; a secret array element (named by a site
    /// pointer) becomes `null`, so that later indices keep their meaning.
    pub fn redact(&self, site_path: &ArchivePath, value: &mut Value) -> Vec<String> {
        let mut removed = Vec::new();
        for (path, pointer) in &self.pointers {
            if path == site_path && remove_at_pointer(value, pointer) {
                removed.push(pointer.clone());
            }
        }
        self.redact_keys(value, &mut String::new(), &mut removed);
        removed
    }

    fn redact_keys(&self, value: &mut Value, pointer: &mut String, removed: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                let secret_keys: Vec<String> = map
                    .iter()
                    .filter(|(key, v)| self.is_secret_key(key) && holds_secret(v))
                    .map(|(key, _)| key.clone())
                    .collect();
                for key in secret_keys {
                    map.shift_remove(&key);
                    removed.push(format!("{pointer}/{}", escape_pointer_token(&key)));
                }
                // Only containers can hold secret keys; scalars need no pointer.
                for (key, child) in map.iter_mut() {
                    if !matches!(child, Value::Object(_) | Value::Array(_)) {
                        continue;
                    }
                    let len = pointer.len();
                    pointer.push('/');
                    push_escaped_token(pointer, key);
                    self.redact_keys(child, pointer, removed);
                    pointer.truncate(len);
                }
            }
            Value::Array(items) => {
                for (index, child) in items.iter_mut().enumerate() {
                    let len = pointer.len();
                    pointer.push('/');
                    pointer.push_str(&index.to_string());
                    self.redact_keys(child, pointer, removed);
                    pointer.truncate(len);
                }
            }
            _ => {}
        }
    }
}

fn holds_secret(value: &Value) -> bool {
    !matches!(value, Value::Null) && value.as_str() != Some("")
}

/// Lowercase `snake_case`: `clientSecret` → `client_secret`, `X-Api-Key` → `x_api_key`,
/// `APIKey` → `api_key`, `HTTPToken` → `http_token`.
fn normalize_key(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let mut out = String::with_capacity(key.len() + 4);
    for (i, &ch) in chars.iter().enumerate() {
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
        if starts_word && !out.ends_with('_') {
            out.push('_');
        }
        match ch {
            '-' | ' ' | '.' => out.push('_'),
            _ => out.extend(ch.to_lowercase()),
        }
    }
    out
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
        ];
        for key in not_secret {
            assert!(!policy.is_secret_key(key), "{key} should not be secret");
        }
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
