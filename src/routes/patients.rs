//! Patients: register, list, read, change and soft-delete, one by one or in all-or-nothing
//! batches. Reads return an `ETag`; changes require `If-Match`.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;
use validator::Validate;

use super::API_PREFIX;
use super::extract::{Authorized, Json, Path, ValidJson, ValidQuery, page_request};
use super::links::{Links, api, filter_query, links, page_links};
use crate::app::AppState;
use crate::domain::FieldErrors;
use crate::domain::page::{KeyShape, Page};
use crate::domain::patient::{
    ClinicalSettingsChange, NewPatient, Patient, PatientChanges, PatientChangesInput, PatientInput,
    PatientStatus, PreferredContact, Sex,
};
use crate::error::{ApiError, Problem};
use crate::persistence::patients::PatientFilter;
use crate::services::Precondition;
use crate::services::access::{
    ChangeClinicalSettings, CreatePatient, DeletePatient, ReadPatient, UpdatePatient,
};
use crate::services::patients::{
    BatchOperation, BatchOutcome, IdempotencyRequest, MAX_BATCH_OPERATIONS,
};

macro_rules! dto_enum {
    ($(#[$meta:meta])* $dto:ident => $domain:ident { $($variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $dto { $($variant),+ }

        impl From<$dto> for $domain {
            fn from(v: $dto) -> Self {
                match v { $($dto::$variant => $domain::$variant),+ }
            }
        }

        impl From<$domain> for $dto {
            fn from(v: $domain) -> Self {
                match v { $($domain::$variant => $dto::$variant),+ }
            }
        }
    };
}

dto_enum!(
    /// Administrative sex.
    SexDto => Sex { Female, Male, Other, Unknown }
);
dto_enum!(
    /// Whether the patient is on the ward.
    PatientStatusDto => PatientStatus { Admitted, Discharged }
);
dto_enum!(
    /// How the patient wants to be contacted.
    PreferredContactDto => PreferredContact { Sms, Email, None }
);

/// A list page: the items, the cursor of the next page, and links.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListResponse<T: ToSchema> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
    /// The number of matching rows; only for offset pages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    #[serde(rename = "_links")]
    pub links: Links,
}

impl<T: ToSchema> ListResponse<T> {
    pub fn new(page: Page<T>, links: Links) -> Self {
        Self {
            next_cursor: page.next_cursor.as_ref().map(|c| c.encode()),
            total: page.total,
            items: page.items,
            links,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0192f0c1-8c3a-7b7e-9a55-2f1f3f4a5b6c", "mrn": "MRN-004211",
    "first_name": "Ada", "last_name": "Lovelace", "birth_date": "1960-05-01", "sex": "female",
    "diagnosis": "Invasive ductal carcinoma, left breast", "icd10_code": "C50.9",
    "ward": "ONC-1", "bed": "12", "status": "admitted", "phone": "+441632960123",
    "email": "ada@example.org", "preferred_contact": "sms", "spo2_scale": 1,
    "last_systemic_therapy_on": "2026-11-10", "version": 1,
    "created_at": "2026-11-24T08:00:00Z", "updated_at": "2026-11-24T08:00:00Z",
    "_links": {"self": {"href": "/api/v1/patients/0192f0c1-8c3a-7b7e-9a55-2f1f3f4a5b6c"},
               "collection": {"href": "/api/v1/patients"}}
}))]
pub struct PatientResponse {
    pub id: Uuid,
    pub mrn: String,
    pub first_name: String,
    pub last_name: String,
    pub birth_date: NaiveDate,
    pub sex: SexDto,
    pub diagnosis: String,
    pub icd10_code: Option<String>,
    pub ward: String,
    pub bed: Option<String>,
    pub status: PatientStatusDto,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub preferred_contact: PreferredContactDto,
    /// The NEWS2 SpO2 scale the patient's observations are scored on (1, or 2 for prescribed
    /// hypercapnic targets). Physicians change it through `/clinical-settings`.
    #[schema(minimum = 1, maximum = 2)]
    pub spo2_scale: u8,
    /// Date of the last systemic anticancer therapy (febrile neutropenia rule).
    pub last_systemic_therapy_on: Option<NaiveDate>,
    /// Increases with every change; the `ETag` is this number in quotes.
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(rename = "_links")]
    pub links: Links,
}

