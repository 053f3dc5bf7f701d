//! The secret policy applied to records that all have the same members in the same order
//! (a database table's rows): what depends on the member names alone is decided once per
//! table, not once per row.

use serde_json::{Map, Value};

use super::{
    PAIR_NAMES, PAIR_VALUE, SecretPolicy, escape_pointer_token, holds_secret, is_url_with_password,
};
use crate::{ArchivePath, CredentialMatch};

/// The policy of one site, prepared for the records of one entry whose members are
/// `names`, in that order. Each record is redacted and scanned exactly as
/// [`SecretPolicy::redact`] and [`SecretPolicy::credentials_in_value`] treat it as an
/// object of those members.
#[derive(Debug)]
pub struct RecordRules<'p> {
    policy: &'p SecretPolicy,
    path: ArchivePath,
    members: Vec<Member>,
    /// The site names pointers inside this entry: each record is built as an object and
    /// redacted by the general rules (no member-name shortcut applies to pointers).
    by_object: bool,
}

#[derive(Debug)]
struct Member {
    name: String,
    /// `/name`, escaped as a JSON pointer.
    pointer: String,
    /// Its values are secret by its name.
    secret_name: bool,
    /// It may name a setting (`name`, `key`, `header`) whose `value` member is then secret.
    pair_name: bool,
    /// It is the `value` member of such a pair.
    pair_value: bool,
    /// The credential shapes in its name that the site does not allow.
    name_credentials: Vec<CredentialMatch>,
}

/// What [`RecordRules::redact`] removed from one record.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RecordRedaction {
    /// The members left out of the record, by index in the names.
    pub omitted: Vec<usize>,
    /// Every value removed, with its RFC 6901 pointer, in the order
    /// [`SecretPolicy::redact`] reports the pointers.
    pub removed: Vec<(String, Value)>,
}

impl SecretPolicy {
    /// The policy prepared for records of the entry at `path` whose members are `names`.
    #[must_use]
    pub fn record_rules(&self, path: &ArchivePath, names: &[String]) -> RecordRules<'_> {
        let members = names
            .iter()
            .map(|name| Member {
                name: name.clone(),
                pointer: format!("/{}", escape_pointer_token(name)),
                secret_name: self.is_secret_key(name),
                pair_name: PAIR_NAMES
                    .iter()
                    .any(|pair| super::is_single_word(name, pair)),
                pair_value: super::is_single_word(name, PAIR_VALUE),
                name_credentials: self.credentials_in(path, name.as_bytes()),
            })
            .collect();
        RecordRules {
            policy: self,
            path: path.clone(),
            members,
            by_object: self.pointers.iter().any(|(p, _)| p == path),
        }
    }
}

