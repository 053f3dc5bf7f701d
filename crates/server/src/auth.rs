//! Who may call the API: admins only. `Authorization: Bearer <token>`, where the token
//! is the static admin token or an HS256 JWT with the admin role and a valid `exp`.
//! Missing or invalid → 401; valid but not an admin → 403. Tokens are never logged.

use axum::http::{HeaderMap, StatusCode, header};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// The admin credentials the server accepts (at least one of them).
#[derive(Clone, Default)]
pub struct Credentials {
    /// The static admin token.
    pub token: Option<String>,
    /// The HS256 secret JWTs are signed with.
    pub jwt_secret: Option<Vec<u8>>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the values.
        f.debug_struct("Credentials")
            .field("token", &self.token.as_ref().map(|_| "…"))
            .field("jwt_secret", &self.jwt_secret.as_ref().map(|_| "…"))
            .finish()
    }
}

/// The claims sitepack reads from a JWT (`exp` is checked by the validation).
#[derive(serde::Deserialize)]
struct Claims {
    #[serde(default)]
    sub: Option<serde_json::Value>,
    #[serde(default)]
    role: Option<serde_json::Value>,
    #[serde(default)]
    roles: Option<serde_json::Value>,
}

impl Claims {
    /// The token's `sub`, printable and short, or `-` when it has none.
    fn subject(&self) -> String {
        let sub = match &self.sub {
            Some(serde_json::Value::String(sub)) => sub.clone(),
            Some(serde_json::Value::Number(sub)) => sub.to_string(),
            _ => "-".to_owned(),
        };
        sub.chars().filter(|c| !c.is_control()).take(64).collect()
    }

    fn is_admin(&self) -> bool {
        let is = |value: &serde_json::Value| value.as_str() == Some("admin");
        self.role.as_ref().is_some_and(is)
            || self
                .roles
                .as_ref()
                .and_then(serde_json::Value::as_array)
                .is_some_and(|roles| roles.iter().any(is))
    }
}

impl Credentials {
    /// Whether any credential is set: a server without one would refuse every call.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.token.is_none() && self.jwt_secret.is_none()
    }

    /// Checks the request's bearer token; the caller, as the audit log names it
    /// (`api:admin-token`, or `api:jwt:SUB`).
    pub(crate) fn check(&self, headers: &HeaderMap) -> Result<String, ApiError> {
        let unauthorized = |message: &str| {
            ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message.to_owned())
                .with_challenge()
        };
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Err(unauthorized(
                "no Authorization header: send `Authorization: Bearer <admin token>`",
            ));
        };
        // The scheme's name is case-insensitive (RFC 9110 §11.1).
        let presented = value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| unauthorized("the Authorization header is not `Bearer <token>`"))?;
        if let Some(token) = &self.token
            && bool::from(presented.as_bytes().ct_eq(token.as_bytes()))
        {
            return Ok("api:admin-token".to_owned());
        }
        let Some(secret) = &self.jwt_secret else {
            return Err(unauthorized("the token is not the admin token"));
        };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp"]);
        validation.validate_nbf = true;
        validation.leeway = 0;
        let claims = jsonwebtoken::decode::<Claims>(
            presented,
            &DecodingKey::from_secret(secret),
            &validation,
        )
        .map_err(|e| {
            unauthorized(&format!(
                "the token is neither the admin token nor a valid JWT ({})",
                jwt_problem(&e)
            ))
        })?
        .claims;
        if claims.is_admin() {
            Ok(format!("api:jwt:{}", claims.subject()))
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "the token is valid but does not carry the admin role (role: \"admin\" or roles containing \"admin\")",
            ))
        }
    }
}

/// Why a JWT was not accepted, in words (never the token).
fn jwt_problem(error: &jsonwebtoken::errors::Error) -> &'static str {
    use jsonwebtoken::errors::ErrorKind;
    match error.kind() {
        ErrorKind::ExpiredSignature => "it has expired",
        ErrorKind::InvalidSignature => "its signature does not match the server's secret",
        ErrorKind::InvalidAlgorithm => "it is not signed with HS256",
        ErrorKind::MissingRequiredClaim(_) => "it has no exp claim",
        ErrorKind::ImmatureSignature => "it is not valid yet",
        _ => "it cannot be read as a JWT",
    }
}
