//! The audit log service: appends events and lets administrators read them.
//!
//! Reads of patient records are audited through a group commit: events from concurrent requests
//! are collected by one background task and committed together in one transaction, and each
//! request waits for the commit of its batch before it answers. Every read is still on disk
//! before its data leaves the server, but a burst of reads costs one transaction, not hundreds.

use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot};

use super::ServiceError;
use super::access::{Actor, Permit, ReadAuditLog};
use crate::domain::audit::NewAuditEvent;
use crate::domain::audit::{AuditAction, AuditEvent, AuditFilter, AuditOutcome, ResourceType};
use crate::domain::page::{Page, PageRequest};
use crate::persistence::Database;
use crate::persistence::audit::{AuditRepository, MAX_ROWS_PER_STATEMENT};

/// The most events committed in one batch.
const MAX_BATCH: usize = 1024;

struct Pending {
    events: Vec<NewAuditEvent>,
    done: oneshot::Sender<Result<(), String>>,
}

#[derive(Clone)]
pub struct AuditLog {
    db: Database,
    queue: mpsc::Sender<Pending>,
}

impl AuditLog {
    /// Starts the group-commit task on the current runtime.
    pub fn start(db: Database) -> Self {
        let (queue, receiver) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(group_commit(db.clone(), receiver));
        Self { db, queue }
    }

    /// Appends one event and returns once it is committed (batched with concurrent ones).
    pub async fn record(&self, event: NewAuditEvent) -> Result<(), ServiceError> {
        self.record_all(vec![event]).await
    }

    /// Appends one successful access by `actor` (a read or a list) and returns once committed.
    pub async fn record_access(
        &self,
        actor: &Actor,
        action: AuditAction,
        resource_type: ResourceType,
        resource_id: Option<String>,
    ) -> Result<(), ServiceError> {
        self.record(actor.event(action, resource_type, resource_id, AuditOutcome::Success))
            .await
    }

    /// Appends several events (one per record a response discloses) and returns once all are
    /// committed, together with whatever else is queued.
    pub async fn record_all(&self, events: Vec<NewAuditEvent>) -> Result<(), ServiceError> {
        if events.is_empty() {
            return Ok(());
        }
        let (done, committed) = oneshot::channel();
        self.queue
            .send(Pending { events, done })
            .await
            .map_err(|_| ServiceError::internal("audit writer has stopped"))?;
        committed
            .await
            .map_err(|_| ServiceError::internal("audit writer dropped an event"))?
            .map_err(ServiceError::Internal)
    }

    /// Reads the log, newest first. Reading it is itself audited.
    pub async fn list(
        &self,
        permit: &Permit<ReadAuditLog>,
        filter: &AuditFilter,
        page: PageRequest,
    ) -> Result<Page<AuditEvent>, ServiceError> {
        let result = AuditRepository::list(self.db.reader(), filter, page).await?;
        self.record(permit.actor().event(
            AuditAction::List,
            ResourceType::AuditLog,
            None,
            AuditOutcome::Success,
        ))
        .await?;
        Ok(result)
    }
}

/// How long a batch waits for more events once reads are arriving together. A commit costs the
/// same few log pages whether it holds one event or a hundred, and a commit is quick, so without
/// the wait each read of a busy ward would pay for a commit of its own. A quarter of a
/// millisecond is enough for that: at a whole one the reads waiting in the batch left the
/// machine idle, and the hot read on SQLite did 20,400 req/s against 26,700 (bench/README.md).
const LINGER: std::time::Duration = std::time::Duration::from_micros(250);

/// How many batches may be committing at once. With one, the database sat idle between two
/// batches: the commit's answer travelled back, the next batch was built and sent, and every
/// read waiting for it waited for that too. On PostgreSQL that left a fifth of the machine idle
/// under load; on SQLite the read cost little more CPU than the bare floor's yet reached 0.69 of
/// its throughput. With two, the next batch is already queued at the database when the last
/// one commits (on SQLite, behind it on the one writer; PostgreSQL commits them side by side).
/// Measured in bench/README.md ("Ninth session"). More did no better, and each batch in flight
/// holds a connection.
const COMMITS_IN_FLIGHT: usize = 2;

async fn group_commit(db: Database, mut receiver: mpsc::Receiver<Pending>) {
    let slots = Arc::new(Semaphore::new(COMMITS_IN_FLIGHT));
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut busy = false;
    // `recv_many` waits for the first request, then takes whatever else is already queued.
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        // The semaphore is never closed, so this only waits for a commit to finish.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            break;
        };
        // Under load (the last batch was shared), wait a moment for the requests in flight;
        // a lone read on a quiet ward is committed at once.
        if busy {
            let deadline = tokio::time::Instant::now() + LINGER;
            while batch.len() < MAX_BATCH {
                let room = MAX_BATCH - batch.len();
                match tokio::time::timeout_at(deadline, receiver.recv_many(&mut batch, room)).await
                {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        }
        // What arrived while this batch waited for a slot joins it.
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(pending) => batch.push(pending),
                Err(_) => break,
            }
        }
        busy = batch.len() > 1;
        let pending: Vec<Pending> = std::mem::replace(&mut batch, Vec::with_capacity(MAX_BATCH));
        let db = db.clone();
        tokio::spawn(async move {
            commit_and_answer(&db, pending).await;
            drop(slot);
        });
    }
}

/// Commits one batch and tells every request in it how that went.
async fn commit_and_answer(db: &Database, mut batch: Vec<Pending>) {
    let events: Vec<NewAuditEvent> = batch
        .iter_mut()
        .flat_map(|p| std::mem::take(&mut p.events))
        .collect();
    let outcome = commit(db, &events).await;
    if let Err(error) = &outcome {
        tracing::error!(%error, events = events.len(), "audit batch failed to commit");
    }
    for pending in batch {
        let _ = pending.done.send(outcome.clone());
    }
}

/// Commits a batch: a batch that fits one statement is that statement alone (atomic by itself,
/// no BEGIN/COMMIT round trips); a larger one is a transaction of several.
async fn commit(db: &Database, events: &[NewAuditEvent]) -> Result<(), String> {
    if events.len() <= MAX_ROWS_PER_STATEMENT {
        return AuditRepository::append_many(db.writer(), events)
            .await
            .map_err(|e| e.to_string());
    }
    let txn = db.begin().await.map_err(|e| e.to_string())?;
    for chunk in events.chunks(MAX_ROWS_PER_STATEMENT) {
        AuditRepository::append_many(&txn, chunk)
            .await
            .map_err(|e| e.to_string())?;
    }
    txn.commit().await.map_err(|e| e.to_string())
}