impl RecordRules<'_> {
    /// Removes every secret value from one record (`values`, one per name): a secret
    /// member is listed in `omitted` (its value taken out, not to be written); a secret
    /// inside a member's value is removed from the value.
    pub fn redact(&self, values: &mut [Value]) -> RecordRedaction {
        if self.policy.keeps_rows_whole() {
            return RecordRedaction::default();
        }
        if self.by_object {
            return self.redact_as_object(values);
        }
        let mut redaction = RecordRedaction::default();
        let secret_pair = self.members.iter().zip(values.iter()).any(|(m, v)| {
            m.pair_name
                && v.as_str()
                    .is_some_and(|name| self.policy.is_secret_key(name))
        });
        for (index, (member, value)) in self.members.iter().zip(values.iter_mut()).enumerate() {
            let secret = holds_secret(value)
                && (member.secret_name
                    || (secret_pair && member.pair_value)
                    || is_url_with_password(value));
            if secret {
                redaction.omitted.push(index);
                redaction
                    .removed
                    .push((member.pointer.clone(), std::mem::take(value)));
            }
        }
        // Only containers can hold secret members (a member left out was taken: null).
        for (member, value) in self.members.iter().zip(values.iter_mut()) {
            if !matches!(value, Value::Object(_) | Value::Array(_)) {
                continue;
            }
            let mut pointer = member.pointer.clone();
            self.policy
                .redact_members(value, &mut pointer, None, &mut redaction.removed);
        }
        redaction
    }

    /// The general rules on the record built as an object (its original kept to tell
    /// what each pointer removed).
    fn redact_as_object(&self, values: &mut [Value]) -> RecordRedaction {
        let original = Value::Object(
            self.members
                .iter()
                .zip(values.iter_mut())
                .map(|(m, v)| (m.name.clone(), std::mem::take(v)))
                .collect::<Map<_, _>>(),
        );
        let mut object = original.clone();
        let pointers = self.policy.redact(&self.path, &mut object);
        let Value::Object(mut object) = object else {
            unreachable!("redact keeps an object an object")
        };
        let mut omitted = Vec::new();
        for (index, (member, value)) in self.members.iter().zip(values.iter_mut()).enumerate() {
            match object.shift_remove(&member.name) {
                Some(kept) => *value = kept,
                None => omitted.push(index),
            }
        }
        let removed = pointers
            .into_iter()
            .map(|pointer| {
                let value = original.pointer(&pointer).cloned().unwrap_or_default();
                (pointer, value)
            })
            .collect();
        RecordRedaction { omitted, removed }
    }

    /// The first credential shape the site does not allow and that is itself a secret,
    /// in a redacted record's member names and strings, then in the pointers of what
    /// was removed (the manifest lists them: `{"sk_live_…_token": "…"}`), with the
    /// pointer of the member or string that holds it.
    #[must_use]
    pub fn secret_credential(
        &self,
        values: &[Value],
        redaction: &RecordRedaction,
    ) -> Option<(String, CredentialMatch)> {
        if self.policy.keeps_rows_whole() {
            return None;
        }
        self.secret_credential_in_values(values, &redaction.omitted)
            .or_else(|| {
                redaction.removed.iter().find_map(|(pointer, _)| {
                    self.policy
                        .credentials_in(&self.path, pointer.as_bytes())
                        .into_iter()
                        .find(|m| m.secret)
                        .map(|m| (pointer.clone(), m))
                })
            })
    }

    fn secret_credential_in_values(
        &self,
        values: &[Value],
        omitted: &[usize],
    ) -> Option<(String, CredentialMatch)> {
        let mut found = Vec::new();
        for (index, (member, value)) in self.members.iter().zip(values).enumerate() {
            if omitted.contains(&index) {
                continue;
            }
            found.extend(
                member
                    .name_credentials
                    .iter()
                    .map(|m| (member.pointer.clone(), m.clone())),
            );
            if may_hold_credential(value) {
                let mut pointer = member.pointer.clone();
                self.policy
                    .collect_credentials(&self.path, value, &mut pointer, &mut found);
            }
            if let Some(secret) = found.iter().position(|(_, m)| m.secret) {
                return Some(found.swap_remove(secret));
            }
            found.clear();
        }
        None
    }
}

/// The deepest nesting of arrays and objects a value is written verbatim with
/// ([`RecordRules::verbatim_json`]); deeper ones take the general path, whose row check
/// knows the archive's limit.
const MAX_VERBATIM_NESTING: usize = 64;

impl RecordRules<'_> {
    /// The compact JSON of member `index`'s value, given as the JSON text `text`, when
    /// the policy can be seen to leave it whole without parsing it: no string escape in
    /// the text (so each string and member name appears in it as it is), no `://`, no
    /// credential shape anywhere in it, no member name that is secret or names a
    /// setting, the member itself neither secret by its name nor a setting's name or
    /// value (whose string decides whether another member is secret), and
    /// at most 64 levels deep. Otherwise `None`: the value must be
    /// parsed, redacted and scanned as any other ([`RecordRules::redact`]).
    ///
    /// `text` must be one valid JSON value, as PostgreSQL writes a `jsonb` value (which
    /// holds no member twice): what is given back is then exactly what parsing it and
    /// writing it compactly would give (numbers as written, members in their order).
    /// Parsing each value costs more than everything else a table's row needs.
    #[must_use]
    pub fn verbatim_json(&self, index: usize, text: &str) -> Option<String> {
        let member = self.members.get(index)?;
        if self.by_object
            || member.secret_name
            || member.pair_name
            || member.pair_value
            || text.contains('\\')
            || text.contains("://")
            || crate::credentials::may_hold_credential(text.as_bytes())
        {
            return None;
        }
        let bytes = text.as_bytes();
        let mut compact = String::with_capacity(text.len());
        let mut depth = 0usize;
        let mut at = 0;
        while at < bytes.len() {
            match bytes[at] {
                b'"' => {
                    // Without escapes a string ends at the next quote.
                    let inside = at + 1;
                    let end = inside + bytes[inside..].iter().position(|&b| b == b'"')?;
                    let after = bytes[end + 1..].iter().find(|b| !b.is_ascii_whitespace());
                    let name = &text[inside..end];
                    if after == Some(&b':')
                        && (self.policy.is_secret_key(name)
                            || PAIR_NAMES
                                .iter()
                                .any(|pair| super::is_single_word(name, pair)))
                    {
                        return None;
                    }
                    compact.push_str(&text[at..=end]);
                    at = end + 1;
                    continue;
                }
                b'{' | b'[' => {
                    depth += 1;
                    if depth > MAX_VERBATIM_NESTING {
                        return None;
                    }
                }
                b'}' | b']' => depth = depth.saturating_sub(1),
                b' ' | b'\t' | b'\n' | b'\r' => {
                    at += 1;
                    continue;
                }
                _ => {}
            }
            // Outside strings valid JSON is ASCII.
            compact.push(char::from(bytes[at]));
            at += 1;
        }
        Some(compact)
    }
}