impl From<Patient> for PatientResponse {
    fn from(p: Patient) -> Self {
        // Every chart opened builds these: one `format!` per link, no intermediate strings.
        let id = p.id;
        Self {
            links: links([
                ("self", format!("{API_PREFIX}/patients/{id}")),
                ("collection", format!("{API_PREFIX}/patients")),
                (
                    "vital_signs",
                    format!("{API_PREFIX}/patients/{id}/vital-signs"),
                ),
                (
                    "lab_results",
                    format!("{API_PREFIX}/patients/{id}/lab-results"),
                ),
                (
                    "ward",
                    format!(
                        "{API_PREFIX}/patients?ward={}",
                        super::links::encode(p.ward.as_str())
                    ),
                ),
            ]),
            id,
            mrn: p.mrn.into(),
            first_name: p.first_name.into(),
            last_name: p.last_name.into(),
            birth_date: p.birth_date.date(),
            sex: p.sex.into(),
            diagnosis: p.diagnosis.into(),
            icd10_code: p.icd10_code.map(String::from),
            ward: p.ward.into(),
            bed: p.bed.map(String::from),
            status: p.status.into(),
            phone: p.phone.map(String::from),
            email: p.email.map(String::from),
            preferred_contact: p.preferred_contact.into(),
            spo2_scale: p.clinical.spo2_scale.as_u8(),
            last_systemic_therapy_on: p.clinical.last_systemic_therapy_on,
            version: p.version,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "mrn": "MRN-004211", "first_name": "Ada", "last_name": "Lovelace",
    "birth_date": "1960-05-01", "sex": "female",
    "diagnosis": "Invasive ductal carcinoma, left breast", "icd10_code": "C50.9",
    "ward": "ONC-1", "bed": "12", "phone": "+441632960123", "email": "ada@example.org",
    "preferred_contact": "sms"
}))]
pub struct CreatePatientRequest {
    /// Medical record number: 1-32 letters, digits and `-`; unique.
    #[validate(length(max = 32))]
    #[schema(min_length = 1, max_length = 32, pattern = "^[A-Za-z0-9-]{1,32}$")]
    pub mrn: String,
    #[validate(length(max = 100))]
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub first_name: String,
    #[validate(length(max = 100))]
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub last_name: String,
    /// Not in the future, not before 1900.
    #[schema(pattern = "^(19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
    pub birth_date: NaiveDate,
    pub sex: SexDto,
    #[validate(length(max = 500))]
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub diagnosis: String,
    /// ICD-10 code such as `C50.9` (stored upper-case).
    #[validate(length(max = 8))]
    #[schema(
        max_length = 8,
        pattern = "^[A-TV-Za-tv-z][0-9][0-9A-Za-z](\\.[0-9A-Za-z]{1,4})?$"
    )]
    pub icd10_code: Option<String>,
    #[validate(length(max = 32))]
    #[schema(
        min_length = 1,
        max_length = 32,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub ward: String,
    #[validate(length(max = 16))]
    #[schema(
        min_length = 1,
        max_length = 16,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub bed: Option<String>,
    /// Defaults to `admitted`.
    pub status: Option<PatientStatusDto>,
    /// E.164, e.g. `+441632960123`.
    #[validate(length(max = 16))]
    #[schema(max_length = 16, pattern = "^\\+[1-9][0-9]{7,14}$")]
    pub phone: Option<String>,
    #[validate(length(max = 254))]
    #[schema(
        max_length = 254,
        pattern = "^[^@\\s\\u0000-\\u001f\\u007f-\\u009f]{1,64}@[^@\\s.\\u0000-\\u001f\\u007f-\\u009f]+(\\.[^@\\s.\\u0000-\\u001f\\u007f-\\u009f]+)+$"
    )]
    pub email: Option<String>,
    /// Defaults to `none`.
    pub preferred_contact: Option<PreferredContactDto>,
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

