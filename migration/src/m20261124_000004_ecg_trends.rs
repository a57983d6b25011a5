//! Holter trend points: one row per trend value of an uploaded trend file, keyed by patient,
//! trend and instant, so uploading the same file again stores nothing new.

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
enum EcgTrendPoint {
    Table,
    PatientId,
    TrendType,
    At,
    Units,
    Label,
    DateTimeHl7,
    MinValue,
    AvgValue,
    MaxValue,
    Valid,
    UploadedBy,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(EcgTrendPoint::Table)
                    .col(uuid(EcgTrendPoint::PatientId))
                    .col(string_len(EcgTrendPoint::TrendType, 64))
                    .col(timestamp_with_time_zone(EcgTrendPoint::At))
                    .col(string_len(EcgTrendPoint::Units, 32))
                    .col(string_len(EcgTrendPoint::Label, 64))
                    .col(string_len(EcgTrendPoint::DateTimeHl7, 14))
                    .col(integer_null(EcgTrendPoint::MinValue))
                    .col(integer_null(EcgTrendPoint::AvgValue))
                    .col(integer_null(EcgTrendPoint::MaxValue))
                    .col(boolean(EcgTrendPoint::Valid))
                    .col(uuid(EcgTrendPoint::UploadedBy))
                    .col(timestamp_with_time_zone(EcgTrendPoint::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(EcgTrendPoint::PatientId)
                            .col(EcgTrendPoint::TrendType)
                            .col(EcgTrendPoint::At),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_ecg_trend_point_patient")
                            .from(EcgTrendPoint::Table, EcgTrendPoint::PatientId)
                            .to(Patient::Table, Patient::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // Reads by patient and time across trends (the stream's replay).
        manager
            .create_index(
                Index::create()
                    .name("idx_ecg_trend_point_patient_at")
                    .table(EcgTrendPoint::Table)
                    .col(EcgTrendPoint::PatientId)
                    .col(EcgTrendPoint::At)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(EcgTrendPoint::Table).to_owned())
            .await
    }
}
