//! Service layer: the registry's use cases. Each checks permission through a `Permit`, runs its
//! writes in one transaction together with their audit events, and speaks domain types.

pub mod access;
pub mod alerts;
pub mod audit;
pub mod auth;
pub mod ecg_trends;
pub mod ecgs;
pub mod error;
pub mod exam_tokens;
pub mod exam_types;
pub mod exams;
pub mod idempotency;
pub mod lab_results;
pub mod notifications;
pub mod passwords;
pub mod patients;
pub mod results_inbox;
pub mod streams;
pub mod tokens;
pub mod users;
pub mod vital_signs;
pub mod vital_signs_commit;
pub mod vital_signs_import;
pub mod wards;

pub use access::{Actor, Permit, RequestContext};
pub use error::ServiceError;

/// What a change expects of the stored version (`If-Match`): any, or exactly this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    Any,
    Version(i32),
}

/// The services the application runs with, shared by every request.
#[derive(Clone)]
pub struct Services {
    pub access: access::AccessControl,
    pub audit: audit::AuditLog,
    pub auth: auth::AuthService,
    pub users: users::UserService,
    pub patients: patients::PatientService,
    pub tokens: tokens::TokenIssuer,
    pub vital_signs: vital_signs::VitalSignsService,
    pub lab_results: lab_results::LabResultService,
    pub alerts: alerts::AlertService,
    pub wards: wards::WardService,
    pub ecg_trends: ecg_trends::EcgTrendService,
    pub ecgs: ecgs::EcgService,
    pub streams: streams::StreamService,
    pub exam_types: exam_types::ExamTypeService,
    pub exams: exams::ExamService,
    pub notifications: notifications::NotificationService,
    pub results_inbox: results_inbox::ResultsInbox,
}
