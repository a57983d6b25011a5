//! Vital signs: observation sets with their NEWS2 result and flags, laboratory results (neutrophil
//! counts), persisted alerts, the per-patient observation summary behind the ward overview, and
//! the two patient settings the rules need (SpO2 scale, last systemic anticancer therapy).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Patient {
    Table,
    Id,
    Spo2Scale,
    LastSystemicTherapyOn,
}

#[derive(DeriveIden)]
enum AppUser {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum VitalSigns {
    Table,
    Id,
    PatientId,
    RecordedAt,
    RecordedBy,
    HeartRate,
    SystolicBp,
    DiastolicBp,
    RespiratoryRate,
    TemperatureC,
    Spo2,
    OnOxygen,
    Consciousness,
    PainScore,
    WeightKg,
    Note,
    Spo2Scale,
    News2Score,
    News2Risk,
    News2Complete,
    Flagged,
    Flags,
    Status,
    ErrorReason,
    ErrorMarkedBy,
    ErrorMarkedAt,
    Replaces,
    CreatedAt,
}

#[derive(DeriveIden)]
enum LabResult {
    Table,
    Id,
    PatientId,
    Code,
    Value,
    MeasuredAt,
    RecordedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Alert {
    Table,
    Id,
    PatientId,
    Kind,
    Severity,
    Status,
    Detail,
    VitalSignsId,
    RaisedAt,
    AcknowledgedAt,
    AcknowledgedBy,
    ResolvedAt,
    ResolvedBy,
    Version,
}

#[derive(DeriveIden)]
enum ObservationSummary {
    Table,
    PatientId,
    VitalSignsId,
    RecordedAt,
    News2Score,
    News2Risk,
    News2Complete,
    AnySingleRed,
    NextDueAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        manager
            .alter_table(
                Table::alter()
                    .table(Patient::Table)
                    .add_column(small_integer(Patient::Spo2Scale).default(1))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Patient::Table)
                    .add_column(date_null(Patient::LastSystemicTherapyOn))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(VitalSigns::Table)
                    .col(uuid(VitalSigns::Id).primary_key())
                    .col(uuid(VitalSigns::PatientId))
                    .col(timestamp_with_time_zone(VitalSigns::RecordedAt))
                    .col(uuid(VitalSigns::RecordedBy))
                    .col(double_null(VitalSigns::HeartRate))
                    .col(double_null(VitalSigns::SystolicBp))
                    .col(double_null(VitalSigns::DiastolicBp))
                    .col(double_null(VitalSigns::RespiratoryRate))
                    .col(double_null(VitalSigns::TemperatureC))
                    .col(double_null(VitalSigns::Spo2))
                    .col(boolean_null(VitalSigns::OnOxygen))
                    .col(string_len_null(VitalSigns::Consciousness, 16))
                    .col(small_integer_null(VitalSigns::PainScore))
                    .col(double_null(VitalSigns::WeightKg))
                    .col(text_null(VitalSigns::Note))
                    .col(small_integer(VitalSigns::Spo2Scale))
                    .col(small_integer(VitalSigns::News2Score))
                    .col(string_len(VitalSigns::News2Risk, 16))
                    .col(boolean(VitalSigns::News2Complete))
                    .col(boolean(VitalSigns::Flagged))
                    .col(text(VitalSigns::Flags))
                    .col(string_len(VitalSigns::Status, 24))
                    .col(string_len_null(VitalSigns::ErrorReason, 500))
                    .col(uuid_null(VitalSigns::ErrorMarkedBy))
                    .col(timestamp_with_time_zone_null(VitalSigns::ErrorMarkedAt))
                    .col(uuid_null(VitalSigns::Replaces))
                    .col(timestamp_with_time_zone(VitalSigns::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_vital_signs_patient")
                            .from(VitalSigns::Table, VitalSigns::PatientId)
                            .to(Patient::Table, Patient::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_vital_signs_recorded_by")
                            .from(VitalSigns::Table, VitalSigns::RecordedBy)
                            .to(AppUser::Table, AppUser::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // A chart reads its newest records first; the id breaks ties so cursors are stable.
        manager
            .create_index(
                Index::create()
                    .name("idx_vital_signs_patient_recorded")
                    .table(VitalSigns::Table)
                    .col(VitalSigns::PatientId)
                    .col(VitalSigns::RecordedAt)
                    .col(VitalSigns::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(LabResult::Table)
                    .col(uuid(LabResult::Id).primary_key())
                    .col(uuid(LabResult::PatientId))
                    .col(string_len(LabResult::Code, 16))
                    .col(double(LabResult::Value))
                    .col(timestamp_with_time_zone(LabResult::MeasuredAt))
                    .col(uuid(LabResult::RecordedBy))
                    .col(timestamp_with_time_zone(LabResult::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_lab_result_patient")
                            .from(LabResult::Table, LabResult::PatientId)
                            .to(Patient::Table, Patient::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_lab_result_patient_code_measured")
                    .table(LabResult::Table)
                    .col(LabResult::PatientId)
                    .col(LabResult::Code)
                    .col(LabResult::MeasuredAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Alert::Table)
                    .col(uuid(Alert::Id).primary_key())
                    .col(uuid(Alert::PatientId))
                    .col(string_len(Alert::Kind, 32))
                    .col(string_len(Alert::Severity, 16))
                    .col(string_len(Alert::Status, 16))
                    .col(string_len(Alert::Detail, 500))
                    .col(uuid_null(Alert::VitalSignsId))
                    .col(timestamp_with_time_zone(Alert::RaisedAt))
                    .col(timestamp_with_time_zone_null(Alert::AcknowledgedAt))
                    .col(uuid_null(Alert::AcknowledgedBy))
                    .col(timestamp_with_time_zone_null(Alert::ResolvedAt))
                    .col(uuid_null(Alert::ResolvedBy))
                    .col(integer(Alert::Version))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_alert_patient")
                            .from(Alert::Table, Alert::PatientId)
                            .to(Patient::Table, Patient::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_alert_status_raised")
                    .table(Alert::Table)
                    .col(Alert::Status)
                    .col(Alert::RaisedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_alert_patient")
                    .table(Alert::Table)
                    .col(Alert::PatientId)
                    .col(Alert::Status)
                    .to_owned(),
            )
            .await?;
        // At most one unresolved alert of a kind per patient, enforced by the database so that
        // two requests (or two replicas) recording at once cannot both open one.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX uq_alert_one_unresolved_per_kind ON alert (patient_id, kind) \
                 WHERE status <> 'resolved'",
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ObservationSummary::Table)
                    .col(uuid(ObservationSummary::PatientId).primary_key())
                    .col(uuid(ObservationSummary::VitalSignsId))
                    .col(timestamp_with_time_zone(ObservationSummary::RecordedAt))
                    .col(small_integer(ObservationSummary::News2Score))
                    .col(string_len(ObservationSummary::News2Risk, 16))
                    .col(boolean(ObservationSummary::News2Complete))
                    .col(boolean(ObservationSummary::AnySingleRed))
                    .col(timestamp_with_time_zone(ObservationSummary::NextDueAt))
                    .col(timestamp_with_time_zone(ObservationSummary::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_observation_summary_patient")
                            .from(ObservationSummary::Table, ObservationSummary::PatientId)
                            .to(Patient::Table, Patient::Id),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ObservationSummary::Table.into_iden(),
            Alert::Table.into_iden(),
            LabResult::Table.into_iden(),
            VitalSigns::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        for column in [
            Patient::LastSystemicTherapyOn.into_iden(),
            Patient::Spo2Scale.into_iden(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Patient::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
