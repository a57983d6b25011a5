//! Exams: the catalog of exam types (with the default catalog), ordered exams and their
//! lifecycle with its result, and the notification outbox that tells patients a result is ready.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Patient {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum AppUser {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ExamType {
    Table,
    Code,
    Name,
    Modality,
    Active,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Exam {
    Table,
    Id,
    PatientId,
    #[sea_orm(iden = "exam_type")]
    TypeCode,
    Status,
    OrderedBy,
    OrderedAt,
    StartedBy,
    StartedAt,
    TokenId,
    FinishedBy,
    FinishedAt,
    RevokedBy,
    RevokedAt,
    RevokeReason,
    ResultStatus,
    ResultSummary,
    ResultValues,
    ResultDigest,
    Version,
}

#[derive(DeriveIden)]
enum Notification {
    Table,
    Id,
    PatientId,
    ExamId,
    Kind,
    Channel,
    Recipient,
    Status,
    Attempts,
    NextAttemptAt,
    ClaimedBy,
    ClaimedUntil,
    LastError,
    CreatedAt,
    UpdatedAt,
    SentAt,
}

/// The default catalog: (code, name, modality). The complete blood count reports the absolute
/// neutrophil count that the febrile neutropenia rule reads.
const DEFAULT_CATALOG: [(i32, &str, &str); 8] = [
    (
        1001,
        "Complete blood count with differential (ANC)",
        "laboratory",
    ),
    (1002, "Comprehensive metabolic panel", "laboratory"),
    (2001, "CT chest, abdomen and pelvis", "ct"),
    (2002, "MRI brain with contrast", "mri"),
    (2003, "PET-CT whole body (FDG)", "pet_ct"),
    (3001, "Core needle biopsy", "pathology"),
    (4001, "Transthoracic echocardiogram", "ultrasound"),
    (5001, "Chest X-ray", "radiography"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ExamType::Table)
                    .col(integer(ExamType::Code).primary_key())
                    .col(string_len(ExamType::Name, 120))
                    .col(string_len(ExamType::Modality, 24))
                    .col(boolean(ExamType::Active))
                    .col(integer(ExamType::Version))
                    .col(timestamp_with_time_zone(ExamType::CreatedAt))
                    .col(timestamp_with_time_zone(ExamType::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        let mut insert = Query::insert()
            .into_table(ExamType::Table)
            .columns([
                ExamType::Code,
                ExamType::Name,
                ExamType::Modality,
                ExamType::Active,
                ExamType::Version,
                ExamType::CreatedAt,
                ExamType::UpdatedAt,
            ])
            .to_owned();
        // A literal both engines read as this instant (the form sqlx writes on SQLite).
        let installed = || Expr::cust("'2026-11-24 00:00:00+00:00'");
        for (code, name, modality) in DEFAULT_CATALOG {
            insert.values_panic([
                code.into(),
                name.into(),
                modality.into(),
                true.into(),
                1.into(),
                installed(),
                installed(),
            ]);
        }
        manager.exec_stmt(insert).await?;

        manager
            .create_table(
                Table::create()
                    .table(Exam::Table)
                    .col(uuid(Exam::Id).primary_key())
                    .col(uuid(Exam::PatientId))
                    .col(integer(Exam::TypeCode))
                    .col(string_len(Exam::Status, 16))
                    .col(uuid(Exam::OrderedBy))
                    .col(timestamp_with_time_zone(Exam::OrderedAt))
                    .col(uuid_null(Exam::StartedBy))
                    .col(timestamp_with_time_zone_null(Exam::StartedAt))
                    // The `jti` of the exam token issued at start: only that token finishes it.
                    .col(uuid_null(Exam::TokenId))
                    // Null when the result came through the results inbox, not a person.
                    .col(uuid_null(Exam::FinishedBy))
                    .col(timestamp_with_time_zone_null(Exam::FinishedAt))
                    .col(uuid_null(Exam::RevokedBy))
                    .col(timestamp_with_time_zone_null(Exam::RevokedAt))
                    .col(string_len_null(Exam::RevokeReason, 500))
                    .col(string_len_null(Exam::ResultStatus, 16))
                    .col(text_null(Exam::ResultSummary))
                    .col(text_null(Exam::ResultValues))
                    // SHA-256 of the applied result token, so a replay is recognised.
                    .col(string_len_null(Exam::ResultDigest, 64))
                    .col(integer(Exam::Version))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_exam_patient")
                            .from(Exam::Table, Exam::PatientId)
                            .to(Patient::Table, Patient::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_exam_type")
                            .from(Exam::Table, Exam::TypeCode)
                            .to(ExamType::Table, ExamType::Code),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_exam_ordered_by")
                            .from(Exam::Table, Exam::OrderedBy)
                            .to(AppUser::Table, AppUser::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // Lists read newest order first; the id breaks ties so cursors are stable.
        manager
            .create_index(
                Index::create()
                    .name("idx_exam_ordered")
                    .table(Exam::Table)
                    .col(Exam::OrderedAt)
                    .col(Exam::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_exam_patient_ordered")
                    .table(Exam::Table)
                    .col(Exam::PatientId)
                    .col(Exam::OrderedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_exam_status_ordered")
                    .table(Exam::Table)
                    .col(Exam::Status)
                    .col(Exam::OrderedAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Notification::Table)
                    .col(uuid(Notification::Id).primary_key())
                    .col(uuid(Notification::PatientId))
                    .col(uuid_null(Notification::ExamId))
                    .col(string_len(Notification::Kind, 32))
                    .col(string_len(Notification::Channel, 16))
                    .col(string_len_null(Notification::Recipient, 320))
                    .col(string_len(Notification::Status, 32))
                    .col(integer(Notification::Attempts))
                    .col(timestamp_with_time_zone(Notification::NextAttemptAt))
                    // A delivery worker's lease: the row is its own until `claimed_until`.
                    .col(uuid_null(Notification::ClaimedBy))
                    .col(timestamp_with_time_zone_null(Notification::ClaimedUntil))
                    .col(string_len_null(Notification::LastError, 500))
                    .col(timestamp_with_time_zone(Notification::CreatedAt))
                    .col(timestamp_with_time_zone(Notification::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Notification::SentAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_notification_patient")
                            .from(Notification::Table, Notification::PatientId)
                            .to(Patient::Table, Patient::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_notification_exam")
                            .from(Notification::Table, Notification::ExamId)
                            .to(Exam::Table, Exam::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_notification_due")
                    .table(Notification::Table)
                    .col(Notification::Status)
                    .col(Notification::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_notification_created")
                    .table(Notification::Table)
                    .col(Notification::CreatedAt)
                    .col(Notification::Id)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Notification::Table.into_iden(),
            Exam::Table.into_iden(),
            ExamType::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
