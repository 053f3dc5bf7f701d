//! `SiteId` and `Name`: the identifiers of sites, settings tabs, modules and users.

use std::fmt;
use std::str::FromStr;

use crate::FormatError;

/// The rule every identifier follows: `[a-z0-9][a-z0-9._-]{0,62}`.
pub const NAME_PATTERN: &str = "^[a-z0-9][a-z0-9._-]{0,62}$";

fn is_valid_name(s: &str) -> bool {
    let bytes = s.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes.iter().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
}

macro_rules! identifier {
    ($(#[$doc:meta])* $ty:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $ty(String);

        impl $ty {
            /// The identifier as text.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $ty {
            type Err = FormatError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                if is_valid_name(s) {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(FormatError::InvalidName {
                        what: $what,
                        name: s.escape_debug().to_string(),
                    })
                }
            }
        }

        impl TryFrom<String> for $ty {
            type Error = FormatError;

            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl From<$ty> for String {
            fn from(value: $ty) -> Self {
                value.0
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl schemars::JsonSchema for $ty {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($ty).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "description": concat!("A ", $what, ": `[a-z0-9][a-z0-9._-]{0,62}`."),
                    "type": "string",
                    "pattern": NAME_PATTERN
                })
            }
        }
    };
}

identifier!(
    /// The id of a site (`site.json` `id`).
    SiteId,
    "site id"
);
identifier!(
    /// The name of a settings tab, a module, a collection or a user id.
    Name,
    "name"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_rule() {
        for ok in ["a", "0", "acme-shop", "u-7", "v1.2_x", &"a".repeat(63)] {
            assert!(ok.parse::<Name>().is_ok(), "{ok}");
            assert!(ok.parse::<SiteId>().is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-a",
            ".a",
            "_a",
            "A",
            "aB",
            "a b",
            "a/b",
            "é",
            &"a".repeat(64),
            "a\n",
        ] {
            assert!(bad.parse::<Name>().is_err(), "{bad:?}");
            assert!(bad.parse::<SiteId>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_pattern_agrees_with_the_check() {
        assert_eq!(NAME_PATTERN, "^[a-z0-9][a-z0-9._-]{0,62}$");
    }
}