impl CreatePatientRequest {
    fn to_domain(&self) -> Result<NewPatient, FieldErrors> {
        let status = self.status.map(PatientStatus::from);
        let preferred = self.preferred_contact.map(PreferredContact::from);
        NewPatient::parse(
            PatientInput {
                mrn: &self.mrn,
                first_name: &self.first_name,
                last_name: &self.last_name,
                birth_date: Some(self.birth_date),
                sex: Sex::from(self.sex).as_str(),
                diagnosis: &self.diagnosis,
                icd10_code: self.icd10_code.as_deref(),
                ward: &self.ward,
                bed: self.bed.as_deref(),
                status: status.map(PatientStatus::as_str),
                phone: self.phone.as_deref(),
                email: self.email.as_deref(),
                preferred_contact: preferred.map(PreferredContact::as_str),
            },
            today(),
        )
    }
}

/// A field of a partial update: absent (unchanged), `null` (cleared) or a value.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Patch<T> {
    #[default]
    Absent,
    Null,
    Value(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(d)? {
            None => Patch::Null,
            Some(v) => Patch::Value(v),
        })
    }
}

impl<T: Serialize> Serialize for Patch<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Patch::Value(v) => s.serialize_some(v),
            Patch::Absent | Patch::Null => s.serialize_none(),
        }
    }
}

impl<T> Patch<T> {
    /// For fields that cannot be cleared: `null` is an error.
    fn required(&self, field: &str, errors: &mut FieldErrors) -> Option<&T> {
        match self {
            Patch::Absent => None,
            Patch::Null => {
                errors.push(field, "must not be null");
                None
            }
            Patch::Value(v) => Some(v),
        }
    }

    /// For optional fields: `null` clears.
    fn clearable(&self) -> Option<Option<&T>> {
        match self {
            Patch::Absent => None,
            Patch::Null => Some(None),
            Patch::Value(v) => Some(Some(v)),
        }
    }
}

fn patch_len<T: AsRef<str>>(p: &Patch<T>, max: u64) -> Result<(), validator::ValidationError> {
    match p {
        Patch::Value(v) if v.as_ref().chars().count() as u64 > max => {
            let mut e = validator::ValidationError::new("length");
            e.add_param("max".into(), &max);
            Err(e)
        }
        _ => Ok(()),
    }
}

macro_rules! patch_len_fns {
    ($($name:ident => $max:expr),*) => {
        $(fn $name(p: &Patch<String>) -> Result<(), validator::ValidationError> { patch_len(p, $max) })*
    };
}
patch_len_fns!(max_16 => 16, max_32 => 32, max_100 => 100, max_254 => 254, max_500 => 500, max_8 => 8);

/// A partial update (JSON merge-patch style): omitted fields stay, `null` clears optional ones.
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1, example = json!({"ward": "ONC-2", "bed": null, "status": "admitted"}))]
pub struct UpdatePatientRequest {
    #[serde(default)]
    #[validate(custom(function = "max_32"))]
    #[schema(value_type = String, min_length = 1, max_length = 32, pattern = "^[A-Za-z0-9-]{1,32}$")]
    pub mrn: Patch<String>,
    #[serde(default)]
    #[validate(custom(function = "max_100"))]
    #[schema(value_type = String, min_length = 1, max_length = 100, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    pub first_name: Patch<String>,
    #[serde(default)]
    #[validate(custom(function = "max_100"))]
    #[schema(value_type = String, min_length = 1, max_length = 100, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    pub last_name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = NaiveDate, pattern = "^(19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
    pub birth_date: Patch<NaiveDate>,
    #[serde(default)]
    #[schema(value_type = SexDto)]
    pub sex: Patch<SexDto>,
    #[serde(default)]
    #[validate(custom(function = "max_500"))]
    #[schema(value_type = String, min_length = 1, max_length = 500, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    pub diagnosis: Patch<String>,
    #[serde(default)]
    #[validate(custom(function = "max_8"))]
    #[schema(value_type = Option<String>, max_length = 8, pattern = "^[A-TV-Za-tv-z][0-9][0-9A-Za-z](\\.[0-9A-Za-z]{1,4})?$")]
    pub icd10_code: Patch<String>,
    #[serde(default)]
    #[validate(custom(function = "max_32"))]
    #[schema(value_type = String, min_length = 1, max_length = 32, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    pub ward: Patch<String>,
    #[serde(default)]
    #[validate(custom(function = "max_16"))]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 16, pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$")]
    pub bed: Patch<String>,
    #[serde(default)]
    #[schema(value_type = PatientStatusDto)]
    pub status: Patch<PatientStatusDto>,
    #[serde(default)]
    #[validate(custom(function = "max_16"))]
    #[schema(value_type = Option<String>, max_length = 16, pattern = "^\\+[1-9][0-9]{7,14}$")]
    pub phone: Patch<String>,
    #[serde(default)]
    #[validate(custom(function = "max_254"))]
    #[schema(value_type = Option<String>, max_length = 254, pattern = "^[^@\\s\\u0000-\\u001f\\u007f-\\u009f]{1,64}@[^@\\s.\\u0000-\\u001f\\u007f-\\u009f]+(\\.[^@\\s.\\u0000-\\u001f\\u007f-\\u009f]+)+$")]
    pub email: Patch<String>,
    #[serde(default)]
    #[schema(value_type = PreferredContactDto)]
    pub preferred_contact: Patch<PreferredContactDto>,
}

