//! The results inbox: one row per file seen under `completed/` in the result store, which is
//! also the claim that makes a file handled exactly once across replicas; and the exam's
//! reference to its report file in that store.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Exam {
    Table,
    ReportKey,
}

#[derive(DeriveIden)]
enum ResultFile {
    Table,
    Id,
    Path,
    Fingerprint,
    Size,
    Outcome,
    Reason,
    ExamId,
    PatientId,
    ReportKey,
    Destination,
    Claims,
    ClaimedBy,
    ClaimedUntil,
    LastError,
    ReceivedAt,
    DecidedAt,
    MovedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Exam::Table)
                    // Where the report file lies in the result store, when one came with it.
                    .add_column(string_len_null(Exam::ReportKey, 1024))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ResultFile::Table)
                    .col(uuid(ResultFile::Id).primary_key())
                    // The file's path in the store, e.g. `completed/cbc-0042.json`.
                    .col(string_len(ResultFile::Path, 1024))
                    // The store's e-tag (or size and modification time): a new file dropped
                    // later under the same name is another file, with a row of its own.
                    .col(string_len(ResultFile::Fingerprint, 256))
                    .col(big_integer(ResultFile::Size))
                    // Null while the file is being handled: processed, stuck, denied, deleted.
                    .col(string_len_null(ResultFile::Outcome, 16))
                    .col(string_len_null(ResultFile::Reason, 1000))
                    // No foreign keys: a denied file may name an exam that does not exist.
                    .col(uuid_null(ResultFile::ExamId))
                    .col(uuid_null(ResultFile::PatientId))
                    .col(string_len_null(ResultFile::ReportKey, 1024))
                    // Where the file is moved once its outcome is decided.
                    .col(string_len_null(ResultFile::Destination, 1024))
                    // How many times a worker claimed it (more than one after a crash or a
                    // failure on our side).
                    .col(integer(ResultFile::Claims))
                    // A worker's lease, as for notifications: the row is its own until then.
                    .col(uuid_null(ResultFile::ClaimedBy))
                    .col(timestamp_with_time_zone_null(ResultFile::ClaimedUntil))
                    .col(string_len_null(ResultFile::LastError, 1000))
                    .col(timestamp_with_time_zone(ResultFile::ReceivedAt))
                    .col(timestamp_with_time_zone_null(ResultFile::DecidedAt))
                    // Set once the file left `completed/`: the row is then done for good.
                    .col(timestamp_with_time_zone_null(ResultFile::MovedAt))
                    .col(timestamp_with_time_zone(ResultFile::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // The claim: inserting a file's row a second time fails, so one worker wins it.
        manager
            .create_index(
                Index::create()
                    .name("ux_result_file_path_fingerprint")
                    .table(ResultFile::Table)
                    .col(ResultFile::Path)
                    .col(ResultFile::Fingerprint)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // The inbox list reads newest first; the id breaks ties so cursors are stable.
        manager
            .create_index(
                Index::create()
                    .name("idx_result_file_received")
                    .table(ResultFile::Table)
                    .col(ResultFile::ReceivedAt)
                    .col(ResultFile::Id)
                    .to_owned(),
            )
            .await?;
        // Workers look for files left half-way (not moved) whose lease ran out.
        manager
            .create_index(
                Index::create()
                    .name("idx_result_file_unmoved")
                    .table(ResultFile::Table)
                    .col(ResultFile::MovedAt)
                    .col(ResultFile::ClaimedUntil)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ResultFile::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Exam::Table)
                    .drop_column(Exam::ReportKey)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
