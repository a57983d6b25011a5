//! The results inbox: files the exam execution system drops under `completed/` in the result
//! store, the outcome each one gets, and the folder it is moved to for that outcome.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::patient::closed_set;

/// Where new files arrive.
pub const INBOX_FOLDER: &str = "completed";
/// The largest file the inbox reads; a larger one is not a result document and goes to `stuck/`.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// The longest reason kept for an outcome (the rest is cut, never the start).
pub const MAX_REASON_CHARS: usize = 1000;

closed_set!(
    /// What became of a file: `processed` (the result was applied, or had been already: the
    /// exam is finished), `stuck` (not readable as a result: not JSON, tokens that do not
    /// verify), `denied` (the tokens verify but disagree with each other or with the
    /// registry), `deleted` (the exam was revoked).
    InboxOutcome {
        Processed => "processed",
        Stuck => "stuck",
        Denied => "denied",
        Deleted => "deleted",
    }
);

impl InboxOutcome {
    /// The folder a file with this outcome is moved to; processed files are filed by the
    /// month they were handled in (`processed/YYYY_MM`), so no folder grows without end.
    pub fn folder(self, decided_at: DateTime<Utc>) -> String {
        match self {
            InboxOutcome::Processed => format!("processed/{}", decided_at.format("%Y_%m")),
            other => other.as_str().to_owned(),
        }
    }
}

/// The part of an inbox path below `completed/` (which may hold sub-folders), or none when the
/// path is not in the inbox or names a file the producer is still writing (a hidden name).
pub fn inbox_name(path: &str) -> Option<&str> {
    let name = path.strip_prefix(INBOX_FOLDER)?.strip_prefix('/')?;
    let file = name.rsplit('/').next().unwrap_or(name);
    (!name.is_empty() && !file.is_empty() && !file.starts_with('.')).then_some(name)
}

/// Where a file goes for `outcome`: the same name in the outcome's folder, or, when `taken`
/// (an earlier file of that name is already there), the name prefixed with the entry's id so
/// that nothing earlier is overwritten.
pub fn destination(
    outcome: InboxOutcome,
    decided_at: DateTime<Utc>,
    name: &str,
    entry: Uuid,
    taken: bool,
) -> String {
    let folder = outcome.folder(decided_at);
    if taken {
        match name.rsplit_once('/') {
            Some((dirs, file)) => format!("{folder}/{dirs}/{}-{file}", entry.simple()),
            None => format!("{folder}/{}-{name}", entry.simple()),
        }
    } else {
        format!("{folder}/{name}")
    }
}

/// A reason cut to `MAX_REASON_CHARS`.
pub fn bounded_reason(reason: &str) -> String {
    reason.chars().take(MAX_REASON_CHARS).collect()
}

/// A file seen in the inbox and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxEntry {
    pub id: Uuid,
    /// The path in the result store where it arrived (`completed/...`).
    pub path: String,
    /// The store's e-tag, or size and modification time: which file of that name it was.
    pub fingerprint: String,
    pub size: i64,
    /// None while it is being handled.
    pub outcome: Option<InboxOutcome>,
    pub reason: Option<String>,
    pub exam_id: Option<Uuid>,
    pub patient_id: Option<Uuid>,
    /// Where its report file was stored, when it carried one.
    pub report_key: Option<String>,
    pub destination: Option<String>,
    /// How many times a worker claimed it.
    pub claims: i32,
    /// The last failure on our side (store or database unreachable), retried later.
    pub last_error: Option<String>,
    pub received_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub moved_at: Option<DateTime<Utc>>,
}

/// A decided outcome, before it is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub outcome: InboxOutcome,
    pub reason: String,
    pub exam_id: Option<Uuid>,
    pub patient_id: Option<Uuid>,
    pub report_key: Option<String>,
}

impl Decision {
    pub fn new(outcome: InboxOutcome, reason: impl AsRef<str>) -> Self {
        Self {
            outcome,
            reason: bounded_reason(reason.as_ref()),
            exam_id: None,
            patient_id: None,
            report_key: None,
        }
    }
}

/// The inbox list's outcome filter: still being handled, or one outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeFilter {
    Pending,
    Decided(InboxOutcome),
}

impl FromStr for OutcomeFilter {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(OutcomeFilter::Pending),
            other => other.parse().map(OutcomeFilter::Decided).map_err(|_| {
                "must be one of pending, processed, stuck, denied, deleted".to_owned()
            }),
        }
    }
}

impl fmt::Display for OutcomeFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutcomeFilter::Pending => f.write_str("pending"),
            OutcomeFilter::Decided(o) => o.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn processed_files_are_filed_by_month_and_the_others_by_outcome() {
        let december = at("2026-12-31T23:59:59Z");
        assert_eq!(
            InboxOutcome::Processed.folder(december),
            "processed/2026_12"
        );
        assert_eq!(
            InboxOutcome::Processed.folder(at("2027-01-01T00:00:00Z")),
            "processed/2027_01"
        );
        assert_eq!(InboxOutcome::Stuck.folder(december), "stuck");
        assert_eq!(InboxOutcome::Denied.folder(december), "denied");
        assert_eq!(InboxOutcome::Deleted.folder(december), "deleted");
    }

    #[test]
    fn a_taken_destination_gets_the_entry_id_so_nothing_is_overwritten() {
        let id = Uuid::nil();
        let when = at("2026-11-24T08:00:00Z");
        assert_eq!(
            destination(InboxOutcome::Processed, when, "a.json", id, false),
            "processed/2026_11/a.json"
        );
        assert_eq!(
            destination(InboxOutcome::Stuck, when, "a.json", id, true),
            format!("stuck/{}-a.json", id.simple())
        );
        assert_eq!(
            destination(InboxOutcome::Denied, when, "lab/a.json", id, true),
            format!("denied/lab/{}-a.json", id.simple())
        );
    }

    #[test]
    fn only_visible_files_under_completed_are_in_the_inbox() {
        assert_eq!(inbox_name("completed/a.json"), Some("a.json"));
        assert_eq!(inbox_name("completed/lab/a.json"), Some("lab/a.json"));
        assert_eq!(inbox_name("completed/.a.json.part"), None);
        assert_eq!(inbox_name("completed/"), None);
        assert_eq!(inbox_name("completedx/a.json"), None);
        assert_eq!(inbox_name("processed/2026_11/a.json"), None);
    }

    #[test]
    fn the_outcome_filter_takes_pending_or_an_outcome() {
        assert_eq!("pending".parse(), Ok(OutcomeFilter::Pending));
        assert_eq!(
            "denied".parse(),
            Ok(OutcomeFilter::Decided(InboxOutcome::Denied))
        );
        assert!("lost".parse::<OutcomeFilter>().is_err());
        assert_eq!(
            "a".repeat(2000).chars().count().min(MAX_REASON_CHARS),
            bounded_reason(&"a".repeat(2000)).len()
        );
    }
}
