//! Patients in `patient`, as domain `Patient`s. Soft-deleted rows are invisible to every read.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, Condition, DbBackend, EntityTrait, FromQueryResult, QueryFilter, QuerySelect,
    QueryTrait,
};
use uuid::Uuid;

use super::bulk;
use super::entities::patient::{self, Column, Entity};
use super::repository::{Repository, uuid_keyed_page};
use super::{BuiltSql, Executor, StoreError, StoreResult, stored};
use crate::domain::page::{Page, PageRequest};
use crate::domain::patient::{
    Bed, BirthDate, ClinicalSettings, ClinicalState, Diagnosis, Email, Icd10Code, Mrn, Patient,
    PatientStatus, PersonName, Phone, Ward,
};
use crate::domain::vitals::Spo2Scale;

pub struct PatientRepository;

impl Repository for PatientRepository {
    type Entity = Entity;
    type Model = patient::Model;
}

/// Filters for the patient list.
#[derive(Debug, Clone, Default)]
pub struct PatientFilter {
    pub status: Option<PatientStatus>,
    pub ward: Option<String>,
    /// Case-insensitive substring of first name, last name or MRN.
    pub q: Option<String>,
}

/// A `patient` row read by position in the select list rather than by column name: the hot
/// read decodes every column of every chart opened, and a lookup by name hashes the name each
/// time. `Entity::find()` selects the columns in the order `Column` declares them, which is
/// what `Column::X as usize` counts (`the_select_lists_columns_in_declaration_order` checks it).
struct PatientRow(patient::Model);

impl FromQueryResult for PatientRow {
    fn from_query_result(row: &sea_orm::QueryResult, _pre: &str) -> Result<Self, sea_orm::DbErr> {
        Ok(Self(patient::Model {
            id: row.try_get_by_index(Column::Id as usize)?,
            mrn: row.try_get_by_index(Column::Mrn as usize)?,
            first_name: row.try_get_by_index(Column::FirstName as usize)?,
            last_name: row.try_get_by_index(Column::LastName as usize)?,
            birth_date: row.try_get_by_index(Column::BirthDate as usize)?,
            sex: row.try_get_by_index(Column::Sex as usize)?,
            diagnosis: row.try_get_by_index(Column::Diagnosis as usize)?,
            icd10_code: row.try_get_by_index(Column::Icd10Code as usize)?,
            ward: row.try_get_by_index(Column::Ward as usize)?,
            bed: row.try_get_by_index(Column::Bed as usize)?,
            status: row.try_get_by_index(Column::Status as usize)?,
            phone: row.try_get_by_index(Column::Phone as usize)?,
            email: row.try_get_by_index(Column::Email as usize)?,
            preferred_contact: row.try_get_by_index(Column::PreferredContact as usize)?,
            spo2_scale: row.try_get_by_index(Column::Spo2Scale as usize)?,
            last_systemic_therapy_on: row
                .try_get_by_index(Column::LastSystemicTherapyOn as usize)?,
            search_text: row.try_get_by_index(Column::SearchText as usize)?,
            version: row.try_get_by_index(Column::Version as usize)?,
            created_at: row.try_get_by_index(Column::CreatedAt as usize)?,
            updated_at: row.try_get_by_index(Column::UpdatedAt as usize)?,
            deleted_at: row.try_get_by_index(Column::DeletedAt as usize)?,
        }))
    }
}

