//! Group commit of charted vital signs: charting requests that arrive while another is being
//! written are charted together, as one batch in one transaction, and committed together.
//!
//! Why: on SQLite every commit writes each page the transaction changed to the log. A round of
//! sets for many patients changes one leaf of the chart index per patient, so two rounds
//! committed apart write those leaves twice, and the commit was over a quarter of the one
//! writer's time (bench/README.md). Each batch also reads the charted patients' recent charts,
//! open alerts and neutrophil counts before it scores: a third of the time it held the writer.
//! Requests that queue behind each other anyway share that work instead; a request on a quiet
//! ward is committed at once, alone.
//!
//! What each request still gets: all of its sets or none, and an answer only once they are
//! committed. It is judged as if the requests of its group had been charted one after another
//! in order of arrival. A request refused before anything was written (a patient missing or
//! not admitted) is answered at once and the rest of the group charted without it. Any other
//! failure rolls the whole group back, and every request of it is then charted again in a
//! transaction of its own, so one request's failure never becomes another's. A request given
//! up (its client gone, or past the request timeout) is not charted: skipped before its group
//! starts or, if given up while the group was charted, the group is rolled back and charted
//! again without it. A failed commit fails every request of its group. One group is charted at
//! a time per server (on PostgreSQL too; replicas each have their own).

use chrono::Utc;
use tokio::sync::{mpsc, oneshot};

use super::ServiceError;
use super::access::Actor;
use super::vital_signs::{ChartFailure, Charted, Charting, chart_in, chart_requests};
use crate::config::ClinicalRules;
use crate::domain::observation::stored_precision;
use crate::persistence::Database;

/// The most sets one group charts. A group holds the one writer, which read audits also wait
/// for, until it commits. With 16 clients sending batches of 4-hourly rounds, 8,000 charted
/// 50,500-52,600 sets/s against 41,200-47,400 with 4,000; a chart read beside them waited
/// longer (p99 331 ms against 210 ms) but far less than before groups (887 ms, when every batch
/// queued for the writer on its own). With 4 clients a group never exceeds 4,000 sets, and 2,000
/// was a tenth slower (bench/README.md, "Vital signs, tenth session").
const MAX_GROUP_SETS: usize = 8000;

struct Job {
    actor: Actor,
    chartings: Vec<Charting>,
    answer: oneshot::Sender<Result<Vec<Charted>, ServiceError>>,
}

/// The queue in front of the group-commit task.
#[derive(Clone)]
pub(crate) struct ChartQueue {
    sender: mpsc::Sender<Job>,
}

impl ChartQueue {
    /// Starts the group-commit task on the current runtime.
    pub(crate) fn start(db: Database, rules: ClinicalRules) -> Self {
        let (sender, receiver) = mpsc::channel(1024);
        tokio::spawn(group_commit(db, rules, receiver));
        Self { sender }
    }

    /// Charts `chartings` in one transaction (shared with concurrent requests) and returns once
    /// it is committed.
    pub(crate) async fn chart(
        &self,
        actor: &Actor,
        chartings: Vec<Charting>,
    ) -> Result<Vec<Charted>, ServiceError> {
        let (answer, answered) = oneshot::channel();
        self.sender
            .send(Job {
                actor: actor.clone(),
                chartings,
                answer,
            })
            .await
            .map_err(|_| ServiceError::internal("the charting writer has stopped"))?;
        answered
            .await
            .map_err(|_| ServiceError::internal("the charting writer dropped a request"))?
    }
}

async fn group_commit(db: Database, rules: ClinicalRules, mut receiver: mpsc::Receiver<Job>) {
    // A request too large to join the group in hand starts the next one.
    let mut carried: Option<Job> = None;
    loop {
        let first = match carried.take() {
            Some(job) => job,
            None => match receiver.recv().await {
                Some(job) => job,
                None => return,
            },
        };
        let mut sets = first.chartings.len();
        let mut group = vec![first];
        // Whatever queued while the last group was written joins this one; nothing waits for
        // more to arrive.
        while sets < MAX_GROUP_SETS {
            match receiver.try_recv() {
                Ok(job) if sets + job.chartings.len() <= MAX_GROUP_SETS => {
                    sets += job.chartings.len();
                    group.push(job);
                }
                Ok(job) => {
                    carried = Some(job);
                    break;
                }
                Err(_) => break,
            }
        }
        // Each group on a task of its own: a panic while charting one fails only its
        // requests (their answers are dropped, so they get an error), not every later one.
        if let Err(error) = tokio::spawn(chart_group(db.clone(), rules, group)).await {
            tracing::error!(%error, "a charting group panicked");
        }
    }
}

