//! CSV import of vital signs: a file of sets for many patients (by MRN), read row by row in
//! chunks so a file of any size never sits in memory, charted in one transaction (or rolled back
//! for a dry run), with a report of every accepted and refused line.

use std::collections::HashMap;
use std::io::Read;

use chrono::{DateTime, Utc};

use super::ServiceError;
use super::access::{Permit, RecordVitalSigns};
use super::vital_signs::{Charting, VitalSignsService, chart_in};
use crate::domain::observation::NewObservation;
use crate::domain::patient::PatientStatus;
use crate::domain::vitals::{RawVitalSigns, VitalSigns};
use crate::domain::{FieldError, FieldErrors};
use crate::persistence::patients::PatientRepository;

/// Rows parsed, checked and charted together: big enough to amortise the per-patient context
/// reads, small enough to keep memory flat.
pub const CHUNK_ROWS: usize = 8000;

/// The columns a file may have; `mrn` is required, the others optional and in any order.
pub const COLUMNS: [&str; 13] = [
    "mrn",
    "recorded_at",
    "heart_rate",
    "systolic_bp",
    "diastolic_bp",
    "respiratory_rate",
    "temperature_c",
    "spo2",
    "on_oxygen",
    "consciousness",
    "pain_score",
    "weight_kg",
    "note",
];

/// One refused line of the file.
#[derive(Debug, Clone, PartialEq)]
pub struct RefusedLine {
    pub line: u64,
    pub mrn: Option<String>,
    pub reason: String,
    pub errors: Vec<FieldError>,
}

/// What an import did (or, for a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportReport {
    pub dry_run: bool,
    pub rows: u64,
    pub accepted: u64,
    pub refused: Vec<RefusedLine>,
    pub alerts_raised: u64,
}

/// Why a whole file is refused (nothing imported).
fn file_error(message: impl Into<String>) -> ServiceError {
    ServiceError::invalid("file", &message.into())
}

struct Columns {
    index: HashMap<&'static str, usize>,
    /// How many fields the header has, and so every line.
    width: usize,
}

impl Columns {
    fn parse(header: &csv::StringRecord) -> Result<Self, ServiceError> {
        let mut index = HashMap::new();
        for (i, name) in header.iter().enumerate() {
            let name = name.trim().trim_start_matches('\u{feff}');
            let known = COLUMNS.iter().find(|c| **c == name).ok_or_else(|| {
                file_error(format!(
                    "line 1: unknown column '{name}'; columns are {}",
                    COLUMNS.join(", ")
                ))
            })?;
            if index.insert(*known, i).is_some() {
                return Err(file_error(format!("line 1: column '{name}' appears twice")));
            }
        }
        if !index.contains_key("mrn") {
            return Err(file_error("line 1: the header must name an 'mrn' column"));
        }
        Ok(Self {
            index,
            width: header.len(),
        })
    }

    fn get<'r>(&self, row: &'r csv::StringRecord, name: &str) -> Option<&'r str> {
        self.index
            .get(name)
            .and_then(|i| row.get(*i))
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }
}

/// A parsed line: the MRN and the set, or the line's errors.
fn parse_row(
    columns: &Columns,
    row: &csv::StringRecord,
    now: DateTime<Utc>,
) -> Result<(String, NewObservation), (Option<String>, FieldErrors)> {
    let mut e = FieldErrors::default();
    let mrn = columns.get(row, "mrn").map(str::to_owned);
    if mrn.is_none() {
        e.push("mrn", "is required");
    }
    let mut number = |field: &str| -> Option<f64> {
        let v = columns.get(row, field)?;
        e.check(
            field,
            v.parse::<f64>()
                .map_err(|_| format!("'{v}' is not a number")),
        )
    };
    let raw = RawVitalSigns {
        heart_rate: number("heart_rate"),
        systolic_bp: number("systolic_bp"),
        diastolic_bp: number("diastolic_bp"),
        respiratory_rate: number("respiratory_rate"),
        temperature_c: number("temperature_c"),
        spo2: number("spo2"),
        pain_score: number("pain_score"),
        weight_kg: number("weight_kg"),
        on_oxygen: None,
        consciousness: columns.get(row, "consciousness").map(str::to_owned),
    };
    let on_oxygen = columns.get(row, "on_oxygen").and_then(|v| {
        e.check(
            "on_oxygen",
            match v.to_ascii_lowercase().as_str() {
                "true" | "yes" | "y" | "1" => Ok(true),
                "false" | "no" | "n" | "0" => Ok(false),
                _ => Err(format!("'{v}' is not true or false")),
            },
        )
    });
    let recorded_at = columns.get(row, "recorded_at").and_then(|v| {
        e.check(
            "recorded_at",
            DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| format!("'{v}' is not an RFC 3339 time with an offset")),
        )
    });
    let observation = NewObservation::parse(
        recorded_at,
        VitalSigns::parse(RawVitalSigns { on_oxygen, ..raw }),
        columns.get(row, "note"),
        now,
    );
    match (observation, e.is_empty(), mrn) {
        (Ok(o), true, Some(mrn)) => Ok((mrn, o)),
        (Ok(_), _, mrn) => Err((mrn, e)),
        (Err(more), _, mrn) => {
            e.extend(more);
            Err((mrn, e))
        }
    }
}