fn to_domain(row: &patient::Model) -> StoreResult<Patient> {
    fn opt<T>(
        col: &str,
        v: &Option<String>,
        parse: fn(&str) -> Result<T, String>,
    ) -> StoreResult<Option<T>> {
        v.as_deref().map(|v| stored(col, parse(v))).transpose()
    }
    Ok(Patient {
        id: row.id,
        mrn: stored("mrn", Mrn::parse(&row.mrn))?,
        first_name: stored("first_name", PersonName::parse(&row.first_name))?,
        last_name: stored("last_name", PersonName::parse(&row.last_name))?,
        // Stored dates were checked on the way in; "today" only guards against future dates.
        birth_date: stored(
            "birth_date",
            BirthDate::parse(row.birth_date, row.birth_date),
        )?,
        sex: stored("sex", row.sex.parse())?,
        diagnosis: stored("diagnosis", Diagnosis::parse(&row.diagnosis))?,
        icd10_code: opt("icd10_code", &row.icd10_code, Icd10Code::parse)?,
        ward: stored("ward", Ward::parse(&row.ward))?,
        bed: opt("bed", &row.bed, Bed::parse)?,
        status: stored("status", row.status.parse())?,
        phone: opt("phone", &row.phone, Phone::parse)?,
        email: opt("email", &row.email, Email::parse)?,
        preferred_contact: stored("preferred_contact", row.preferred_contact.parse())?,
        clinical: ClinicalSettings {
            spo2_scale: stored("spo2_scale", spo2_scale(row.spo2_scale))?,
            last_systemic_therapy_on: row.last_systemic_therapy_on,
        },
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

fn to_row(p: &Patient) -> patient::Model {
    patient::Model {
        id: p.id,
        mrn: p.mrn.as_str().to_owned(),
        first_name: p.first_name.as_str().to_owned(),
        last_name: p.last_name.as_str().to_owned(),
        birth_date: p.birth_date.date(),
        sex: p.sex.as_str().to_owned(),
        diagnosis: p.diagnosis.as_str().to_owned(),
        icd10_code: p.icd10_code.as_ref().map(|c| c.as_str().to_owned()),
        ward: p.ward.as_str().to_owned(),
        bed: p.bed.as_ref().map(|b| b.as_str().to_owned()),
        status: p.status.as_str().to_owned(),
        phone: p.phone.as_ref().map(|v| v.as_str().to_owned()),
        email: p.email.as_ref().map(|v| v.as_str().to_owned()),
        preferred_contact: p.preferred_contact.as_str().to_owned(),
        spo2_scale: i16::from(p.clinical.spo2_scale.as_u8()),
        last_systemic_therapy_on: p.clinical.last_systemic_therapy_on,
        search_text: search_text(p),
        version: p.version,
        created_at: p.created_at,
        updated_at: p.updated_at,
        deleted_at: None,
    }
}

fn spo2_scale(stored: i16) -> Result<Spo2Scale, String> {
    u8::try_from(stored)
        .ok()
        .and_then(|v| Spo2Scale::try_from(v).ok())
        .ok_or_else(|| format!("{stored} is not a scale"))
}

fn live() -> Condition {
    Condition::all().add(Column::DeletedAt.is_null())
}

impl PatientRepository {
    pub async fn insert<C: Executor>(db: &C, patient: &Patient) -> StoreResult<()> {
        Self::insert_row(db, to_row(patient)).await.map(drop)
    }

    /// The patient as an opaque text, to answer again exactly as it is now.
    pub fn snapshot(patient: &Patient) -> StoreResult<String> {
        serde_json::to_string(&to_row(patient)).map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    /// The patient a `snapshot` was taken of.
    pub fn from_snapshot(snapshot: &str) -> StoreResult<Patient> {
        let row: patient::Model = serde_json::from_str(snapshot)
            .map_err(|e| StoreError::Corrupt(format!("snapshot: {e}")))?;
        to_domain(&row)
    }

    /// The patient unless missing or deleted.
    pub async fn find<C: Executor>(db: &C, id: Uuid) -> StoreResult<Option<Patient>> {
        // The read behind every chart opened: its SQL is built once (see `BuiltSql`).
        static SQL: BuiltSql = BuiltSql::new();
        let statement = SQL.statement(
            db.get_database_backend(),
            |backend| {
                Entity::find()
                    .filter(live().add(Column::Id.eq(Uuid::nil())))
                    .build(backend)
            },
            [id.into()],
        );
        // `find_by_statement`, not `Entity::find().from_raw_sql`: that would still build the
        // select's column list first, only to throw it away.
        let rows = PatientRow::find_by_statement(statement).all(db).await?;
        rows.first().map(|row| to_domain(&row.0)).transpose()
    }

    /// The patient, locked until the transaction ends (`FOR UPDATE` on PostgreSQL; SQLite's
    /// write transaction already excludes every other writer). Writes about one patient that
    /// read before they write (the previous score, the open alerts) take this first, so two
    /// nurses charting the same patient at once are serialised, not interleaved.
    pub async fn lock<C: Executor>(db: &C, id: Uuid) -> StoreResult<Option<Patient>> {
        let rows = Entity::find()
            .filter(live().add(Column::Id.eq(id)))
            .lock_exclusive()
            .all(db)
            .await?;
        rows.first().map(to_domain).transpose()
    }

    /// The clinical state of these patients (the live ones), locked until the transaction ends,
    /// in id order so that two writers locking overlapping sets cannot deadlock (see `lock`).
    /// Only the columns charting reads, packed into one row by the database (`bulk::packed`).
    pub async fn lock_clinical_states<C: Executor>(
        db: &C,
        ids: &[Uuid],
    ) -> StoreResult<Vec<ClinicalState>> {
        let mut states = Vec::with_capacity(ids.len());
        let backend = db.get_database_backend();
        for chunk in ids.chunks(1000) {
            let marks = bulk::marks(backend, 1, chunk.len()).join(", ");
            // PostgreSQL locks in the sub-select (a locking clause cannot sit beside an
            // aggregate); SQLite's write transaction already holds the only write lock.
            let from = match backend {
                DbBackend::Postgres => format!(
                    "FROM (SELECT id, status, spo2_scale, last_systemic_therapy_on FROM patient \
                     WHERE id IN ({marks}) AND deleted_at IS NULL ORDER BY id FOR UPDATE) p"
                ),
                _ => format!("FROM patient WHERE id IN ({marks}) AND deleted_at IS NULL"),
            };
            let rows: Vec<(Uuid, String, i16, Option<NaiveDate>)> = bulk::packed(
                db,
                bulk::PackedRow {
                    sqlite: "lower(hex(id)), status, spo2_scale, last_systemic_therapy_on",
                    postgres: "id, status, spo2_scale, last_systemic_therapy_on",
                },
                &from,
                chunk.iter().map(|id| (*id).into()).collect(),
            )
            .await?;
            for (id, status, scale, therapy) in rows {
                states.push(ClinicalState {
                    id,
                    status: stored("status", status.parse())?,
                    clinical: ClinicalSettings {
                        spo2_scale: stored("spo2_scale", spo2_scale(scale))?,
                        last_systemic_therapy_on: therapy,
                    },
                });
            }
        }
        Ok(states)
    }

    /// The ids and statuses of the patients these MRNs name (the live ones), for imports that
    /// identify patients by MRN; packed into one row by the database (`bulk::packed`).
    pub async fn admissions_by_mrn<C: Executor>(
        db: &C,
        mrns: &[String],
    ) -> StoreResult<Vec<(String, Uuid, PatientStatus)>> {
        let mut found = Vec::with_capacity(mrns.len());
        let backend = db.get_database_backend();
        for chunk in mrns.chunks(1000) {
            let marks = bulk::marks(backend, 1, chunk.len()).join(", ");
            let rows: Vec<(String, Uuid, String)> = bulk::packed(
                db,
                bulk::PackedRow {
                    sqlite: "mrn, lower(hex(id)), status",
                    postgres: "mrn, id, status",
                },
                &format!("FROM patient WHERE mrn IN ({marks}) AND deleted_at IS NULL"),
                chunk.iter().map(|m| m.as_str().into()).collect(),
            )
            .await?;
            for (mrn, id, status) in rows {
                found.push((mrn, id, stored("status", status.parse())?));
            }
        }
        Ok(found)
    }

    /// Every admitted patient of a ward (a ward holds tens of beds, so no paging).
    pub async fn admitted_on_ward<C: Executor>(db: &C, ward: &str) -> StoreResult<Vec<Patient>> {
        Entity::find()
            .filter(
                live()
                    .add(Column::Ward.eq(ward))
                    .add(Column::Status.eq("admitted")),
            )
            .all(db)
            .await?
            .iter()
            .map(to_domain)
            .collect()
    }

    /// Writes `patient` (carrying its new version) if the stored one is still at
    /// `expected_version` and not deleted.
    pub async fn update<C: Executor>(
        db: &C,
        patient: &Patient,
        expected_version: i32,
    ) -> StoreResult<()> {
        Self::update_row_where(
            db,
            to_row(patient),
            live()
                .add(Column::Id.eq(patient.id))
                .add(Column::Version.eq(expected_version))
                .into(),
        )
        .await
        .map(drop)
    }

    /// Marks the patient deleted if still at `expected_version`.
    pub async fn soft_delete<C: Executor>(
        db: &C,
        id: Uuid,
        expected_version: i32,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let result = Entity::update_many()
            .col_expr(Column::DeletedAt, now.into())
            .col_expr(Column::UpdatedAt, now.into())
            .col_expr(Column::Version, (expected_version + 1).into())
            .filter(
                live()
                    .add(Column::Id.eq(id))
                    .add(Column::Version.eq(expected_version)),
            )
            .exec(db)
            .await?;
        if result.rows_affected == 0 {
            return Err(StoreError::VersionMismatch);
        }
        Ok(())
    }

    pub async fn list<C: Executor>(
        db: &C,
        filter: &PatientFilter,
        page: PageRequest,
    ) -> StoreResult<Page<Patient>> {
        let mut condition = live();
        if let Some(status) = filter.status {
            condition = condition.add(Column::Status.eq(status.as_str()));
        }
        if let Some(ward) = &filter.ward {
            condition = condition.add(Column::Ward.eq(ward.as_str()));
        }
        if let Some(q) = &filter.q {
            let pattern = format!("%{}%", escape_like(&q.to_lowercase()));
            condition = condition.add(
                Expr::col(Column::SearchText)
                    .like(sea_orm::sea_query::LikeExpr::new(pattern).escape('\\')),
            );
        }
        let query = Entity::find().filter(condition);
        uuid_keyed_page(db, query, Column::Id, page, |r| r.id, to_domain).await
    }
}

/// What a search looks in: the names and the MRN, lower-cased with Unicode rules, so "östl"
/// finds "Östlund" on both databases.
fn search_text(p: &Patient) -> String {
    format!(
        "{} {} {}",
        p.first_name.as_str(),
        p.last_name.as_str(),
        p.mrn.as_str()
    )
    .to_lowercase()
}

/// Escapes LIKE wildcards so a search for `50%` finds the text "50%".
fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

#[cfg(test)]
mod tests {
    use sea_orm::{DbBackend, EntityTrait, IdenStatic, Iterable, QueryTrait};

    use super::{Column, Entity};

    /// `PatientRow` reads column `c` at position `c as usize`; that holds only while the
    /// select lists the columns in declaration order, every one of them.
    #[test]
    fn the_select_lists_columns_in_declaration_order() {
        let sql = Entity::find().build(DbBackend::Sqlite).to_string();
        let listed = sql
            .strip_prefix("SELECT ")
            .and_then(|s| s.split(" FROM ").next())
            .expect("a SELECT ... FROM statement");
        let names: Vec<String> = listed
            .split(", ")
            .map(|c| {
                c.rsplit('.')
                    .next()
                    .unwrap_or(c)
                    .trim_matches('"')
                    .to_owned()
            })
            .collect();
        let columns: Vec<Column> = Column::iter().collect();
        assert_eq!(names.len(), columns.len(), "{sql}");
        for (position, column) in columns.into_iter().enumerate() {
            assert_eq!(column as usize, position);
            assert_eq!(names[position], column.as_str(), "{sql}");
        }
    }
}