/// Charts a group in one transaction and answers every request of it.
async fn chart_group(db: Database, rules: ClinicalRules, mut group: Vec<Job>) {
    let db = &db;
    loop {
        // A request given up (its client gone, or past the request timeout) is not charted
        // behind its back: that client would retry and chart the sets twice.
        group.retain(|job| !job.answer.is_closed());
        if group.len() <= 1 {
            chart_one_by_one(db, rules, group).await;
            return;
        }
        let txn = match db.begin().await {
            Ok(txn) => txn,
            Err(error) => {
                tracing::error!(%error, "could not start a charting transaction");
                fail_all(group, "could not start a charting transaction");
                return;
            }
        };
        let charted = loop {
            let now = stored_precision(Utc::now());
            let requests = group
                .iter()
                .map(|job| (&job.actor, job.chartings.clone()))
                .collect();
            match chart_requests(&txn, rules, requests, now).await {
                Ok(charted) => break charted,
                // Refused before anything was written: those requests are answered and the
                // rest charted without them, in the same transaction.
                Err(ChartFailure::Refused(refused)) => {
                    let mut refused = refused.into_iter().peekable();
                    let mut kept = Vec::with_capacity(group.len());
                    for (position, job) in group.into_iter().enumerate() {
                        match refused.next_if(|(r, _)| *r == position) {
                            Some((_, items)) => {
                                let _ = job.answer.send(Err(ServiceError::BatchRefused(items)));
                            }
                            None => kept.push(job),
                        }
                    }
                    group = kept;
                    if group.is_empty() {
                        return;
                    }
                }
                Err(ChartFailure::Failed(error)) => {
                    tracing::warn!(
                        %error,
                        "a charting group was rolled back; charting its requests one by one"
                    );
                    drop(txn);
                    chart_one_by_one(db, rules, group).await;
                    return;
                }
            }
        };
        // Given up while the group was charted: undone, and the group charted again without
        // it (rare: the request timeout is far longer than a group).
        if group.iter().any(|job| job.answer.is_closed()) {
            drop(txn);
            continue;
        }
        match txn.commit().await {
            Ok(()) => {
                for (job, sets) in group.into_iter().zip(charted) {
                    let _ = job.answer.send(Ok(sets));
                }
            }
            // Whether a failed commit took effect is unknown, so nothing is charted again.
            Err(error) => {
                tracing::error!(%error, "a charting group failed to commit");
                fail_all(group, "charting failed to commit");
            }
        }
        return;
    }
}

/// Answers every request of a group with an internal error (its cause is logged by the caller).
fn fail_all(group: Vec<Job>, cause: &str) {
    for job in group {
        let _ = job.answer.send(Err(ServiceError::internal(cause)));
    }
}

/// Charts each request in a transaction of its own, skipping those given up.
async fn chart_one_by_one(
    db: &Database,
    rules: ClinicalRules,
    jobs: impl IntoIterator<Item = Job>,
) {
    for job in jobs {
        if job.answer.is_closed() {
            continue;
        }
        let outcome = chart_alone(db, rules, &job.actor, job.chartings).await;
        let _ = job.answer.send(outcome);
    }
}

/// Charts one request in a transaction of its own.
async fn chart_alone(
    db: &Database,
    rules: ClinicalRules,
    actor: &Actor,
    chartings: Vec<Charting>,
) -> Result<Vec<Charted>, ServiceError> {
    let now = stored_precision(Utc::now());
    let txn = db.begin().await?;
    let charted = chart_in(&txn, actor, rules, chartings, now).await?;
    txn.commit().await?;
    Ok(charted)
}
