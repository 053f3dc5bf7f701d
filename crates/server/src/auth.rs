//! Who may call the API: admins only. `Authorization: Bearer <token>`, where the token
//! is the static admin token or an HS256 JWT with the admin role and a valid `exp`.
//! Missing or invalid → 401; valid but not an admin → 403. Tokens are never logged.

use std::fmt::Write as _;

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
    /// The token's `sub` for the audit log, or `-` when it has none: visible ASCII kept,
    /// anything else (spaces, controls, direction marks, any non-ASCII) percent-encoded,
    /// so that no subject can pass for another caller; at most 64 characters.
    fn subject(&self) -> String {
        let sub = match &self.sub {
            Some(serde_json::Value::String(sub)) => sub.clone(),
            Some(serde_json::Value::Number(sub)) => sub.to_string(),
            _ => return "-".to_owned(),
        };
        let mut shown = String::new();
        for byte in sub.bytes() {
            if byte.is_ascii_graphic() && byte != b'%' {
                shown.push(char::from(byte));
            } else {
                let _ = write!(shown, "%{byte:02X}");
            }
        }
        shown.chars().take(64).collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header};

    const TOKEN: &str = "the-admin-token-0123456789";
    const SECRET: &[u8] = b"the-jwt-secret-0123456789abcdef";

    fn both() -> Credentials {
        Credentials {
            token: Some(TOKEN.to_owned()),
            jwt_secret: Some(SECRET.to_vec()),
        }
    }

    fn now() -> i64 {
        i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
        )
        .unwrap()
    }

    fn signed(claims: &serde_json::Value, algorithm: Algorithm, secret: &[u8]) -> String {
        jsonwebtoken::encode(
            &Header::new(algorithm),
            claims,
            &EncodingKey::from_secret(secret),
        )
        .unwrap()
    }

    fn check(credentials: &Credentials, header: Option<&str>) -> Result<String, StatusCode> {
        let mut headers = HeaderMap::new();
        if let Some(value) = header {
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
        }
        credentials.check(&headers).map_err(|e| e.status)
    }

    #[test]
    fn the_admin_token_in_a_bearer_header_of_any_case_and_nothing_else() {
        let credentials = both();
        for scheme in ["Bearer", "bearer", "BEARER"] {
            assert_eq!(
                check(&credentials, Some(&format!("{scheme} {TOKEN}"))),
                Ok("api:admin-token".to_owned())
            );
        }
        for refused in [
            None,
            Some(""),
            Some("Bearer"),
            Some("Bearer "),
            Some(TOKEN),
            Some(&format!("Basic {TOKEN}")),
            Some(&format!("Bearer {TOKEN}x")),
            Some(&format!("Bearer {}", &TOKEN[1..])),
            Some("Bearer the-admin-token-0123456788"),
        ] {
            assert_eq!(
                check(&credentials, refused),
                Err(StatusCode::UNAUTHORIZED),
                "{refused:?}"
            );
        }
        // Without a token configured, no bearer value is the token.
        let jwt_only = Credentials {
            token: None,
            jwt_secret: Some(SECRET.to_vec()),
        };
        assert_eq!(
            check(&jwt_only, Some(&format!("Bearer {TOKEN}"))),
            Err(StatusCode::UNAUTHORIZED)
        );
    }

    #[test]
    fn a_jwt_needs_hs256_the_secret_a_live_exp_and_the_admin_role() {
        let credentials = both();
        let live = now() + 600;
        let admin = |claims: serde_json::Value| signed(&claims, Algorithm::HS256, SECRET);
        let bearer = |jwt: &str| format!("Bearer {jwt}");
        assert_eq!(
            check(
                &credentials,
                Some(&bearer(&admin(
                    serde_json::json!({"sub": "alice", "role": "admin", "exp": live})
                )))
            ),
            Ok("api:jwt:alice".to_owned())
        );
        assert_eq!(
            check(
                &credentials,
                Some(&bearer(&admin(
                    serde_json::json!({"roles": ["x", "admin"], "exp": live})
                )))
            ),
            Ok("api:jwt:-".to_owned())
        );
        assert_eq!(
            check(
                &credentials,
                Some(&bearer(&admin(
                    serde_json::json!({"sub": 7, "role": "admin", "exp": live})
                )))
            ),
            Ok("api:jwt:7".to_owned())
        );
        for forbidden in [
            serde_json::json!({"role": "viewer", "exp": live}),
            serde_json::json!({"role": "Admin", "exp": live}),
            serde_json::json!({"role": ["admin"], "exp": live}),
            serde_json::json!({"roles": "admin", "exp": live}),
            serde_json::json!({"roles": ["viewer"], "exp": live}),
            serde_json::json!({"exp": live}),
        ] {
            assert_eq!(
                check(&credentials, Some(&bearer(&admin(forbidden.clone())))),
                Err(StatusCode::FORBIDDEN),
                "{forbidden}"
            );
        }
        for unauthorized in [
            admin(serde_json::json!({"role": "admin", "exp": now() - 5})),
            admin(serde_json::json!({"role": "admin"})),
            admin(serde_json::json!({"role": "admin", "exp": live, "nbf": now() + 600})),
            signed(
                &serde_json::json!({"role": "admin", "exp": live}),
                Algorithm::HS512,
                SECRET,
            ),
            signed(
                &serde_json::json!({"role": "admin", "exp": live}),
                Algorithm::HS256,
                b"another-secret-0123456789",
            ),
            "not.a.jwt".to_owned(),
        ] {
            assert_eq!(
                check(&credentials, Some(&bearer(&unauthorized))),
                Err(StatusCode::UNAUTHORIZED),
                "{unauthorized}"
            );
        }
        // Without a secret, no JWT is accepted.
        let token_only = Credentials {
            token: Some(TOKEN.to_owned()),
            jwt_secret: None,
        };
        assert_eq!(
            check(
                &token_only,
                Some(&bearer(&admin(
                    serde_json::json!({"role": "admin", "exp": live})
                )))
            ),
            Err(StatusCode::UNAUTHORIZED)
        );
    }

    #[test]
    fn a_subject_is_printable_and_short() {
        let claims = Claims {
            sub: Some(serde_json::json!(format!("a\nb\u{7}{}", "c".repeat(100)))),
            role: None,
            roles: None,
        };
        let subject = claims.subject();
        assert_eq!(subject.chars().count(), 64);
        assert!(subject.starts_with("a%0Ab%07ccc"), "{subject}");
        let spoof = Claims {
            sub: Some(serde_json::json!(
                "evil\nroot for api:admin-token \u{202e}é%"
            )),
            role: None,
            roles: None,
        };
        assert_eq!(
            spoof.subject(),
            "evil%0Aroot%20for%20api:admin-token%20%E2%80%AE%C3%A9%25"
        );
        assert!(Credentials::default().is_empty());
        assert!(!both().is_empty());
        for one in [
            Credentials {
                token: Some(TOKEN.to_owned()),
                jwt_secret: None,
            },
            Credentials {
                token: None,
                jwt_secret: Some(SECRET.to_vec()),
            },
        ] {
            assert!(!one.is_empty(), "{one:?}");
        }
    }

    #[test]
    fn credentials_are_never_shown() {
        let shown = format!("{:?}", both());
        assert!(shown.starts_with("Credentials"), "{shown}");
        assert!(shown.contains("token"), "{shown}");
        assert!(!shown.contains(TOKEN), "{shown}");
        assert!(!shown.contains("jwt-secret"), "{shown}");
    }

    #[test]
    fn why_a_jwt_is_refused_is_said_in_words() {
        use jsonwebtoken::errors::ErrorKind;
        assert_eq!(
            jwt_problem(&ErrorKind::ExpiredSignature.into()),
            "it has expired"
        );
        assert_eq!(
            jwt_problem(&ErrorKind::InvalidSignature.into()),
            "its signature does not match the server's secret"
        );
        assert_eq!(
            jwt_problem(&ErrorKind::InvalidAlgorithm.into()),
            "it is not signed with HS256"
        );
        assert_eq!(
            jwt_problem(&ErrorKind::MissingRequiredClaim("exp".into()).into()),
            "it has no exp claim"
        );
        assert_eq!(
            jwt_problem(&ErrorKind::ImmatureSignature.into()),
            "it is not valid yet"
        );
        assert_eq!(
            jwt_problem(&ErrorKind::InvalidToken.into()),
            "it cannot be read as a JWT"
        );
    }
}
