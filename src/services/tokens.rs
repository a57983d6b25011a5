//! Access tokens (HS256 JWTs, verified without touching the database) and opaque refresh tokens
//! (random, stored only as SHA-256 hashes). Neither can stand in for the other: a refresh token is
//! not a JWT, and access tokens carry their own `typ`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::ServiceError;
use super::access::{Actor, RequestContext};
use crate::domain::user::{Role, User};

pub const ISSUER: &str = "oncology-registry";
pub const AUDIENCE: &str = "oncology-registry-api";
/// Clock difference tolerated between replicas when checking `exp`, `nbf` and `iat`.
const CLOCK_SKEW_SECONDS: i64 = 5;
/// The JOSE `typ` of access tokens (RFC 9068).
const ACCESS_TOKEN_TYPE: &str = "at+jwt";

#[derive(Debug, Serialize, Deserialize)]
struct AccessClaims {
    sub: Uuid,
    /// The username, so audit events need no lookup.
    preferred_username: String,
    role: String,
    iss: String,
    aud: String,
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: Uuid,
}

/// A freshly issued access token.
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub token: String,
    pub expires_in: i64,
}

#[derive(Clone)]
pub struct TokenIssuer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    access_ttl: Duration,
    refresh_ttl: Duration,
}

impl TokenIssuer {
    pub fn new(secret: &[u8], access_ttl: Duration, refresh_ttl: Duration) -> Self {
        // Pinned algorithm and every registered claim checked: a token signed with another
        // algorithm, for another audience or issuer, or outside its validity window is refused.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = CLOCK_SKEW_SECONDS.unsigned_abs();
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            access_ttl,
            refresh_ttl,
        }
    }

    pub fn refresh_ttl(&self) -> Duration {
        self.refresh_ttl
    }

    pub fn issue_access(
        &self,
        user: &User,
        now: DateTime<Utc>,
    ) -> Result<AccessToken, ServiceError> {
        let claims = AccessClaims {
            sub: user.id,
            preferred_username: user.username.as_str().to_owned(),
            role: user.role.as_str().to_owned(),
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: (now + self.access_ttl).timestamp(),
            jti: Uuid::new_v4(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
        let token = encode(&header, &claims, &self.encoding).map_err(ServiceError::internal)?;
        Ok(AccessToken {
            token,
            expires_in: self.access_ttl.num_seconds(),
        })
    }

    /// The actor an access token speaks for, or why it is refused.
    pub fn verify_access(
        &self,
        token: &str,
        context: RequestContext,
    ) -> Result<Actor, ServiceError> {
        let data = decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map_err(|_| ServiceError::Unauthenticated("the access token is invalid or expired"))?;
        if data.header.typ.as_deref() != Some(ACCESS_TOKEN_TYPE) {
            return Err(ServiceError::Unauthenticated("not an access token"));
        }
        // jsonwebtoken checks exp and nbf; a token issued in the future was not issued by us.
        if data.claims.iat > Utc::now().timestamp() + CLOCK_SKEW_SECONDS {
            return Err(ServiceError::Unauthenticated(
                "the access token is invalid or expired",
            ));
        }
        let role: Role =
            data.claims.role.parse().map_err(|_| {
                ServiceError::Unauthenticated("the access token is invalid or expired")
            })?;
        Ok(Actor {
            user_id: data.claims.sub,
            username: data.claims.preferred_username,
            role,
            context,
            token_expires_at: chrono::DateTime::from_timestamp(data.claims.exp, 0)
                .unwrap_or_default(),
        })
    }
}

/// A new opaque refresh token: 256 random bits, URL-safe.
pub fn new_refresh_token() -> Result<String, ServiceError> {
    let mut bytes = [0_u8; 32];
    getrandom::fill(&mut bytes).map_err(ServiceError::internal)?;
    Ok(encode_bytes(&bytes))
}

/// The stored form of a secret token: its SHA-256, hex.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

pub(crate) fn encode_bytes(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::user::{FullName, Username};

    fn issuer(secret: &[u8]) -> TokenIssuer {
        TokenIssuer::new(secret, Duration::minutes(15), Duration::days(7))
    }

    fn user() -> User {
        User {
            id: Uuid::now_v7(),
            username: Username::parse("n.nightingale").unwrap(),
            full_name: FullName::parse("Florence Nightingale").unwrap(),
            role: Role::Nurse,
            active: true,
            version: 1,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn access_tokens_round_trip() {
        let issuer = issuer(b"0123456789abcdef0123456789abcdef");
        let user = user();
        let token = issuer.issue_access(&user, Utc::now()).unwrap();
        assert_eq!(token.expires_in, 900);
        let actor = issuer
            .verify_access(&token.token, RequestContext::default())
            .unwrap();
        assert_eq!(actor.user_id, user.id);
        assert_eq!(actor.role, Role::Nurse);
        assert_eq!(actor.username, "n.nightingale");
    }

    #[test]
    fn tokens_from_another_key_or_expired_are_refused() {
        let ours = issuer(b"0123456789abcdef0123456789abcdef");
        let theirs = issuer(b"ffffffffffffffffffffffffffffffff");
        let forged = theirs.issue_access(&user(), Utc::now()).unwrap();
        assert!(
            ours.verify_access(&forged.token, RequestContext::default())
                .is_err()
        );
        let old = ours
            .issue_access(&user(), Utc::now() - Duration::hours(1))
            .unwrap();
        assert!(
            ours.verify_access(&old.token, RequestContext::default())
                .is_err()
        );
        let refresh = new_refresh_token().unwrap();
        assert!(
            ours.verify_access(&refresh, RequestContext::default())
                .is_err()
        );
    }

    #[test]
    fn refresh_tokens_are_random_and_hashed() {
        let a = new_refresh_token().unwrap();
        let b = new_refresh_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
    }
}
