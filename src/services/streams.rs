//! Live streams: a patient's Holter trend points (a window replayed, then followed) and a ward's
//! newly charted vital signs and alerts. Both follow the change feed in the database, so a change
//! committed through any server replica reaches every follower, and nothing is kept in memory
//! beyond one stream's own place in the feed.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::ServiceError;
use super::access::{Actor, Permit, ReadAlerts, ReadEcgs, ReadVitalSigns};
use super::audit::AuditLog;
use super::ecg_trends::{TrendReading, readings, window_points};
use crate::domain::alert::Alert;
use crate::domain::audit::{AuditAction, AuditOutcome, NewAuditEvent, ResourceType};
use crate::domain::observation::VitalSignsRecord;
use crate::domain::stream::{StreamTopic, TrendStreamRequest};
use crate::persistence::Database;
use crate::persistence::alerts::AlertRepository;
use crate::persistence::ecg_trends::TrendFilter;
use crate::persistence::stream_events::{FeedCursor, FeedFilter, StreamEventRepository};
use crate::persistence::vital_signs::VitalSignsRepository;

/// The most feed events one poll takes; a follower that is further behind catches up over the
/// next polls rather than in one large read.
const FEED_PAGE: u64 = 500;

/// How long the change feed keeps an event: a follower reconnects long before, and replays
/// come from the records themselves, not from the feed.
const FEED_RETENTION: chrono::Duration = chrono::Duration::hours(24);

#[derive(Clone)]
pub struct StreamService {
    db: Database,
    audit: AuditLog,
}

impl StreamService {
    pub fn new(db: Database, audit: AuditLog) -> Self {
        Self { db, audit }
    }

    /// Deletes change-feed events past their retention now and then. Any replica may do it: a
    /// delete by age is the same whoever runs it.
    pub fn spawn_pruner(&self, every: std::time::Duration) {
        let db = self.db.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let before = Utc::now() - FEED_RETENTION;
                if let Err(error) = StreamEventRepository::prune(db.writer(), before).await {
                    tracing::warn!(%error, "pruning the change feed failed; retrying later");
                }
            }
        });
    }

    /// Starts a trend stream: the window's points in time order (smoothed per trend when asked),
    /// and the follower that yields points stored later. The follower's place in the feed is
    /// taken before the window is read, so a point committed meanwhile is seen twice at worst
    /// (and sent once), never missed.
    pub async fn open_trends(
        &self,
        permit: Permit<ReadEcgs>,
        request: TrendStreamRequest,
    ) -> Result<(Vec<TrendReading>, TrendFollower), ServiceError> {
        let cursor = StreamEventRepository::head(self.db.reader()).await?;
        let mut follower = TrendFollower {
            db: self.db.clone(),
            audit: self.audit.clone(),
            permit,
            request,
            cursor,
            sent: HashSet::new(),
        };
        let replay = follower.unsent().await?;
        Ok((replay, follower))
    }

    /// Starts following a ward: vital signs charted and alerts raised or moved on from now on,
    /// for the patients on the ward at the time of each change.
    pub async fn follow_ward(
        &self,
        vital_signs: Permit<ReadVitalSigns>,
        alerts: Permit<ReadAlerts>,
        ward: String,
    ) -> Result<WardFollower, ServiceError> {
        let cursor = StreamEventRepository::head(self.db.reader()).await?;
        Ok(WardFollower {
            db: self.db.clone(),
            audit: self.audit.clone(),
            permits: (vital_signs, alerts),
            filter: FeedFilter::Ward {
                topics: vec![StreamTopic::VitalSigns, StreamTopic::Alerts],
                ward,
            },
            cursor,
        })
    }
}

/// A trend stream after its replay: yields the points stored since, once each.
pub struct TrendFollower {
    db: Database,
    audit: AuditLog,
    permit: Permit<ReadEcgs>,
    request: TrendStreamRequest,
    cursor: FeedCursor,
    /// The points already sent, by trend and instant (bounded by the window's size).
    sent: HashSet<(String, DateTime<Utc>)>,
}