impl UpdatePatientRequest {
    fn to_domain(&self) -> Result<PatientChanges, FieldErrors> {
        let mut e = FieldErrors::default();
        let sex = self
            .sex
            .required("sex", &mut e)
            .map(|s| Sex::from(*s).as_str());
        let status = self
            .status
            .required("status", &mut e)
            .map(|s| PatientStatus::from(*s).as_str());
        let preferred = self
            .preferred_contact
            .required("preferred_contact", &mut e)
            .map(|p| PreferredContact::from(*p).as_str());
        let input = PatientChangesInput {
            mrn: self.mrn.required("mrn", &mut e).map(String::as_str),
            first_name: self
                .first_name
                .required("first_name", &mut e)
                .map(String::as_str),
            last_name: self
                .last_name
                .required("last_name", &mut e)
                .map(String::as_str),
            birth_date: self.birth_date.required("birth_date", &mut e).copied(),
            sex,
            diagnosis: self
                .diagnosis
                .required("diagnosis", &mut e)
                .map(String::as_str),
            icd10_code: self.icd10_code.clearable().map(|v| v.map(String::as_str)),
            ward: self.ward.required("ward", &mut e).map(String::as_str),
            bed: self.bed.clearable().map(|v| v.map(String::as_str)),
            status,
            phone: self.phone.clearable().map(|v| v.map(String::as_str)),
            email: self.email.clearable().map(|v| v.map(String::as_str)),
            preferred_contact: preferred,
        };
        match PatientChanges::parse(input, today()) {
            Ok(changes) if e.is_empty() => Ok(changes),
            // A refused `null` is the whole story; "nothing to change" would only confuse.
            Ok(_) => Err(e),
            Err(more) if e.is_empty() => Err(more),
            Err(more) => {
                e.extend(FieldErrors(
                    more.0.into_iter().filter(|f| f.field != "body").collect(),
                ));
                Err(e)
            }
        }
    }
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PatientListQuery {
    pub status: Option<PatientStatusDto>,
    /// Exact ward, e.g. `ONC-1`.
    #[validate(
        length(max = 32),
        custom(function = "crate::routes::extract::plain_text")
    )]
    #[param(max_length = 32)]
    pub ward: Option<String>,
    /// Case-insensitive part of the first name, last name or MRN.
    #[validate(
        length(max = 100),
        custom(function = "crate::routes::extract::plain_text")
    )]
    #[param(max_length = 100)]
    pub q: Option<String>,
    /// Page size, 1-200 (default 50).
    #[validate(range(min = 1, max = 200))]
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    /// Rows to skip (after `cursor` when both are given); the page then also reports `total`.
    #[validate(range(max = 1000000))]
    #[param(minimum = 0, maximum = 1000000)]
    pub offset: Option<u64>,
    /// The `next_cursor` of the previous page. Cursor pages never skip or repeat the rows that
    /// existed when paging started, however many patients are registered meanwhile.
    #[param(pattern = "^[0-9a-f]{32}$")]
    pub cursor: Option<String>,
}

