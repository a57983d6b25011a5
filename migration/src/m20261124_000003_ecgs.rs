//! ECG recordings: `ecg` holds a recording's metadata and the insights computed when it was
//! stored; `ecg_lead` holds each lead's samples as one compact binary value (the application's
//! signal codec), never a row per sample.

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
enum Ecg {
    Table,
    Id,
    PatientId,
    RecordedAt,
    RecordedBy,
    SamplingRateHz,
    LeadCount,
    SamplesPerLead,
    TotalSamples,
    Insights,
    CreatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum EcgLead {
    Table,
    EcgId,
    Position,
    Name,
    NumberOfSamples,
    Signal,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Ecg::Table)
                    .col(uuid(Ecg::Id).primary_key())
                    .col(uuid(Ecg::PatientId))
                    .col(timestamp_with_time_zone(Ecg::RecordedAt))
                    .col(uuid(Ecg::RecordedBy))
                    .col(integer(Ecg::SamplingRateHz))
                    .col(small_integer(Ecg::LeadCount))
                    .col(integer(Ecg::SamplesPerLead))
                    .col(integer(Ecg::TotalSamples))
                    .col(text(Ecg::Insights))
                    .col(timestamp_with_time_zone(Ecg::CreatedAt))
                    .col(timestamp_with_time_zone_null(Ecg::DeletedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_ecg_patient")
                            .from(Ecg::Table, Ecg::PatientId)
                            .to(Patient::Table, Patient::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_ecg_recorded_by")
                            .from(Ecg::Table, Ecg::RecordedBy)
                            .to(AppUser::Table, AppUser::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // A patient's recordings are listed newest first; the id breaks ties for stable cursors.
        manager
            .create_index(
                Index::create()
                    .name("idx_ecg_patient_recorded")
                    .table(Ecg::Table)
                    .col(Ecg::PatientId)
                    .col(Ecg::RecordedAt)
                    .col(Ecg::Id)
                    .to_owned(),
            )
            .await?;

        // `blob` is BLOB on SQLite and BYTEA on PostgreSQL.
        manager
            .create_table(
                Table::create()
                    .table(EcgLead::Table)
                    .col(uuid(EcgLead::EcgId))
                    .col(small_integer(EcgLead::Position))
                    .col(string_len(EcgLead::Name, 64))
                    .col(integer(EcgLead::NumberOfSamples))
                    .col(blob(EcgLead::Signal))
                    .primary_key(
                        Index::create()
                            .name("pk_ecg_lead")
                            .col(EcgLead::EcgId)
                            .col(EcgLead::Position),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_ecg_lead_ecg")
                            .from(EcgLead::Table, EcgLead::EcgId)
                            .to(Ecg::Table, Ecg::Id),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [EcgLead::Table.into_iden(), Ecg::Table.into_iden()] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
