//! Exams: the catalog of exam types, an ordered exam's lifecycle (registered -> started ->
//! finished, or revoked before it finishes), its result, and the agreement rules between the
//! exam token printed at start and the result token of the exam execution system.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::lab::{LabCode, NewLabResult};
use super::patient::closed_set;
use super::{FieldErrors, bounded_text};

/// The numeric code of an exam type, as the exam execution system knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExamTypeCode(i32);

impl ExamTypeCode {
    pub const MAX: i64 = 999_999;

    pub fn parse(value: i64) -> Result<Self, String> {
        if (1..=Self::MAX).contains(&value) {
            Ok(Self(i32::try_from(value).expect("in range")))
        } else {
            Err(format!(
                "must be an exam type code between 1 and {}",
                Self::MAX
            ))
        }
    }

    pub fn value(self) -> i32 {
        self.0
    }
}

impl fmt::Display for ExamTypeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

closed_set!(
    /// How an exam is performed.
    Modality {
        Laboratory => "laboratory",
        Radiography => "radiography",
        Ct => "ct",
        Mri => "mri",
        PetCt => "pet_ct",
        Ultrasound => "ultrasound",
        Pathology => "pathology",
        Endoscopy => "endoscopy",
        Other => "other",
    }
);

closed_set!(
    /// Where an exam is in its lifecycle.
    ExamStatus {
        Registered => "registered",
        Started => "started",
        Finished => "finished",
        Revoked => "revoked",
    }
);

closed_set!(
    /// What the exam execution system says of the result.
    ResultStatus {
        Normal => "normal",
        Abnormal => "abnormal",
        Critical => "critical",
    }
);

/// An exam type's display name.
pub fn parse_exam_type_name(value: &str) -> Result<String, String> {
    bounded_text(value, 1, 120)
}

/// An entry of the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExamType {
    pub code: ExamTypeCode,
    pub name: String,
    pub modality: Modality,
    pub active: bool,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A new catalog entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewExamType {
    pub code: ExamTypeCode,
    pub name: String,
    pub modality: Modality,
}

impl NewExamType {
    pub fn parse(code: i64, name: &str, modality: &str) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::default();
        let code = e.check("code", ExamTypeCode::parse(code));
        let name = e.check("name", parse_exam_type_name(name));
        let modality = e.check("modality", modality.parse::<Modality>());
        match (code, name, modality) {
            (Some(code), Some(name), Some(modality)) if e.is_empty() => Ok(Self {
                code,
                name,
                modality,
            }),
            _ => Err(e),
        }
    }
}

/// A change to a catalog entry: rename and/or (de)activate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExamTypeChanges {
    pub name: Option<String>,
    pub active: Option<bool>,
}

impl ExamTypeChanges {
    pub fn parse(name: Option<&str>, active: Option<bool>) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::default();
        let name = match name {
            Some(n) => e.check("name", parse_exam_type_name(n)),
            None => None,
        };
        if name.is_none() && active.is_none() && e.is_empty() {
            e.push("body", "change at least one of name, active");
        }
        e.into_result(|| Self { name, active })
    }
}

impl ExamType {
    pub fn with_changes(mut self, changes: ExamTypeChanges, at: DateTime<Utc>) -> Self {
        if let Some(name) = changes.name {
            self.name = name;
        }
        if let Some(active) = changes.active {
            self.active = active;
        }
        self.updated_at = at;
        self
    }
}

/// Who did something to an exam, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub at: DateTime<Utc>,
    pub by: Uuid,
}

/// Why and by whom an exam was revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revocation {
    pub at: DateTime<Utc>,
    pub by: Uuid,
    pub reason: String,
}

/// A revocation reason: 1-500 characters of plain text.
pub fn parse_revoke_reason(value: &str) -> Result<String, String> {
    bounded_text(value, 1, 500)
}

/// An exam's result as reported by the exam execution system.
#[derive(Debug, Clone, PartialEq)]
pub struct ExamResult {
    pub status: ResultStatus,
    pub summary: String,
    /// Named measurements (e.g. `anc` in 10^9/L for a blood count).
    pub values: BTreeMap<String, f64>,
}

/// The most named values one result carries.
pub const MAX_RESULT_VALUES: usize = 64;