/// Up to `CHUNK_ROWS` lines of the file: how many, the sets parsed, and the lines refused.
struct ParsedChunk {
    rows: u64,
    parsed: Vec<(u64, String, NewObservation)>,
    refused: Vec<RefusedLine>,
}

/// A line refused before its values are read: it is not a row of the header's columns.
fn malformed(line: u64, reason: &str, message: String) -> RefusedLine {
    let mut errors = FieldErrors::default();
    errors.push("line", message);
    RefusedLine {
        line,
        mrn: None,
        reason: reason.to_owned(),
        errors: errors.0,
    }
}

/// Reads the file (header, then rows) and sends it on in chunks; a file error ends the file.
/// A line that is not a row of the header's columns (too few or too many fields, or not
/// UTF-8) is refused on its own, like a line with bad values. Stops early when the charting
/// side has gone (it failed, or the request was dropped).
fn read_chunks<R: Read>(
    file: R,
    now: DateTime<Utc>,
    sender: &tokio::sync::mpsc::Sender<Result<ParsedChunk, ServiceError>>,
) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(file);
    let columns = match reader.headers() {
        Ok(header) => Columns::parse(header),
        Err(e) => Err(file_error(format!("line 1: {e}"))),
    };
    let columns = match columns {
        Ok(columns) => columns,
        Err(e) => {
            let _ = sender.blocking_send(Err(e));
            return;
        }
    };
    let mut bytes = csv::ByteRecord::new();
    loop {
        let mut chunk = ParsedChunk {
            rows: 0,
            parsed: Vec::with_capacity(CHUNK_ROWS),
            refused: Vec::new(),
        };
        let mut more = true;
        while more && chunk.parsed.len() < CHUNK_ROWS {
            more = match reader.read_byte_record(&mut bytes) {
                Ok(more) => more,
                Err(e) => {
                    let line = e.position().map_or(0, |p| p.line());
                    // Byte records of any width leave the reader nothing to refuse but a file
                    // it cannot read: the spooled upload, the server's fault, not the client's.
                    let error = match e.kind() {
                        csv::ErrorKind::Io(_) => ServiceError::internal(format!(
                            "reading the CSV file at line {line}: {e}"
                        )),
                        _ => file_error(format!("line {line}: {e}")),
                    };
                    let _ = sender.blocking_send(Err(error));
                    return;
                }
            };
            if more {
                chunk.rows += 1;
                let line = bytes.position().map_or(0, |p| p.line());
                if bytes.len() != columns.width {
                    // Its values cannot be matched to the columns (an unquoted comma in a
                    // note, say).
                    let message = format!(
                        "has {} fields; the header has {}",
                        bytes.len(),
                        columns.width
                    );
                    chunk
                        .refused
                        .push(malformed(line, "wrong number of fields", message));
                    continue;
                }
                // The record's buffers go back to `bytes` for the next line either way.
                let row = match csv::StringRecord::from_byte_record(std::mem::take(&mut bytes)) {
                    Ok(row) => row,
                    Err(e) => {
                        bytes = e.into_byte_record();
                        let message = "is not valid UTF-8".to_owned();
                        chunk
                            .refused
                            .push(malformed(line, "not UTF-8 text", message));
                        continue;
                    }
                };
                match parse_row(&columns, &row, now) {
                    Ok((mrn, observation)) => chunk.parsed.push((line, mrn, observation)),
                    Err((mrn, errors)) => chunk.refused.push(RefusedLine {
                        line,
                        mrn,
                        reason: "invalid values".to_owned(),
                        errors: errors.0,
                    }),
                }
                bytes = row.into_byte_record();
            }
        }
        if sender.blocking_send(Ok(chunk)).is_err() || !more {
            return;
        }
    }
}