/// One operation of a batch.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "op", rename_all = "lowercase", deny_unknown_fields)]
pub enum BatchOperationRequest {
    /// Register a patient.
    Create { patient: CreatePatientRequest },
    /// Change a patient; `version` plays the part of `If-Match`.
    Update {
        id: Uuid,
        #[schema(minimum = 1)]
        #[serde(deserialize_with = "integral")]
        version: i32,
        changes: UpdatePatientRequest,
    },
    /// Soft-delete a patient (physicians only); `version` plays the part of `If-Match`.
    Delete {
        id: Uuid,
        #[schema(minimum = 1)]
        #[serde(deserialize_with = "integral")]
        version: i32,
    },
}

/// A JSON integer: JSON does not tell `3` from `3.0`, so an integral number in either form is
/// accepted, and anything else refused.
fn integral<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    let n = f64::deserialize(d)?;
    if n.fract() == 0.0 && (f64::from(i32::MIN)..=f64::from(i32::MAX)).contains(&n) {
        #[allow(clippy::cast_possible_truncation)]
        Ok(n as i32)
    } else {
        Err(serde::de::Error::custom(
            "must be a whole number within 32 bits",
        ))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"operations": [
    {"op": "create", "patient": {"mrn": "MRN-1", "first_name": "Ada", "last_name": "Lovelace",
        "birth_date": "1960-05-01", "sex": "female", "diagnosis": "Breast cancer", "ward": "ONC-1"}},
    {"op": "update", "id": "0192f0c1-8c3a-7b7e-9a55-2f1f3f4a5b6c", "version": 3,
        "changes": {"status": "discharged"}},
    {"op": "delete", "id": "0192f0c1-8c3a-7b7e-9a55-2f1f3f4a5b6d", "version": 1}
]}))]
pub struct BatchRequest {
    #[validate(length(min = 1, max = 100))]
    #[schema(min_items = 1, max_items = 100)]
    pub operations: Vec<BatchOperationRequest>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResult {
    pub index: usize,
    /// `create`, `update` or `delete`.
    pub op: &'static str,
    /// What the operation alone would have answered: 201, 200 or 204.
    pub status: u16,
    pub id: Uuid,
    /// The patient after the operation (absent for deletes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patient: Option<PatientResponse>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResponse {
    pub results: Vec<BatchResult>,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_patient, list_patients))
        .routes(routes!(batch_patients))
        .routes(routes!(get_patient, update_patient, delete_patient))
        .routes(routes!(change_clinical_settings))
}

/// A change of the settings the clinical rules read. Absent fields stay as they are.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"spo2_scale": 2, "last_systemic_therapy_on": "2026-11-20"}))]
pub struct ClinicalSettingsRequest {
    /// NEWS2 SpO2 scale: 1, or 2 only for patients with a prescribed 88-92% target
    /// (hypercapnic respiratory failure).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 2)]
    pub spo2_scale: Option<i64>,
    /// Date of the last systemic anticancer therapy; `null` clears it.
    #[serde(default)]
    #[schema(value_type = Option<NaiveDate>)]
    pub last_systemic_therapy_on: Patch<NaiveDate>,
}

/// Changes the patient's clinical settings (physicians only; audited).
///
/// Sets charted from now on are scored with the new SpO2 scale; sets already charted keep the
/// scale they were scored on. Requires `If-Match` like any change of the patient.
#[utoipa::path(patch, path = "/patients/{id}/clinical-settings", tag = "patients",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Patient id"),
           ("If-Match" = String, Header, description = "ETag of the version read, or *")),
    request_body = ClinicalSettingsRequest,
    responses(
        (status = 200, description = "Changed", body = PatientResponse, headers(("ETag" = String))),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only physicians change clinical settings", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such patient", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid settings", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing", body = Problem, content_type = "application/problem+json"),
    ))]
