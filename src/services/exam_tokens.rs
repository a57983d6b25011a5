//! Exam tokens and result tokens. An exam token is issued when an exam starts (HS256 with
//! EXAM_TOKEN_SECRET, its own audience and `typ`), so neither an access token nor a token of
//! another key passes for it, nor it for an access token. A result token is issued by the exam
//! execution system (HS256 with RESULT_TOKEN_SECRET, its issuer checked) and carries the result.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, decode_header, encode,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ServiceError;
use super::tokens::ISSUER;
use crate::domain::FieldErrors;
use crate::domain::exam::{Exam, ExamResult, ExamTokenClaims, ExamTypeCode, ResultTokenClaims};

/// The audience of exam tokens: the registry's result intake, not its API.
pub const EXAM_TOKEN_AUDIENCE: &str = "oncology-registry-exam-results";
/// The JOSE `typ` of exam tokens.
pub const EXAM_TOKEN_TYPE: &str = "exam+jwt";
const ACCESS_TOKEN_TYPE: &str = "at+jwt";
const CLOCK_SKEW_SECONDS: u64 = 5;

#[derive(Debug, Serialize, Deserialize)]
struct ExamClaims {
    iss: String,
    aud: String,
    exam_id: Uuid,
    patient_id: Uuid,
    exam_type: i64,
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: Uuid,
}

#[derive(Debug, Deserialize)]
struct ResultClaims {
    exam_id: Uuid,
    iat: i64,
    result: ResultBody,
}

#[derive(Debug, Deserialize)]
struct ResultBody {
    status: String,
    summary: String,
    values: Option<BTreeMap<String, f64>>,
}

/// Why a token does not verify, in words an integrator can act on.
fn refusal(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::ExpiredSignature => "has expired".to_owned(),
        ErrorKind::ImmatureSignature => "is not valid yet".to_owned(),
        ErrorKind::InvalidSignature => "has a signature that does not verify".to_owned(),
        ErrorKind::InvalidAudience => "is meant for another audience".to_owned(),
        ErrorKind::InvalidIssuer => "is from another issuer".to_owned(),
        ErrorKind::InvalidAlgorithm => "is signed with another algorithm than HS256".to_owned(),
        ErrorKind::MissingRequiredClaim(claim) => format!("lacks the claim '{claim}'"),
        ErrorKind::Json(e) => format!("has malformed claims ({e})"),
        _ => "is not a well-formed JWT".to_owned(),
    }
}

/// A freshly issued exam token.
#[derive(Debug, Clone)]
pub struct IssuedExamToken {
    pub token: String,
    pub claims: ExamTokenClaims,
}

#[derive(Clone)]
pub struct ExamTokens {
    exam_encoding: EncodingKey,
    exam_decoding: DecodingKey,
    exam_validation: Validation,
    exam_ttl: Duration,
    result_decoding: DecodingKey,
    result_validation: Validation,
}

impl ExamTokens {
    pub fn new(
        exam_secret: &[u8],
        exam_ttl: Duration,
        result_secret: &[u8],
        result_issuer: &str,
    ) -> Self {
        let mut exam_validation = Validation::new(Algorithm::HS256);
        exam_validation.set_issuer(&[ISSUER]);
        exam_validation.set_audience(&[EXAM_TOKEN_AUDIENCE]);
        exam_validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud"]);
        exam_validation.validate_nbf = true;
        exam_validation.leeway = CLOCK_SKEW_SECONDS;
        // The exam execution system names no audience; its issuer and key are what count.
        let mut result_validation = Validation::new(Algorithm::HS256);
        result_validation.set_issuer(&[result_issuer]);
        result_validation.set_required_spec_claims(&["exp", "iat", "iss"]);
        result_validation.validate_aud = false;
        result_validation.leeway = CLOCK_SKEW_SECONDS;
        Self {
            exam_encoding: EncodingKey::from_secret(exam_secret),
            exam_decoding: DecodingKey::from_secret(exam_secret),
            exam_validation,
            exam_ttl,
            result_decoding: DecodingKey::from_secret(result_secret),
            result_validation,
        }
    }