impl VitalSignsService {
    /// Imports a CSV file (header row; one set per line; patients by MRN). Lines that cannot
    /// be charted are reported with their line number and reason and the rest is charted, all
    /// in one transaction; a dry run checks everything and rolls back. A line with more or
    /// fewer fields than the header, or not UTF-8, is one of those lines. A file whose header
    /// does not name known columns, or that cannot be read at all, is refused as a whole.
    ///
    /// The file is read and parsed on a blocking thread, at most a chunk ahead of the charting:
    /// reading a spooled file and parsing thousands of lines would otherwise hold one of the
    /// runtime's few worker threads for milliseconds at a time, stalling other requests.
    pub async fn import_csv<R: Read + Send + 'static>(
        &self,
        permit: &Permit<RecordVitalSigns>,
        file: R,
        dry_run: bool,
    ) -> Result<ImportReport, ServiceError> {
        let actor = permit.actor();
        let now = crate::domain::observation::stored_precision(Utc::now());
        // One chunk in the channel and one being parsed: memory stays at a few chunks.
        let (sender, mut chunks) = tokio::sync::mpsc::channel(1);
        let reader = tokio::task::spawn_blocking(move || read_chunks(file, now, &sender));
        let mut report = ImportReport {
            dry_run,
            ..ImportReport::default()
        };
        let mut txn = None;
        while let Some(chunk) = chunks.recv().await {
            let ParsedChunk {
                rows,
                parsed,
                refused,
            } = chunk?;
            report.rows += rows;
            report.refused.extend(refused);
            if parsed.is_empty() {
                continue;
            }
            let txn = match &mut txn {
                Some(txn) => txn,
                None => txn.insert(self.db().begin().await?),
            };
            self.import_chunk(txn, actor, parsed, &mut report, now)
                .await?;
        }
        // The channel closes when the reader is done; a panic there is an internal error.
        reader.await.map_err(ServiceError::internal)?;
        if report.rows == 0 {
            return Err(file_error("the file has a header but no rows"));
        }
        report.refused.sort_by_key(|r| r.line);
        if let Some(txn) = txn {
            if dry_run {
                txn.rollback().await?;
            } else {
                txn.commit().await?;
            }
        }
        Ok(report)
    }

    async fn import_chunk(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        actor: &super::Actor,
        rows: Vec<(u64, String, NewObservation)>,
        report: &mut ImportReport,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let mut mrns: Vec<String> = rows.iter().map(|(_, m, _)| m.clone()).collect();
        mrns.sort_unstable();
        mrns.dedup();
        let patients: HashMap<String, (uuid::Uuid, PatientStatus)> =
            PatientRepository::admissions_by_mrn(txn, &mrns)
                .await?
                .into_iter()
                .map(|(mrn, id, status)| (mrn, (id, status)))
                .collect();
        let mut chartings = Vec::with_capacity(rows.len());
        for (line, mrn, observation) in rows {
            match patients.get(&mrn) {
                None => report.refused.push(RefusedLine {
                    line,
                    mrn: Some(mrn),
                    reason: "no patient has this MRN".to_owned(),
                    errors: vec![FieldError::new("mrn", "no patient has this MRN")],
                }),
                Some((_, status)) if *status != PatientStatus::Admitted => {
                    report.refused.push(RefusedLine {
                        line,
                        mrn: Some(mrn),
                        reason: "the patient is not admitted".to_owned(),
                        errors: vec![FieldError::new("mrn", "the patient is not admitted")],
                    });
                }
                Some((id, _)) => chartings.push(Charting {
                    patient_id: *id,
                    observation,
                }),
            }
        }
        if chartings.is_empty() {
            return Ok(());
        }
        let charted = chart_in(txn, actor, self.rules(), chartings, now).await?;
        report.accepted += charted.len() as u64;
        report.alerts_raised += charted.iter().map(|c| c.alerts.len() as u64).sum::<u64>();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns(header: &[&str]) -> Result<Columns, ServiceError> {
        Columns::parse(&csv::StringRecord::from(header.to_vec()))
    }

    #[test]
    fn headers_need_an_mrn_and_only_known_columns() {
        assert!(columns(&["mrn", "heart_rate"]).is_ok());
        assert!(columns(&["\u{feff}mrn", " spo2 "]).is_ok());
        assert!(columns(&["heart_rate"]).is_err());
        assert!(columns(&["mrn", "pulse"]).is_err());
        assert!(columns(&["mrn", "spo2", "spo2"]).is_err());
    }

    #[test]
    fn rows_parse_into_sets_or_name_every_bad_field() {
        let c = columns(&[
            "mrn",
            "recorded_at",
            "heart_rate",
            "on_oxygen",
            "consciousness",
        ])
        .unwrap();
        let now = crate::domain::observation::stored_precision(Utc::now());
        let row =
            csv::StringRecord::from(vec!["MRN-1", "2026-11-23T08:00:00Z", "88", "yes", "alert"]);
        let (mrn, o) = parse_row(&c, &row, now).unwrap();
        assert_eq!(mrn, "MRN-1");
        assert_eq!(o.vitals.heart_rate(), Some(88.0));
        assert_eq!(o.vitals.on_oxygen(), Some(true));

        let row = csv::StringRecord::from(vec!["", "yesterday", "fast", "maybe", "sleepy"]);
        let (mrn, errors) = parse_row(&c, &row, now).unwrap_err();
        assert_eq!(mrn, None);
        let mut fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            [
                "consciousness",
                "heart_rate",
                "mrn",
                "on_oxygen",
                "recorded_at"
            ]
        );
    }
}
