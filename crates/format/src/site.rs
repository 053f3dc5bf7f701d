//! `site.json`: a site's identity and its additions to the secret policy.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{SiteId, SiteIdentity};

/// The owner field used when `site.json` names none.
pub const DEFAULT_OWNER_FIELD: &str = "user_id";

/// The contents of `site.json`. Fields sitepack does not know are the application's
/// and are kept as they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(
    title = "sitepack site.json",
    description = "Identity of a site directory and its additions to the secret policy (docs/FORMAT.md)"
)]
pub struct SiteConfig {
    /// The site id.
    pub id: SiteId,
    /// Human-readable name.
    #[schemars(length(min = 1))]
    pub name: String,
    /// The site's base URL (`http` or `https`).
    #[schemars(url, regex(pattern = r"^https?://"))]
    pub url: String,
    /// The record field that names the owning user (default `user_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String", length(min = 1))]
    pub owner_field: Option<String>,
    /// Additions to the default secret policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "SiteSecrets")]
    pub secrets: Option<SiteSecrets>,
}

/// `site.json` `secrets`: keys and pointers that are secret on this site besides the
/// default patterns, and the credential shapes it allows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteSecrets {
    /// Object keys whose values are secret wherever they appear (case-insensitive).
    #[serde(default)]
    pub keys: Vec<String>,
    /// `SITE-RELATIVE-PATH#/json/pointer`: one value in one document, or in every
    /// record of a JSON Lines collection.
    #[serde(default)]
    #[schemars(with = "Vec<SecretPointerSchema>")]
    pub pointers: Vec<String>,
    /// Credential shapes this site accepts in its backups (docs/FORMAT.md §11.4): a
    /// published example or test value, or every file a path glob matches.
    #[serde(default)]
    pub allow: Vec<AllowedCredential>,
}

/// One item of `secrets.allow`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AllowedCredential {
    /// A credential (the part a shape names, e.g. the 40 characters of an AWS secret
    /// access key) that may travel wherever it is.
    Value(#[schemars(length(min = 1))] String),
    /// Site-relative files (`*` and `?` within one component, `**` for any number of
    /// components) in which any credential shape may travel.
    Path(#[schemars(length(min = 1))] String),
}

/// `PATH#/json/pointer`.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct SecretPointerSchema(#[schemars(regex(pattern = r"^[^#]+#(/([^~]|~[01])*)+$"))] String);

impl SiteConfig {
    /// The owner field of JSON Lines records.
    #[must_use]
    pub fn owner_field(&self) -> &str {
        self.owner_field.as_deref().unwrap_or(DEFAULT_OWNER_FIELD)
    }

    /// The identity written into a manifest.
    #[must_use]
    pub fn identity(&self) -> SiteIdentity {
        SiteIdentity {
            id: self.id.clone(),
            name: self.name.clone(),
            url: self.url.clone(),
        }
    }
}