impl TrendFollower {
    /// When the stream must end: its access token expires.
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.permit.actor().token_expires_at
    }

    /// Points of the window stored since the last call, in time order. Reads the window again
    /// only when the feed says an upload for this patient committed.
    pub async fn poll(&mut self) -> Result<Vec<TrendReading>, ServiceError> {
        let filter = FeedFilter::Patient {
            topics: vec![StreamTopic::EcgTrends],
            patient_id: self.request.patient_id,
        };
        let mut changed = false;
        loop {
            let (events, next) =
                StreamEventRepository::after(self.db.reader(), self.cursor, &filter, FEED_PAGE)
                    .await?;
            self.cursor = next;
            changed |= !events.is_empty();
            if (events.len() as u64) < FEED_PAGE {
                break;
            }
        }
        if !changed {
            return Ok(Vec::new());
        }
        self.unsent().await
    }

    /// The window's points not sent yet, smoothed over the whole window, in time order. Every
    /// read of the window is audited.
    async fn unsent(&mut self) -> Result<Vec<TrendReading>, ServiceError> {
        let r = &self.request;
        let filter = TrendFilter {
            trend_types: r.trend_types.clone(),
            from: Some(r.start),
            to: Some(r.end),
        };
        let points = window_points(&self.db, r.patient_id, &filter).await?;
        let mut fresh: Vec<TrendReading> = readings(points, r.smoothing)
            .into_iter()
            .filter(|p| self.sent.insert((p.point.trend_type.clone(), p.point.at)))
            .collect();
        fresh.sort_by(|a, b| {
            (a.point.at, &a.point.trend_type).cmp(&(b.point.at, &b.point.trend_type))
        });
        self.audit
            .record(self.permit.actor().event(
                AuditAction::Read,
                ResourceType::Ecg,
                Some(r.patient_id.to_string()),
                AuditOutcome::Success,
            ))
            .await?;
        Ok(fresh)
    }
}

/// A change on a ward, as a follower receives it.
#[derive(Debug, Clone)]
pub enum WardChange {
    VitalSigns(Box<VitalSignsRecord>),
    Alert(Alert),
}

/// A ward stream: yields vital signs and alerts as they commit.
pub struct WardFollower {
    db: Database,
    audit: AuditLog,
    /// Reading both is what a ward stream shows; the first names the actor.
    permits: (Permit<ReadVitalSigns>, Permit<ReadAlerts>),
    filter: FeedFilter,
    cursor: FeedCursor,
}

impl WardFollower {
    /// When the stream must end: its access token expires.
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.actor().token_expires_at
    }

    fn actor(&self) -> &Actor {
        self.permits.0.actor()
    }

    /// The ward's changes since the last call, in commit order (at most one feed page; call
    /// again while it returns a full page). Each record is read as it is now, and each read is
    /// audited.
    pub async fn poll(&mut self) -> Result<Vec<WardChange>, ServiceError> {
        let (events, next) =
            StreamEventRepository::after(self.db.reader(), self.cursor, &self.filter, FEED_PAGE)
                .await?;
        self.cursor = next;
        // Two queries for the whole page, then the changes in the feed's order.
        let ids_of = |topic| -> Vec<Uuid> {
            events
                .iter()
                .filter(|e| e.topic == topic)
                .filter_map(|e| e.resource_id)
                .collect()
        };
        let mut sets: HashMap<Uuid, VitalSignsRecord> =
            VitalSignsRepository::find_many(self.db.reader(), &ids_of(StreamTopic::VitalSigns))
                .await?
                .into_iter()
                .map(|r| (r.id, r))
                .collect();
        let alerts: HashMap<Uuid, Alert> =
            AlertRepository::find_many(self.db.reader(), &ids_of(StreamTopic::Alerts))
                .await?
                .into_iter()
                .map(|a| (a.id, a))
                .collect();
        let mut changes = Vec::with_capacity(events.len());
        let mut audit: Vec<NewAuditEvent> = Vec::with_capacity(events.len());
        for event in events {
            let Some(id) = event.resource_id else {
                continue;
            };
            let read = |resource_type| {
                self.actor().event(
                    AuditAction::Read,
                    resource_type,
                    Some(id.to_string()),
                    AuditOutcome::Success,
                )
            };
            match event.topic {
                // Charted, then maybe corrected: within one page, sent once, as it is now.
                StreamTopic::VitalSigns => {
                    if let Some(r) = sets.remove(&id) {
                        audit.push(read(ResourceType::VitalSigns));
                        changes.push(WardChange::VitalSigns(Box::new(r)));
                    }
                }
                // An alert changes several times: each change shows it as it is now.
                StreamTopic::Alerts => {
                    if let Some(a) = alerts.get(&id) {
                        audit.push(read(ResourceType::Alert));
                        changes.push(WardChange::Alert(a.clone()));
                    }
                }
                StreamTopic::EcgTrends => {}
            }
        }
        if !audit.is_empty() {
            self.audit.record_all(audit).await?;
        }
        Ok(changes)
    }
}