impl ExamResult {
    pub fn parse(
        status: &str,
        summary: &str,
        values: Option<&BTreeMap<String, f64>>,
    ) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::default();
        let status = e.check("result.status", status.parse::<ResultStatus>());
        let summary = e.check("result.summary", bounded_text(summary, 1, 4000));
        let values = values.cloned().unwrap_or_default();
        if values.len() > MAX_RESULT_VALUES {
            e.push(
                "result.values",
                format!("must hold at most {MAX_RESULT_VALUES} values"),
            );
        }
        for (name, value) in &values {
            let well_named = (1..=32).contains(&name.len())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !well_named {
                e.push(
                    "result.values",
                    "names must be 1-32 characters of a-z, 0-9 and _",
                );
            } else if !value.is_finite() {
                e.push(format!("result.values.{name}"), "must be a number");
            }
        }
        match (status, summary) {
            (Some(status), Some(summary)) if e.is_empty() => Ok(Self {
                status,
                summary,
                values,
            }),
            _ => Err(e),
        }
    }

    /// The values the registry's rules read (the neutrophil count), as laboratory results
    /// measured at `measured_at`; a value outside its plausible range refuses the result.
    pub fn lab_results(
        &self,
        measured_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<NewLabResult>, FieldErrors> {
        let mut e = FieldErrors::default();
        let mut labs = Vec::new();
        for (name, value) in &self.values {
            if name.parse::<LabCode>().is_err() {
                continue;
            }
            match NewLabResult::parse(name, Some(*value), Some(measured_at), now) {
                Ok(lab) => labs.push(lab),
                Err(errors) => e.extend(errors.prefixed(&format!("result.values.{name}:"))),
            }
        }
        e.into_result(|| labs)
    }
}

/// An ordered exam.
#[derive(Debug, Clone, PartialEq)]
pub struct Exam {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub exam_type: ExamTypeCode,
    pub status: ExamStatus,
    pub ordered: Stamp,
    pub started: Option<Stamp>,
    /// The `jti` of the exam token issued at start.
    pub token_id: Option<Uuid>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The member of staff who submitted the result; none when it came through the inbox.
    pub finished_by: Option<Uuid>,
    pub revoked: Option<Revocation>,
    pub result: Option<ExamResult>,
    /// SHA-256 of the applied result token, to recognise a replay.
    pub result_digest: Option<String>,
    /// Where the report file that came with the result lies in the result store.
    pub report_key: Option<String>,
    pub version: i32,
}

/// A transition the lifecycle does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an exam that is {from} cannot be {to}")]
pub struct ExamTransitionError {
    pub from: ExamStatus,
    pub to: ExamStatus,
}

impl ExamStatus {
    /// Whether the lifecycle allows moving from `self` to `to`.
    pub fn can_become(self, to: ExamStatus) -> bool {
        use ExamStatus::*;
        matches!(
            (self, to),
            (Registered, Started) | (Started, Finished) | (Registered | Started, Revoked)
        )
    }
}

impl Exam {
    /// A new order.
    pub fn order(patient_id: Uuid, exam_type: ExamTypeCode, by: Uuid, at: DateTime<Utc>) -> Self {
        Self {
            id: Uuid::now_v7(),
            patient_id,
            exam_type,
            status: ExamStatus::Registered,
            ordered: Stamp { at, by },
            started: None,
            token_id: None,
            finished_at: None,
            finished_by: None,
            revoked: None,
            result: None,
            result_digest: None,
            report_key: None,
            version: 1,
        }
    }

    fn moved(&self, to: ExamStatus) -> Result<Self, ExamTransitionError> {
        if !self.status.can_become(to) {
            return Err(ExamTransitionError {
                from: self.status,
                to,
            });
        }
        let mut next = self.clone();
        next.status = to;
        next.version = self.version + 1;
        Ok(next)
    }

    pub fn started(
        &self,
        by: Uuid,
        at: DateTime<Utc>,
        token_id: Uuid,
    ) -> Result<Self, ExamTransitionError> {
        let mut next = self.moved(ExamStatus::Started)?;
        next.started = Some(Stamp { at, by });
        next.token_id = Some(token_id);
        Ok(next)
    }