/// Whether a string or member name in `value` may hold a credential shape.
fn may_hold_credential(value: &Value) -> bool {
    match value {
        Value::String(text) => crate::credentials::may_hold_credential(text.as_bytes()),
        Value::Array(items) => items.iter().any(may_hold_credential),
        Value::Object(map) => map.iter().any(|(key, item)| {
            crate::credentials::may_hold_credential(key.as_bytes()) || may_hold_credential(item)
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::SiteSecrets;

    fn path() -> ArchivePath {
        "db/settings.jsonl".parse().unwrap()
    }

    fn names(names: &[&str]) -> Vec<String> {
        names.iter().map(|&n| n.to_owned()).collect()
    }

    /// The record as an object, redacted by the general rules, against the prepared rules.
    fn both_ways(policy: &SecretPolicy, names: &[String], values: Vec<Value>) {
        let object: Map<String, Value> = names.iter().cloned().zip(values.clone()).collect();
        let mut object = Value::Object(object);
        let pointers = policy.redact(&path(), &mut object);
        let rules = policy.record_rules(&path(), names);
        let mut row = values.clone();
        let redaction = rules.redact(&mut row);
        let removed: Vec<&String> = redaction.removed.iter().map(|(p, _)| p).collect();
        assert_eq!(removed, pointers.iter().collect::<Vec<_>>(), "{names:?}");
        let record = Value::Object(names.iter().cloned().zip(values).collect());
        for (pointer, value) in &redaction.removed {
            assert_eq!(record.pointer(pointer), Some(value), "{pointer}");
        }
        let kept: Map<String, Value> = names
            .iter()
            .cloned()
            .zip(row.clone())
            .enumerate()
            .filter(|(i, _)| !redaction.omitted.contains(i))
            .map(|(_, member)| member)
            .collect();
        assert_eq!(Value::Object(kept), object, "{names:?}");
        let first = policy
            .credentials_in_value(&path(), &object)
            .into_iter()
            .find(|(_, m)| m.secret)
            .or_else(|| {
                pointers.iter().find_map(|p| {
                    policy
                        .credentials_in(&path(), p.as_bytes())
                        .into_iter()
                        .find(|m| m.secret)
                        .map(|m| (p.clone(), m))
                })
            });
        assert_eq!(
            rules.secret_credential(&row, &redaction),
            first,
            "{names:?}"
        );
    }

    #[test]
    fn records_are_redacted_as_their_objects_are() {
        let policy = SecretPolicy::default();
        let cases = [
            (
                names(&["id", "api_token", "note"]),
                vec![json!(1), json!("t-1"), json!("hello")],
            ),
            // An empty or null secret stays.
            (
                names(&["id", "api_token", "password"]),
                vec![json!(1), json!(""), Value::Null],
            ),
            // A name/value pair naming a secret setting.
            (
                names(&["id", "name", "value"]),
                vec![json!(2), json!("stripe_secret_key"), json!("abc")],
            ),
            (
                names(&["id", "name", "value"]),
                vec![json!(3), json!("colour"), json!("blue")],
            ),
            (
                names(&["header", "values"]),
                vec![json!("Authorization"), json!("Bearer x")],
            ),
            // A URL with a password, in any member.
            (
                names(&["id", "dsn"]),
                vec![json!(4), json!("postgres://app:hunter2@db/x")],
            ),
            // Secrets inside a JSON member, and an array of them.
            (
                names(&["id", "settings"]),
                vec![
                    json!(5),
                    json!({"smtp": {"password": "p", "host": "h"}, "urls": ["https://u:p@h/"],
                           "pairs": [{"key": "api_key", "value": "k"}]}),
                ],
            ),
            // Credential shapes in values and in member names.
            (
                names(&["id", "note"]),
                vec![json!(6), json!("key sk_live_abcdefghijklmnop here")],
            ),
            (
                names(&["id", "ghp_abcdefghijklmnopqrstuvwxyz0123456789AB"]),
                vec![json!(7), json!(1)],
            ),
            (
                names(&["id", "doc"]),
                vec![json!(8), json!({"a": ["xoxb-1234567890-abc"]})],
            ),
            // A removed member whose name is a credential shape: its pointer would list it.
            (
                names(&["id", "doc"]),
                vec![json!(10), json!({"sk_live_abcdefghijklmnop_token": "v"})],
            ),
            // A shape that is no secret by itself (an access key id) is not refused.
            (
                names(&["id", "note"]),
                vec![json!(9), json!("AKIAABCDEFGHIJKLMNOP")],
            ),
        ];
        for (names, values) in cases {
            both_ways(&policy, &names, values);
        }
    }

    mod generated {
        use proptest::prelude::*;

        use super::*;

        /// Member names: plain, secret, pair names, credential shapes, separators.
        fn name() -> impl Strategy<Value = String> {
            prop_oneof![
                3 => Just("name".to_owned()),
                3 => Just("value".to_owned()),
                1 => Just("Header".to_owned()),
                1 => Just("id".to_owned()),
                1 => Just("api_key".to_owned()),
                1 => Just("passWord".to_owned()),
                1 => Just("sk_live_abcdefghijklmnop".to_owned()),
                2 => "[a-zA-Z_ -]{1,12}",
            ]
        }

        fn text() -> impl Strategy<Value = String> {
            prop_oneof![
                Just(String::new()),
                Just("stripe_secret_key".to_owned()),
                Just("https://u:p@host/".to_owned()),
                Just("xoxb-1234567890-abcdef".to_owned()),
                Just("ghp_0123456789abcdefghijABCDEFGHIJ0123456789".to_owned()),
                "[a-z:/@ ]{0,16}",
            ]
        }

        fn value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                1 => Just(Value::Null),
                1 => any::<bool>().prop_map(Value::Bool),
                1 => any::<i64>().prop_map(Value::from),
                3 => text().prop_map(Value::String),
            ];
            leaf.prop_recursive(3, 24, 4, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    prop::collection::vec((name(), inner), 0..4)
                        .prop_map(|members| Value::Object(members.into_iter().collect())),
                ]
            })
        }

        fn record() -> impl Strategy<Value = (Vec<String>, Vec<Value>)> {
            prop::collection::btree_map(name(), value(), 0..6)
                .prop_map(|members| members.into_iter().unzip())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1024))]
            #[test]
            fn records_are_redacted_and_scanned_as_their_objects_are((names, values) in record()) {
                both_ways(&SecretPolicy::default(), &names, values);
            }
        }
    }

    #[test]
    fn a_sites_own_keys_and_pointers_apply_to_records() {
        let secrets: SiteSecrets = serde_json::from_value(json!({
            "keys": ["pin"],
            "pointers": ["db/settings.jsonl#/extra/inner"],
            "allow": [{"value": "sk_live_abcdefghijklmnop"}]
        }))
        .unwrap();
        let policy = SecretPolicy::new(Some(&secrets)).unwrap();
        let names = names(&["id", "pin", "extra", "note"]);
        both_ways(
            &policy,
            &names,
            vec![
                json!(1),
                json!("1234"),
                json!({"inner": "x", "outer": "y"}),
                json!("sk_live_abcdefghijklmnop"),
            ],
        );
        let mut row = vec![json!(1), json!("1234"), json!({"inner": "x"}), json!("n")];
        let redaction = policy.record_rules(&path(), &names).redact(&mut row);
        assert_eq!(redaction.omitted, [1]);
        assert_eq!(
            redaction.removed,
            [
                ("/extra/inner".to_owned(), json!("x")),
                ("/pin".to_owned(), json!("1234"))
            ]
        );
        assert_eq!(row[2], json!({}));
    }

    /// `value` as PostgreSQL writes a `jsonb` value: a space after each `:` and `,`.
    fn spaced(value: &Value) -> String {
        let compact = serde_json::to_string(value).unwrap();
        let mut text = String::new();
        let (mut in_string, mut escaped) = (false, false);
        for ch in compact.chars() {
            text.push(ch);
            if in_string {
                match (escaped, ch) {
                    (true, _) => escaped = false,
                    (false, '\\') => escaped = true,
                    (false, '"') => in_string = false,
                    _ => {}
                }
            } else if ch == '"' {
                in_string = true;
            } else if ch == ':' || ch == ',' {
                text.push(' ');
            }
        }
        text
    }

    fn json_values() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        const KEYS: &[&str] = &[
            "qty",
            "tags",
            "source",
            "token",
            "apiKey",
            "name",
            "value",
            "password_hash",
            "key",
            "header",
            "note",
            "a b",
            "prénom",
            "secret_sauce",
        ];
        const TEXTS: &[&str] = &[
            "plain",
            "",
            "sk_live_0123456789abcdef",
            "AKIAABCDEFGHIJKLMNOP",
            "https://user:pw@example.com/",
            "https://example.com/",
            "line\nbreak",
            "quote\"d",
            "ünïcode ✓",
            "token",
            "api_key",
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            Just(json!(12.50)),
            proptest::sample::select(TEXTS).prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::vec((proptest::sample::select(KEYS), inner), 0..4).prop_map(
                    |members| Value::Object(
                        members
                            .into_iter()
                            .map(|(k, v)| (k.to_owned(), v))
                            .collect()
                    )
                ),
            ]
        })
    }

    proptest::proptest! {
        /// Whenever a value is written verbatim, it is exactly what the general path
        /// writes, and the general path would have removed and refused nothing.
        #[test]
        fn a_verbatim_value_is_what_the_general_path_writes(value in json_values()) {
            let policy = SecretPolicy::default();
            let names = names(&["id", "data"]);
            let rules = policy.record_rules(&path(), &names);
            let mut row = vec![json!(1), value.clone()];
            let redaction = rules.redact(&mut row);
            let credential = rules.secret_credential(&row, &redaction);
            let compact = serde_json::to_string(&value).unwrap();
            for text in [compact.clone(), spaced(&value)] {
                if let Some(written) = rules.verbatim_json(1, &text) {
                    proptest::prop_assert_eq!(&written, &compact);
                    proptest::prop_assert_eq!(&redaction, &RecordRedaction::default());
                    proptest::prop_assert!(credential.is_none());
                    proptest::prop_assert!(
                        find_credentials_in(&value).is_empty(),
                        "no credential shape, not even one only warned about"
                    );
                }
            }
        }
    }

    /// Every credential shape in the strings and member names of `value`.
    fn find_credentials_in(value: &Value) -> Vec<CredentialMatch> {
        match value {
            Value::String(text) => crate::credentials::find_credentials(text.as_bytes()),
            Value::Array(items) => items.iter().flat_map(find_credentials_in).collect(),
            Value::Object(map) => map
                .iter()
                .flat_map(|(key, item)| {
                    let mut found = crate::credentials::find_credentials(key.as_bytes());
                    found.extend(find_credentials_in(item));
                    found
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn verbatim_json_answers_only_for_values_the_policy_leaves_whole() {
        let policy = SecretPolicy::default();
        let names = names(&["id", "attributes", "api_token", "value", "name"]);
        let rules = policy.record_rules(&path(), &names);
        let plain = r#"{"qty": 2, "tags": ["t2", "t2"], "price": 12.50, "ok": true, "no": null}"#;
        assert_eq!(
            rules.verbatim_json(1, plain).as_deref(),
            Some(r#"{"qty":2,"tags":["t2","t2"],"price":12.50,"ok":true,"no":null}"#)
        );
        assert_eq!(
            rules.verbatim_json(1, "\t[1,\n2 ]\r").as_deref(),
            Some("[1,2]")
        );
        assert_eq!(
            rules.verbatim_json(1, r#""x: y""#).as_deref(),
            Some(r#""x: y""#)
        );
        // A member secret by its name, a setting's value or name, a member that is not
        // there.
        for index in [2, 3, 4, 9] {
            assert_eq!(rules.verbatim_json(index, plain), None, "member {index}");
        }
        for text in [
            r#"{"inner": {"api_key": "x"}}"#,
            r#"{"name": "token", "value": "x"}"#,
            r#"{"Header": "x"}"#,
            r#"["https://u:p@example.com"]"#,
            r#"{"url": "https://example.com"}"#,
            r#"{"note": "sk_live_0123456789abcdef"}"#,
            r#"{"sk_live_0123456789abcdef": 1}"#,
            r#"{"note": "AKIAABCDEFGHIJKLMNOP"}"#,
            r#"{"note": "a \"quote\""}"#,
            r#""line\nbreak""#,
        ] {
            assert_eq!(rules.verbatim_json(1, text), None, "{text}");
        }
        let deep = |levels: usize| format!("{}{}", "[".repeat(levels), "]".repeat(levels));
        assert!(
            rules
                .verbatim_json(1, &deep(MAX_VERBATIM_NESTING))
                .is_some()
        );
        assert_eq!(
            rules.verbatim_json(1, &deep(MAX_VERBATIM_NESTING + 1)),
            None
        );
        // Closing brackets do not count down below the value's own nesting.
        let wide = format!("[{}]", vec![deep(MAX_VERBATIM_NESTING - 1); 3].join(","));
        assert!(rules.verbatim_json(1, &wide).is_some());
    }
}
