//! Patient notifications: which channel reaches the patient, what the message says (that a
//! result is ready, never what it is), and when a failed delivery is tried again.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::patient::{Patient, PreferredContact, closed_set};

closed_set!(
    /// How a notification reaches the patient.
    Channel { Sms => "sms", Email => "email", Manual => "manual" }
);

closed_set!(
    /// Where a notification's delivery stands.
    NotificationStatus {
        Pending => "pending",
        Sent => "sent",
        Failed => "failed",
        ManualContactRequired => "manual_contact_required",
    }
);

closed_set!(
    /// What the patient is told.
    NotificationKind { ResultReady => "result_ready" }
);

impl NotificationKind {
    /// The text sent: deliberately without clinical detail, since SMS and e-mail are not a
    /// confidential channel.
    pub fn message(self) -> &'static str {
        match self {
            NotificationKind::ResultReady => {
                "A result of one of your exams is ready. Please contact the ward for details."
            }
        }
    }
}

/// The channel and address a notification goes to, from the patient's contacts: the preferred
/// one if it exists, else the other available one; `None` when the ward must call in person.
pub fn choose_channel(patient: &Patient) -> Option<(Channel, String)> {
    let sms = patient
        .phone
        .as_ref()
        .map(|p| (Channel::Sms, p.as_str().to_owned()));
    let email = patient
        .email
        .as_ref()
        .map(|e| (Channel::Email, e.as_str().to_owned()));
    match patient.preferred_contact {
        PreferredContact::Sms => sms.or(email),
        PreferredContact::Email => email.or(sms),
        PreferredContact::None => sms.or(email),
    }
}

/// A notification as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub exam_id: Option<Uuid>,
    pub kind: NotificationKind,
    pub channel: Channel,
    pub recipient: Option<String>,
    pub status: NotificationStatus,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl Notification {
    /// A notification to `patient`, due at once; `manual_contact_required` when no contact
    /// exists.
    pub fn new(
        patient: &Patient,
        exam_id: Option<Uuid>,
        kind: NotificationKind,
        now: DateTime<Utc>,
    ) -> Self {
        let (channel, recipient, status) = match choose_channel(patient) {
            Some((channel, to)) => (channel, Some(to), NotificationStatus::Pending),
            None => (
                Channel::Manual,
                None,
                NotificationStatus::ManualContactRequired,
            ),
        };
        Self {
            id: Uuid::now_v7(),
            patient_id: patient.id,
            exam_id,
            kind,
            channel,
            recipient,
            status,
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            created_at: now,
            updated_at: now,
            sent_at: None,
        }
    }
}

/// When failed deliveries are tried again: after `base`, doubling each time up to `cap`, and
/// given up after `max_attempts` attempts in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub base: Duration,
    pub cap: Duration,
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(2),
            cap: Duration::from_secs(600),
            max_attempts: 8,
        }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    RetryAt(DateTime<Utc>),
    GiveUp,
}

impl RetryPolicy {
    /// The wait before attempt `failed + 1`, after `failed` failures (from 1).
    pub fn delay(&self, failed: u32) -> Duration {
        let doublings = failed.saturating_sub(1).min(31);
        self.base.saturating_mul(1 << doublings).min(self.cap)
    }

    pub fn after_failure(&self, failed: u32, now: DateTime<Utc>) -> AfterFailure {
        if failed >= self.max_attempts {
            return AfterFailure::GiveUp;
        }
        let wait = chrono::Duration::from_std(self.delay(failed)).unwrap_or(chrono::Duration::MAX);
        AfterFailure::RetryAt(now + wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::patient::{Email, Phone};

    fn patient(preferred: PreferredContact, phone: Option<&str>, email: Option<&str>) -> Patient {
        let mut p = crate::domain::patient::tests_support::patient();
        p.preferred_contact = preferred;
        p.phone = phone.map(|v| Phone::parse(v).unwrap());
        p.email = email.map(|v| Email::parse(v).unwrap());
        p
    }

    #[test]
    fn the_preferred_contact_wins_when_it_exists() {
        use PreferredContact as P;
        let phone = Some("+447700900123");
        let email = Some("ada@example.org");
        let cases = [
            (P::Sms, phone, email, Some(Channel::Sms)),
            (P::Email, phone, email, Some(Channel::Email)),
            (P::Email, phone, None, Some(Channel::Sms)),
            (P::Sms, None, email, Some(Channel::Email)),
            (P::None, None, email, Some(Channel::Email)),
            (P::None, phone, email, Some(Channel::Sms)),
            (P::Sms, None, None, None),
            (P::None, None, None, None),
        ];
        for (preferred, phone, email, expected) in cases {
            let chosen = choose_channel(&patient(preferred, phone, email));
            assert_eq!(
                chosen.as_ref().map(|(c, _)| *c),
                expected,
                "{preferred} {phone:?} {email:?}"
            );
        }
        let (_, to) = choose_channel(&patient(P::Email, phone, email)).unwrap();
        assert_eq!(to, "ada@example.org");
    }

    #[test]
    fn without_contacts_the_ward_must_call() {
        let p = patient(PreferredContact::Sms, None, None);
        let n = Notification::new(&p, None, NotificationKind::ResultReady, Utc::now());
        assert_eq!(n.status, NotificationStatus::ManualContactRequired);
        assert_eq!((n.channel, n.recipient), (Channel::Manual, None));
    }

    #[test]
    fn retries_back_off_exponentially_up_to_a_cap_then_give_up() {
        let policy = RetryPolicy::default();
        let secs: Vec<u64> = (1..=9).map(|n| policy.delay(n).as_secs()).collect();
        assert_eq!(secs, [2, 4, 8, 16, 32, 64, 128, 256, 512]);
        assert_eq!(policy.delay(40), Duration::from_secs(600));
        let now = Utc::now();
        assert_eq!(
            policy.after_failure(1, now),
            AfterFailure::RetryAt(now + chrono::Duration::seconds(2))
        );
        assert_eq!(policy.after_failure(8, now), AfterFailure::GiveUp);
    }

    #[test]
    fn messages_carry_no_clinical_detail() {
        let text = NotificationKind::ResultReady.message().to_lowercase();
        for word in ["neutro", "cancer", "anc", "critical", "abnormal"] {
            assert!(!text.contains(word), "{word}");
        }
    }
}