async fn change_clinical_settings(
    State(state): State<AppState>,
    Authorized(permit): Authorized<ChangeClinicalSettings>,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    Json(body): Json<ClinicalSettingsRequest>,
) -> Result<Response, ApiError> {
    let change = ClinicalSettingsChange::parse(
        body.spo2_scale,
        body.last_systemic_therapy_on
            .clearable()
            .map(|d| d.copied()),
        Utc::now().date_naive(),
    )
    .map_err(ApiError::validation)?;
    let precondition = precondition(&headers)?;
    let patient = state
        .services
        .patients
        .change_clinical_settings(&permit, id, change, precondition)
        .await?;
    Ok(with_etag(StatusCode::OK, patient, None))
}

fn with_etag(
    status: StatusCode,
    patient: Patient,
    extra: Option<(header::HeaderName, String)>,
) -> Response {
    let etag = patient.etag();
    let mut response = (status, Json(PatientResponse::from(patient))).into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, v);
    }
    if let Some((name, value)) = extra
        && let Ok(v) = HeaderValue::from_str(&value)
    {
        headers.insert(name, v);
    }
    response
}

/// Reads `If-Match`: 428 when missing; `*` matches any version; otherwise a quoted version.
pub fn precondition(headers: &HeaderMap) -> Result<Precondition, ApiError> {
    let value = headers
        .get(header::IF_MATCH)
        .ok_or_else(ApiError::precondition_required)?
        .to_str()
        .map_err(|_| ApiError::bad_request("If-Match is not a valid header value"))?
        .trim();
    if value == "*" {
        return Ok(Precondition::Any);
    }
    // A weak or malformed tag can never match (If-Match compares strongly), so it is stale.
    let version = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .and_then(|v| v.parse::<i32>().ok())
        .unwrap_or(-1);
    Ok(Precondition::Version(version))
}

/// The request's `Idempotency-Key` with a fingerprint of `body` (everything that makes the
/// request what it is), or none when the client sent no key.
pub(crate) fn idempotency(
    headers: &HeaderMap,
    body: &impl Serialize,
) -> Result<Option<IdempotencyRequest>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| (0x21..=0x7e).contains(&b)))
        .ok_or_else(|| {
            ApiError::invalid_field("Idempotency-Key", "must be 1-255 visible ASCII characters")
        })?;
    let canonical = serde_json::to_vec(body).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(Some(IdempotencyRequest {
        key: key.to_owned(),
        request_hash: super::super::services::tokens::hex(&Sha256::digest(&canonical)),
    }))
}

