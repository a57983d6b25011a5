//! The foundation schema: staff accounts, refresh tokens, login throttles, patients, idempotency
//! records and the append-only audit log.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AppUser {
    Table,
    Id,
    Username,
    FullName,
    Role,
    PasswordHash,
    Active,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum RefreshToken {
    Table,
    Id,
    UserId,
    FamilyId,
    TokenHash,
    IssuedAt,
    ExpiresAt,
    UsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum LoginThrottle {
    Table,
    ThrottleKey,
    Failures,
    WindowStartedAt,
    LockedUntil,
}

#[derive(DeriveIden)]
enum Patient {
    Table,
    Id,
    Mrn,
    FirstName,
    LastName,
    BirthDate,
    Sex,
    Diagnosis,
    Icd10Code,
    Ward,
    Bed,
    Status,
    Phone,
    Email,
    PreferredContact,
    SearchText,
    Version,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum IdempotencyKey {
    Table,
    UserId,
    Scope,
    Key,
    RequestHash,
    ResourceId,
    Snapshot,
    StatusCode,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AuditEvent {
    Table,
    Id,
    OccurredAt,
    ActorId,
    ActorUsername,
    ActorRole,
    Action,
    ResourceType,
    ResourceId,
    RequestId,
    ClientAddr,
    Outcome,
    Reason,
}

/// Refuses UPDATE and DELETE on the audit log in the database itself, so no code path (nor a
/// hand-written SQL session) can rewrite history.
const SQLITE_AUDIT_GUARDS: &[&str] = &[
    "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event \
     BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END",
    "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event \
     BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END",
];
const POSTGRES_AUDIT_GUARDS: &[&str] = &[
    "CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ \
     BEGIN RAISE EXCEPTION 'audit_event is append-only'; END $$",
    "CREATE TRIGGER audit_event_no_update_delete BEFORE UPDATE OR DELETE ON audit_event \
     FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()",
    "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event \
     FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AppUser::Table)
                    .col(pk_uuid(AppUser::Id))
                    .col(string_len_uniq(AppUser::Username, 64))
                    .col(string_len(AppUser::FullName, 128))
                    .col(string_len(AppUser::Role, 16))
                    .col(string_len(AppUser::PasswordHash, 255))
                    .col(boolean(AppUser::Active))
                    .col(integer(AppUser::Version))
                    .col(timestamp_with_time_zone(AppUser::CreatedAt))
                    .col(timestamp_with_time_zone(AppUser::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RefreshToken::Table)
                    .col(pk_uuid(RefreshToken::Id))
                    .col(uuid(RefreshToken::UserId))
                    .col(uuid(RefreshToken::FamilyId))
                    .col(string_len_uniq(RefreshToken::TokenHash, 64))
                    .col(timestamp_with_time_zone(RefreshToken::IssuedAt))
                    .col(timestamp_with_time_zone(RefreshToken::ExpiresAt))
                    .col(timestamp_with_time_zone_null(RefreshToken::UsedAt))
                    .col(timestamp_with_time_zone_null(RefreshToken::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_refresh_token_user")
                            .from(RefreshToken::Table, RefreshToken::UserId)
                            .to(AppUser::Table, AppUser::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_refresh_token_family")
                    .table(RefreshToken::Table)
                    .col(RefreshToken::FamilyId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_refresh_token_user")
                    .table(RefreshToken::Table)
                    .col(RefreshToken::UserId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(LoginThrottle::Table)
                    .col(string_len(LoginThrottle::ThrottleKey, 200).primary_key())
                    .col(integer(LoginThrottle::Failures))
                    .col(timestamp_with_time_zone(LoginThrottle::WindowStartedAt))
                    .col(timestamp_with_time_zone_null(LoginThrottle::LockedUntil))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Patient::Table)
                    .col(pk_uuid(Patient::Id))
                    .col(string_len_uniq(Patient::Mrn, 32))
                    .col(string_len(Patient::FirstName, 100))
                    .col(string_len(Patient::LastName, 100))
                    .col(date(Patient::BirthDate))
                    .col(string_len(Patient::Sex, 16))
                    .col(string_len(Patient::Diagnosis, 500))
                    .col(string_len_null(Patient::Icd10Code, 8))
                    .col(string_len(Patient::Ward, 32))
                    .col(string_len_null(Patient::Bed, 16))
                    .col(string_len(Patient::Status, 16))
                    .col(string_len_null(Patient::Phone, 16))
                    .col(string_len_null(Patient::Email, 254))
                    .col(string_len(Patient::PreferredContact, 8))
                    // Names and MRN lower-cased by the application with full Unicode rules
                    // (SQLite's lower() folds ASCII only), for case-insensitive search.
                    .col(text(Patient::SearchText))
                    .col(integer(Patient::Version))
                    .col(timestamp_with_time_zone(Patient::CreatedAt))
                    .col(timestamp_with_time_zone(Patient::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Patient::DeletedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_patient_ward_status")
                    .table(Patient::Table)
                    .col(Patient::Ward)
                    .col(Patient::Status)
                    // Ends with the list order, so a ward's page is read in order and the
                    // query stops after one page instead of sorting the whole ward.
                    .col(Patient::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKey::Table)
                    .col(uuid(IdempotencyKey::UserId))
                    .col(string_len(IdempotencyKey::Scope, 64))
                    .col(string_len(IdempotencyKey::Key, 255))
                    .col(string_len(IdempotencyKey::RequestHash, 64))
                    .col(uuid_null(IdempotencyKey::ResourceId))
                    .col(text_null(IdempotencyKey::Snapshot))
                    .col(integer(IdempotencyKey::StatusCode))
                    .col(timestamp_with_time_zone(IdempotencyKey::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(IdempotencyKey::UserId)
                            .col(IdempotencyKey::Scope)
                            .col(IdempotencyKey::Key),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_idempotency_key_user")
                            .from(IdempotencyKey::Table, IdempotencyKey::UserId)
                            .to(AppUser::Table, AppUser::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditEvent::Table)
                    .col(big_pk_auto(AuditEvent::Id))
                    .col(timestamp_with_time_zone(AuditEvent::OccurredAt))
                    .col(uuid_null(AuditEvent::ActorId))
                    .col(string_len_null(AuditEvent::ActorUsername, 64))
                    .col(string_len_null(AuditEvent::ActorRole, 16))
                    .col(string_len(AuditEvent::Action, 32))
                    .col(string_len(AuditEvent::ResourceType, 32))
                    .col(string_len_null(AuditEvent::ResourceId, 64))
                    .col(string_len_null(AuditEvent::RequestId, 64))
                    .col(string_len_null(AuditEvent::ClientAddr, 64))
                    .col(string_len(AuditEvent::Outcome, 16))
                    .col(string_len_null(AuditEvent::Reason, 200))
                    .to_owned(),
            )
            .await?;
        let mut indexes = vec![
            ("idx_audit_event_actor", AuditEvent::ActorId),
            ("idx_audit_event_occurred_at", AuditEvent::OccurredAt),
        ];
        // Every read of a chart appends an event for a random patient, so an index on the
        // resource takes a random leaf page per event. PostgreSQL absorbs that in its buffers;
        // on SQLite it multiplied the write-ahead log of each read batch several times over and
        // tripled the read path's tail latency. There, "who touched this record" queries go
        // through the time index instead (give them a time window).
        if manager.get_database_backend() == DbBackend::Postgres {
            indexes.push(("idx_audit_event_resource", AuditEvent::ResourceId));
        }
        for (name, column) in indexes {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(AuditEvent::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        let guards = match manager.get_database_backend() {
            DbBackend::Sqlite => SQLITE_AUDIT_GUARDS,
            DbBackend::Postgres => POSTGRES_AUDIT_GUARDS,
            _ => &[],
        };
        for sql in guards {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditEvent::Table.into_iden(),
            IdempotencyKey::Table.into_iden(),
            Patient::Table.into_iden(),
            LoginThrottle::Table.into_iden(),
            RefreshToken::Table.into_iden(),
            AppUser::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("DROP FUNCTION IF EXISTS audit_event_append_only()")
                .await?;
        }
        Ok(())
    }
}