    /// The exam token of `exam`, which has just started with token id `token_id`.
    pub fn issue(
        &self,
        exam: &Exam,
        token_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<IssuedExamToken, ServiceError> {
        let claims = ExamClaims {
            iss: ISSUER.to_owned(),
            aud: EXAM_TOKEN_AUDIENCE.to_owned(),
            exam_id: exam.id,
            patient_id: exam.patient_id,
            exam_type: i64::from(exam.exam_type.value()),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: (now + self.exam_ttl).timestamp(),
            jti: token_id,
        };
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some(EXAM_TOKEN_TYPE.to_owned());
        let token =
            encode(&header, &claims, &self.exam_encoding).map_err(ServiceError::internal)?;
        Ok(IssuedExamToken {
            token,
            claims: to_exam_claims(&claims).map_err(ServiceError::Internal)?,
        })
    }

    /// What an exam token says, or why it is refused.
    pub fn verify_exam(&self, token: &str) -> Result<ExamTokenClaims, String> {
        let header = decode_header(token).map_err(|e| refusal(e.kind()))?;
        match header.typ.as_deref() {
            Some(EXAM_TOKEN_TYPE) => {}
            Some(ACCESS_TOKEN_TYPE) => {
                return Err("is an access token, not an exam token".to_owned());
            }
            _ => return Err("is not an exam token".to_owned()),
        }
        let data = decode::<ExamClaims>(token, &self.exam_decoding, &self.exam_validation)
            .map_err(|e| refusal(e.kind()))?;
        if data.claims.iat > Utc::now().timestamp() + CLOCK_SKEW_SECONDS.cast_signed() {
            return Err("was issued in the future".to_owned());
        }
        to_exam_claims(&data.claims)
    }

    /// What a result token says, or every reason it is refused (under `result_token`).
    pub fn verify_result(&self, token: &str) -> Result<ResultTokenClaims, FieldErrors> {
        let single = |message: String| {
            let mut e = FieldErrors::default();
            e.push("result_token", message);
            e
        };
        let data = decode::<ResultClaims>(token, &self.result_decoding, &self.result_validation)
            .map_err(|e| single(refusal(e.kind())))?;
        let issued_at = DateTime::from_timestamp(data.claims.iat, 0)
            .filter(|at| {
                at.timestamp() <= Utc::now().timestamp() + CLOCK_SKEW_SECONDS.cast_signed()
            })
            .ok_or_else(|| single("was issued in the future".to_owned()))?;
        let body = &data.claims.result;
        let result = ExamResult::parse(&body.status, &body.summary, body.values.as_ref())
            .map_err(|e| e.prefixed("result_token."))?;
        Ok(ResultTokenClaims {
            exam_id: data.claims.exam_id,
            issued_at,
            result,
        })
    }
}

fn to_exam_claims(c: &ExamClaims) -> Result<ExamTokenClaims, String> {
    let at = |t: i64| DateTime::from_timestamp(t, 0).ok_or_else(|| "has a bad time".to_owned());
    Ok(ExamTokenClaims {
        exam_id: c.exam_id,
        patient_id: c.patient_id,
        exam_type: ExamTypeCode::parse(c.exam_type)?,
        token_id: c.jti,
        issued_at: at(c.iat)?,
        expires_at: at(c.exp)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::access::RequestContext;
    use crate::services::tokens::TokenIssuer;
    use serde_json::json;

    const EXAM_KEY: &[u8] = b"exam-key-exam-key-exam-key-012345";
    const RESULT_KEY: &[u8] = b"result-key-result-key-result-0123";

    fn tokens() -> ExamTokens {
        ExamTokens::new(EXAM_KEY, Duration::days(1), RESULT_KEY, "lab-system")
    }

    fn started_exam() -> (Exam, Uuid) {
        let exam = Exam::order(
            Uuid::now_v7(),
            ExamTypeCode::parse(1001).unwrap(),
            Uuid::now_v7(),
            Utc::now(),
        );
        let jti = Uuid::new_v4();
        (exam.started(Uuid::now_v7(), Utc::now(), jti).unwrap(), jti)
    }

    fn result_token(key: &[u8], claims: serde_json::Value) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(key),
        )
        .unwrap()
    }

    fn result_claims(exam_id: Uuid) -> serde_json::Value {
        let now = Utc::now().timestamp();
        json!({"iss": "lab-system", "exam_id": exam_id, "iat": now, "exp": now + 600,
               "result": {"status": "critical", "summary": "Severe neutropenia", "values": {"anc": 0.3}}})
    }

    #[test]
    fn exam_tokens_round_trip_with_every_claim() {
        let (exam, jti) = started_exam();
        let issued = tokens().issue(&exam, jti, Utc::now()).unwrap();
        let claims = tokens().verify_exam(&issued.token).unwrap();
        assert_eq!(claims, issued.claims);
        assert_eq!(
            (
                claims.exam_id,
                claims.patient_id,
                claims.exam_type,
                claims.token_id
            ),
            (exam.id, exam.patient_id, exam.exam_type, jti)
        );
        assert_eq!((claims.expires_at - claims.issued_at).num_hours(), 24);
    }

    #[test]
    fn exam_tokens_of_another_key_or_expired_are_refused() {
        let (exam, jti) = started_exam();
        let other = ExamTokens::new(
            b"another-key-another-key-another-k",
            Duration::days(1),
            RESULT_KEY,
            "lab-system",
        );
        let forged = other.issue(&exam, jti, Utc::now()).unwrap();
        assert!(
            tokens()
                .verify_exam(&forged.token)
                .unwrap_err()
                .contains("signature")
        );
        let old = tokens()
            .issue(&exam, jti, Utc::now() - Duration::days(2))
            .unwrap();
        assert_eq!(tokens().verify_exam(&old.token).unwrap_err(), "has expired");
        assert!(tokens().verify_exam("not.a.jwt").is_err());
    }

    #[test]
    fn exam_and_access_tokens_do_not_stand_in_for_each_other() {
        // Even with one key for both, the audience and type keep them apart.
        let shared = ExamTokens::new(EXAM_KEY, Duration::days(1), RESULT_KEY, "lab-system");
        let access = TokenIssuer::new(EXAM_KEY, Duration::minutes(15), Duration::days(1));
        let user = crate::domain::user::User {
            id: Uuid::now_v7(),
            username: crate::domain::user::Username::parse("t.tech").unwrap(),
            full_name: crate::domain::user::FullName::parse("Tess Tech").unwrap(),
            role: crate::domain::user::Role::Technician,
            active: true,
            version: 1,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let access_token = access.issue_access(&user, Utc::now()).unwrap().token;
        assert_eq!(
            shared.verify_exam(&access_token).unwrap_err(),
            "is an access token, not an exam token"
        );
        let (exam, jti) = started_exam();
        let exam_token = shared.issue(&exam, jti, Utc::now()).unwrap().token;
        assert!(
            access
                .verify_access(&exam_token, RequestContext::default())
                .is_err()
        );
        // A token with the exam type but the API's audience is refused too.
        let now = Utc::now().timestamp();
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some(EXAM_TOKEN_TYPE.to_owned());
        let wrong_aud = encode(
            &header,
            &json!({"iss": ISSUER, "aud": "oncology-registry-api", "exam_id": exam.id,
                    "patient_id": exam.patient_id, "exam_type": 1001, "iat": now, "nbf": now,
                    "exp": now + 60, "jti": jti}),
            &EncodingKey::from_secret(EXAM_KEY),
        )
        .unwrap();
        assert_eq!(
            shared.verify_exam(&wrong_aud).unwrap_err(),
            "is meant for another audience"
        );
    }

    #[test]
    fn result_tokens_are_checked_for_key_issuer_expiry_and_content() {
        let id = Uuid::now_v7();
        let claims = tokens()
            .verify_result(&result_token(RESULT_KEY, result_claims(id)))
            .unwrap();
        assert_eq!(claims.exam_id, id);
        assert_eq!(claims.result.values["anc"], 0.3);
        let refused = |token: String| tokens().verify_result(&token).unwrap_err().to_string();
        assert!(refused(result_token(EXAM_KEY, result_claims(id))).contains("signature"));
        let mut other_issuer = result_claims(id);
        other_issuer["iss"] = json!("someone-else");
        assert!(refused(result_token(RESULT_KEY, other_issuer)).contains("issuer"));
        let mut expired = result_claims(id);
        expired["exp"] = json!(Utc::now().timestamp() - 3600);
        assert!(refused(result_token(RESULT_KEY, expired)).contains("expired"));
        let mut bad_result = result_claims(id);
        bad_result["result"]["status"] = json!("done");
        assert!(
            refused(result_token(RESULT_KEY, bad_result)).contains("result_token.result.status")
        );
    }
}