/// Registers a patient (physicians, nurses).
///
/// With an `Idempotency-Key`, a retry with the same key and body answers the first result
/// (with `Idempotent-Replayed: true`) instead of registering twice; the same key with another
/// body is refused with 409.
#[utoipa::path(post, path = "/patients", tag = "patients", security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: 1-255 visible ASCII characters, unique per request you mean",
        min_length = 1, max_length = 255, pattern = "^[!-~]{1,255}$")),
    request_body = CreatePatientRequest,
    responses(
        (status = 201, description = "Registered", body = PatientResponse,
            headers(("Location" = String), ("ETag" = String))),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not register patients", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "MRN already registered, or Idempotency-Key already used with another body", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_patient(
    State(state): State<AppState>,
    Authorized(permit): Authorized<CreatePatient>,
    headers: HeaderMap,
    ValidJson(body): ValidJson<CreatePatientRequest>,
) -> Result<Response, ApiError> {
    let idempotency = idempotency(&headers, &body)?;
    let new = body.to_domain().map_err(ApiError::validation)?;
    let registered = state
        .services
        .patients
        .create(&permit, new, idempotency)
        .await?;
    let location = api(&format!("/patients/{}", registered.patient.id));
    let mut response = with_etag(
        StatusCode::CREATED,
        registered.patient,
        Some((header::LOCATION, location)),
    );
    if registered.replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// Lists patients (physicians, nurses, technicians), in registration order.
///
/// Page by `cursor` (stable while patients are being registered) or by `limit` + `offset`
/// (which also reports `total`).
#[utoipa::path(get, path = "/patients", tag = "patients", security(("bearer" = [])), params(PatientListQuery),
    responses(
        (status = 200, description = "A page of patients", body = ListResponse<PatientResponse>),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not read patients", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid query", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_patients(
    State(state): State<AppState>,
    Authorized(permit): Authorized<ReadPatient>,
    ValidQuery(q): ValidQuery<PatientListQuery>,
) -> Result<Json<ListResponse<PatientResponse>>, ApiError> {
    let page = page_request(KeyShape::Uuid, q.limit, q.offset, q.cursor.as_deref())?;
    let filter = PatientFilter {
        status: q.status.map(Into::into),
        ward: q
            .ward
            .map(|w| w.trim().to_owned())
            .filter(|w| !w.is_empty()),
        q: q.q.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()),
    };
    let page = state.services.patients.list(&permit, &filter, page).await?;
    let query = filter_query(&[
        ("status", filter.status.map(|s| s.as_str().to_owned())),
        ("ward", filter.ward.clone()),
        ("q", filter.q.clone()),
    ]);
    let links = page_links("/patients", &query, &page);
    Ok(Json(ListResponse::new(
        page.map(PatientResponse::from),
        links,
    )))
}

/// Reads one patient (physicians, nurses, technicians). Every read is audited.
#[utoipa::path(get, path = "/patients/{id}", tag = "patients", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Patient id")),
    responses(
        (status = 200, description = "The patient", body = PatientResponse, headers(("ETag" = String))),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not read patients", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such patient", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid id", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_patient(
    State(state): State<AppState>,
    Authorized(permit): Authorized<ReadPatient>,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let patient = state.services.patients.get(&permit, id).await?;
    Ok(with_etag(StatusCode::OK, patient, None))
}

/// Changes a patient (physicians, nurses); discharge is `{"status": "discharged"}`.
///
/// Requires `If-Match` with the `ETag` you read: 428 without it, 412 when someone changed the
/// patient in between.
#[utoipa::path(patch, path = "/patients/{id}", tag = "patients", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Patient id"),
           ("If-Match" = String, Header, description = "ETag of the version read, or *")),
    request_body = UpdatePatientRequest,
    responses(
        (status = 200, description = "Changed", body = PatientResponse, headers(("ETag" = String))),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not change patients", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such patient", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "MRN already registered", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing", body = Problem, content_type = "application/problem+json"),
    ))]
async fn update_patient(
    State(state): State<AppState>,
    Authorized(permit): Authorized<UpdatePatient>,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    ValidJson(body): ValidJson<UpdatePatientRequest>,
) -> Result<Response, ApiError> {
    let changes = body.to_domain().map_err(ApiError::validation)?;
    let precondition = precondition(&headers)?;
    let patient = state
        .services
        .patients
        .update(&permit, id, changes, precondition)
        .await?;
    Ok(with_etag(StatusCode::OK, patient, None))
}

/// Deletes a patient (physicians only). The record disappears from every read but is kept.
#[utoipa::path(delete, path = "/patients/{id}", tag = "patients", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Patient id"),
           ("If-Match" = String, Header, description = "ETag of the version read, or *")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Only physicians delete patients", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such patient", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid id", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match missing", body = Problem, content_type = "application/problem+json"),
    ))]
