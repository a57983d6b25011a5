//! Audit events: who did what to which record, when, and with what outcome. Append-only.
//!
//! Events never carry clinical values or secrets: only identifiers and the kind of action.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::user::Role;

macro_rules! names {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!("must be one of {}", [$($text),+].join(", "))),
                }
            }
        }
    };
}

names!(
    /// What was done.
    AuditAction {
        Create => "create",
        Read => "read",
        List => "list",
        Update => "update",
        Delete => "delete",
        Login => "login",
        Refresh => "refresh",
        Logout => "logout",
        RefreshTokenReuse => "refresh_token_reuse",
        Authorize => "authorize",
    }
);

names!(
    /// How it ended.
    AuditOutcome {
        Success => "success",
        Denied => "denied",
        Failure => "failure",
    }
);

names!(
    /// What kind of record it concerned.
    ResourceType {
        Patient => "patient",
        User => "user",
        Session => "session",
        AuditLog => "audit_log",
        VitalSigns => "vital_signs",
        LabResult => "lab_result",
        Alert => "alert",
        Ward => "ward",
        Ecg => "ecg",
        ExamType => "exam_type",
        Exam => "exam",
        Notification => "notification",
    }
);

/// An event to append.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEvent {
    pub occurred_at: DateTime<Utc>,
    pub actor_id: Option<Uuid>,
    /// The username, or the one attempted for a failed login.
    pub actor_username: Option<String>,
    pub actor_role: Option<Role>,
    pub action: AuditAction,
    pub resource_type: ResourceType,
    pub resource_id: Option<String>,
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
    pub outcome: AuditOutcome,
    /// A short reason, never clinical data.
    pub reason: Option<String>,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub id: i64,
    pub event: NewAuditEvent,
}

/// Filters for reading the log.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor_id: Option<Uuid>,
    pub action: Option<AuditAction>,
    pub resource_type: Option<ResourceType>,
    pub resource_id: Option<String>,
    pub outcome: Option<AuditOutcome>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for a in [
            "create", "read", "list", "update", "delete", "login", "refresh", "logout",
        ] {
            assert_eq!(a.parse::<AuditAction>().unwrap().as_str(), a);
        }
        assert!("drop".parse::<AuditAction>().is_err());
        assert_eq!(
            "denied".parse::<AuditOutcome>().unwrap(),
            AuditOutcome::Denied
        );
    }
}