    pub fn revoked(
        &self,
        by: Uuid,
        at: DateTime<Utc>,
        reason: String,
    ) -> Result<Self, ExamTransitionError> {
        let mut next = self.moved(ExamStatus::Revoked)?;
        next.revoked = Some(Revocation { at, by, reason });
        Ok(next)
    }

    pub fn finished(
        &self,
        by: Option<Uuid>,
        at: DateTime<Utc>,
        result: ExamResult,
        digest: String,
    ) -> Result<Self, ExamTransitionError> {
        let mut next = self.moved(ExamStatus::Finished)?;
        next.finished_at = Some(at);
        next.finished_by = by;
        next.result = Some(result);
        next.result_digest = Some(digest);
        Ok(next)
    }
}

/// What a verified exam token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExamTokenClaims {
    pub exam_id: Uuid,
    pub patient_id: Uuid,
    pub exam_type: ExamTypeCode,
    pub token_id: Uuid,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// What a verified result token says.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultTokenClaims {
    pub exam_id: Uuid,
    pub issued_at: DateTime<Utc>,
    pub result: ExamResult,
}

/// Why a result that verified cannot be applied to the exam.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Disagreement {
    #[error("the result token is for another exam than the exam token")]
    TokensDisagree,
    #[error("the tokens are for another exam than the one addressed")]
    OtherExam,
    #[error("the exam token names another {0} than the registry's exam")]
    RegistryDisagrees(&'static str),
    #[error("the exam token is not the one issued when the exam started")]
    NotTheIssuedToken,
}

/// Checks that both tokens speak of the same exam, that it is `addressed` (when the caller named
/// one), and that the exam token matches the registry's record of it.
pub fn check_agreement(
    exam_token: &ExamTokenClaims,
    result_token: &ResultTokenClaims,
    addressed: Option<Uuid>,
) -> Result<(), Disagreement> {
    if exam_token.exam_id != result_token.exam_id {
        return Err(Disagreement::TokensDisagree);
    }
    if addressed.is_some_and(|id| id != exam_token.exam_id) {
        return Err(Disagreement::OtherExam);
    }
    Ok(())
}

