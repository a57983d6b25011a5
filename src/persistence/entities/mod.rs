//! SeaORM entities: the rows as the database stores them. Only the persistence layer sees these.

pub mod alert;
pub mod app_user;
pub mod audit_event;
pub mod ecg;
pub mod ecg_lead;
pub mod ecg_trend_point;
pub mod exam;
pub mod exam_type;
pub mod idempotency_key;
pub mod lab_result;
pub mod login_throttle;
pub mod notification;
pub mod observation_summary;
pub mod patient;
pub mod refresh_token;
pub mod result_file;
pub mod stream_event;
pub mod vital_signs;