async fn delete_patient(
    State(state): State<AppState>,
    Authorized(permit): Authorized<DeletePatient>,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let precondition = precondition(&headers)?;
    state
        .services
        .patients
        .delete(&permit, id, precondition)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Registers, changes and deletes many patients at once (physicians, nurses; deletes need a
/// physician). All or nothing: when any operation fails, nothing is changed and every failing
/// operation is listed with its reason. The refusal's status is the one its failures share
/// (404, 409 or 412), or 422 when they differ.
#[utoipa::path(post, path = "/patients/batch", tag = "patients", security(("bearer" = [])),
    request_body = BatchRequest,
    responses(
        (status = 200, description = "Every operation applied", body = BatchResponse),
        (status = 401, description = "No valid access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not perform an operation of the batch", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Refused: every failing operation names an unknown patient (see `failures`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Refused: every failing operation conflicts, e.g. a taken MRN (see `failures`)", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Refused: every failing operation had a stale version (see `failures`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused: invalid operations, or failures of different kinds (see `failures`)", body = Problem, content_type = "application/problem+json"),
    ))]
async fn batch_patients(
    State(state): State<AppState>,
    Authorized(permit): Authorized<UpdatePatient>,
    ValidJson(body): ValidJson<BatchRequest>,
) -> Result<Json<BatchResponse>, ApiError> {
    debug_assert!(body.operations.len() <= MAX_BATCH_OPERATIONS);
    let mut errors = FieldErrors::default();
    let mut operations = Vec::with_capacity(body.operations.len());
    for (i, op) in body.operations.iter().enumerate() {
        let parsed = match op {
            BatchOperationRequest::Create { patient } => validate_nested(patient)
                .and_then(|()| patient.to_domain())
                .map(BatchOperation::Create)
                .map_err(|e| e.prefixed(&format!("operations[{i}].patient."))),
            BatchOperationRequest::Update {
                id,
                version,
                changes,
            } => validate_nested(changes)
                .and_then(|()| changes.to_domain())
                .map(|changes| BatchOperation::Update {
                    id: *id,
                    precondition: Precondition::Version(*version),
                    changes,
                })
                .map_err(|e| e.prefixed(&format!("operations[{i}].changes."))),
            BatchOperationRequest::Delete { id, version } => Ok(BatchOperation::Delete {
                id: *id,
                precondition: Precondition::Version(*version),
            }),
        };
        match parsed {
            Ok(op) => operations.push(op),
            Err(e) => errors.extend(e),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let outcomes = state.services.patients.batch(&permit, operations).await?;
    let results = outcomes
        .into_iter()
        .enumerate()
        .map(|(index, outcome)| match outcome {
            BatchOutcome::Created(p) => BatchResult {
                index,
                op: "create",
                status: 201,
                id: p.id,
                patient: Some(p.into()),
            },
            BatchOutcome::Updated(p) => BatchResult {
                index,
                op: "update",
                status: 200,
                id: p.id,
                patient: Some(p.into()),
            },
            BatchOutcome::Deleted(id) => BatchResult {
                index,
                op: "delete",
                status: 204,
                id,
                patient: None,
            },
        })
        .collect();
    Ok(Json(BatchResponse { results }))
}

/// Runs a nested item's validator rules, as field errors.
fn validate_nested<T: Validate>(item: &T) -> Result<(), FieldErrors> {
    item.validate().map_err(|errors| {
        let mut out = FieldErrors::default();
        for (field, kind) in errors.errors() {
            if let validator::ValidationErrorsKind::Field(list) = kind {
                for _ in list {
                    out.push(field.to_string(), "is too long");
                }
            }
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_fields_tell_absent_from_null() {
        let body: UpdatePatientRequest =
            serde_json::from_str(r#"{"bed": null, "ward": "ONC-2"}"#).unwrap();
        assert_eq!(body.bed, Patch::Null);
        assert_eq!(body.ward, Patch::Value("ONC-2".to_owned()));
        assert_eq!(body.mrn, Patch::Absent);
        let changes = body.to_domain().unwrap();
        assert_eq!(changes.bed, Some(None));
        assert!(changes.mrn.is_none());
    }

    #[test]
    fn null_for_a_required_field_is_refused() {
        let body: UpdatePatientRequest = serde_json::from_str(r#"{"mrn": null}"#).unwrap();
        let err = body.to_domain().unwrap_err();
        assert_eq!(err.0[0].field, "mrn");
    }

    #[test]
    fn if_match_parsing() {
        let mut h = HeaderMap::new();
        assert!(precondition(&h).is_err());
        h.insert(header::IF_MATCH, HeaderValue::from_static("\"3\""));
        assert_eq!(precondition(&h).unwrap(), Precondition::Version(3));
        h.insert(header::IF_MATCH, HeaderValue::from_static("*"));
        assert_eq!(precondition(&h).unwrap(), Precondition::Any);
        h.insert(header::IF_MATCH, HeaderValue::from_static("W/\"3\""));
        assert_eq!(precondition(&h).unwrap(), Precondition::Version(-1));
    }
}