/// Checks the exam token against the stored exam (same patient, same type, the token issued at
/// start).
pub fn check_registry(exam_token: &ExamTokenClaims, exam: &Exam) -> Result<(), Disagreement> {
    if exam_token.patient_id != exam.patient_id {
        return Err(Disagreement::RegistryDisagrees("patient"));
    }
    if exam_token.exam_type != exam.exam_type {
        return Err(Disagreement::RegistryDisagrees("exam type"));
    }
    if exam.token_id.is_some_and(|t| t != exam_token.token_id) {
        return Err(Disagreement::NotTheIssuedToken);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-24T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn result() -> ExamResult {
        ExamResult::parse("abnormal", "Neutropenia", None).unwrap()
    }

    fn exam() -> Exam {
        Exam::order(
            Uuid::now_v7(),
            ExamTypeCode::parse(1001).unwrap(),
            Uuid::now_v7(),
            now(),
        )
    }

    #[test]
    fn the_lifecycle_allows_exactly_its_transitions() {
        use ExamStatus::*;
        let allowed = [
            (Registered, Started),
            (Started, Finished),
            (Registered, Revoked),
            (Started, Revoked),
        ];
        for from in ExamStatus::ALL {
            for to in ExamStatus::ALL {
                assert_eq!(
                    from.can_become(*to),
                    allowed.contains(&(*from, *to)),
                    "{from} -> {to}"
                );
            }
        }
    }

    #[test]
    fn an_exam_walks_its_lifecycle_recording_who_and_when() {
        let by = Uuid::now_v7();
        let token = Uuid::new_v4();
        let e = exam();
        assert_eq!(e.status, ExamStatus::Registered);
        assert!(e.finished(None, now(), result(), "d".into()).is_err());
        let started = e.started(by, now(), token).unwrap();
        assert_eq!(started.status, ExamStatus::Started);
        assert_eq!(started.started, Some(Stamp { at: now(), by }));
        assert_eq!(started.token_id, Some(token));
        assert_eq!(started.version, 2);
        assert!(started.started(by, now(), token).is_err());
        let done = started
            .finished(Some(by), now(), result(), "d".into())
            .unwrap();
        assert_eq!(done.status, ExamStatus::Finished);
        assert_eq!(done.version, 3);
        let err = done.revoked(by, now(), "late".into()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "an exam that is finished cannot be revoked"
        );
    }

    #[test]
    fn revoked_exams_go_nowhere() {
        let by = Uuid::now_v7();
        let revoked = exam().revoked(by, now(), "ordered twice".into()).unwrap();
        assert_eq!(revoked.revoked.as_ref().unwrap().reason, "ordered twice");
        assert!(revoked.started(by, now(), Uuid::new_v4()).is_err());
        assert!(revoked.revoked(by, now(), "again".into()).is_err());
        assert!(revoked.finished(None, now(), result(), "d".into()).is_err());
    }

    #[test]
    fn catalog_entries_are_parsed() {
        let t = NewExamType::parse(2001, " CT chest ", "ct").unwrap();
        assert_eq!((t.code.value(), t.name.as_str()), (2001, "CT chest"));
        let err = NewExamType::parse(0, "", "xray").unwrap_err();
        let fields: Vec<&str> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["code", "name", "modality"]);
        assert!(ExamTypeChanges::parse(None, None).is_err());
        assert!(ExamTypeChanges::parse(Some("x"), None).is_ok());
    }

    #[test]
    fn results_are_parsed_and_feed_the_neutrophil_count() {
        let values = BTreeMap::from([("anc".to_owned(), 0.4), ("hb".to_owned(), 9.1)]);
        let r = ExamResult::parse("critical", "Severe neutropenia", Some(&values)).unwrap();
        let labs = r.lab_results(now(), now()).unwrap();
        assert_eq!(labs.len(), 1);
        assert_eq!((labs[0].code, labs[0].value), (LabCode::Anc, 0.4));
        let implausible = BTreeMap::from([("anc".to_owned(), 1500.0)]);
        let r = ExamResult::parse("normal", "x", Some(&implausible)).unwrap();
        assert!(r.lab_results(now(), now()).is_err());
        let err = ExamResult::parse("done", "", None).unwrap_err();
        assert_eq!(err.0.len(), 2);
        let bad = BTreeMap::from([("Bad Name".to_owned(), 1.0)]);
        assert!(ExamResult::parse("normal", "x", Some(&bad)).is_err());
    }

    #[test]
    fn tokens_must_agree_with_each_other_and_the_registry() {
        let e = exam()
            .started(Uuid::now_v7(), now(), Uuid::new_v4())
            .unwrap();
        let exam_claims = ExamTokenClaims {
            exam_id: e.id,
            patient_id: e.patient_id,
            exam_type: e.exam_type,
            token_id: e.token_id.unwrap(),
            issued_at: now(),
            expires_at: now(),
        };
        let result_claims = ResultTokenClaims {
            exam_id: e.id,
            issued_at: now(),
            result: result(),
        };
        assert_eq!(
            check_agreement(&exam_claims, &result_claims, Some(e.id)),
            Ok(())
        );
        assert_eq!(check_registry(&exam_claims, &e), Ok(()));
        assert_eq!(
            check_agreement(&exam_claims, &result_claims, Some(Uuid::now_v7())),
            Err(Disagreement::OtherExam)
        );
        let other = ResultTokenClaims {
            exam_id: Uuid::now_v7(),
            ..result_claims
        };
        assert_eq!(
            check_agreement(&exam_claims, &other, None),
            Err(Disagreement::TokensDisagree)
        );
        let wrong_patient = ExamTokenClaims {
            patient_id: Uuid::now_v7(),
            ..exam_claims
        };
        assert_eq!(
            check_registry(&wrong_patient, &e),
            Err(Disagreement::RegistryDisagrees("patient"))
        );
        let wrong_type = ExamTokenClaims {
            exam_type: ExamTypeCode::parse(2001).unwrap(),
            ..exam_claims
        };
        assert_eq!(
            check_registry(&wrong_type, &e),
            Err(Disagreement::RegistryDisagrees("exam type"))
        );
        let reissued = ExamTokenClaims {
            token_id: Uuid::new_v4(),
            ..exam_claims
        };
        assert_eq!(
            check_registry(&reissued, &e),
            Err(Disagreement::NotTheIssuedToken)
        );
    }
}
