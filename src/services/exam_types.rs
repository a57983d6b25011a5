//! Exam catalog use cases: everyone reads it; administrators add, rename and deactivate types.

use chrono::Utc;

use super::ServiceError;
use super::access::{ManageExamTypes, Permit, ReadExamTypes};
use super::vital_signs::append_events;
use crate::domain::audit::{AuditAction, AuditOutcome, ResourceType};
use crate::domain::exam::{ExamType, ExamTypeChanges, ExamTypeCode, NewExamType};
use crate::domain::observation::stored_precision;
use crate::persistence::exam_types::ExamTypeRepository;
use crate::persistence::{Database, StoreError};

#[derive(Clone)]
pub struct ExamTypeService {
    db: Database,
}

impl ExamTypeService {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    pub async fn list(
        &self,
        _permit: &Permit<ReadExamTypes>,
        active_only: bool,
    ) -> Result<Vec<ExamType>, ServiceError> {
        Ok(ExamTypeRepository::list(self.db.reader(), active_only).await?)
    }

    pub async fn get(
        &self,
        _permit: &Permit<ReadExamTypes>,
        code: ExamTypeCode,
    ) -> Result<ExamType, ServiceError> {
        ExamTypeRepository::find(self.db.reader(), code)
            .await?
            .ok_or(ServiceError::NotFound("exam type"))
    }

    pub async fn create(
        &self,
        permit: &Permit<ManageExamTypes>,
        new: NewExamType,
    ) -> Result<ExamType, ServiceError> {
        let now = stored_precision(Utc::now());
        let exam_type = ExamType {
            code: new.code,
            name: new.name,
            modality: new.modality,
            active: true,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let txn = self.db.begin().await?;
        match ExamTypeRepository::insert(&txn, &exam_type).await {
            Err(StoreError::Duplicate(_)) => {
                return Err(ServiceError::Conflict(format!(
                    "exam type {} already exists",
                    exam_type.code
                )));
            }
            other => other?,
        }
        append_events(
            &txn,
            &[permit.actor().event(
                AuditAction::Create,
                ResourceType::ExamType,
                Some(exam_type.code.to_string()),
                AuditOutcome::Success,
            )],
        )
        .await?;
        txn.commit().await?;
        Ok(exam_type)
    }

    /// Renames and/or (de)activates a type. Orders already placed keep their type; a
    /// deactivated type can no longer be ordered.
    pub async fn change(
        &self,
        permit: &Permit<ManageExamTypes>,
        code: ExamTypeCode,
        changes: ExamTypeChanges,
    ) -> Result<ExamType, ServiceError> {
        let txn = self.db.begin().await?;
        let current = ExamTypeRepository::find(&txn, code)
            .await?
            .ok_or(ServiceError::NotFound("exam type"))?;
        let version = current.version;
        let mut changed = current.with_changes(changes, stored_precision(Utc::now()));
        ExamTypeRepository::update(&txn, &changed, version).await?;
        changed.version = version + 1;
        append_events(
            &txn,
            &[permit.actor().event(
                AuditAction::Update,
                ResourceType::ExamType,
                Some(code.to_string()),
                AuditOutcome::Success,
            )],
        )
        .await?;
        txn.commit().await?;
        Ok(changed)
    }
}
