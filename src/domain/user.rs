//! Staff accounts: roles, usernames and the password policy. Hashing itself lives in the services.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{FieldErrors, bounded_text};

/// What a member of staff is on the ward; decides what they may do (see `permission`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Manages accounts and reads the audit log; never sees patient data.
    Admin,
    Physician,
    Nurse,
    /// Performs exams.
    Technician,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Physician, Role::Nurse, Role::Technician];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Physician => "physician",
            Role::Nurse => "nurse",
            Role::Technician => "technician",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| "must be one of admin, physician, nurse, technician".to_owned())
    }
}

/// A login name: 3-64 characters of lowercase letters, digits, `.`, `_` and `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    pub fn parse(value: &str) -> Result<Self, String> {
        let len = value.chars().count();
        if !(3..=64).contains(&len) {
            return Err("must be 3 to 64 characters".to_owned());
        }
        if !value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
        {
            return Err("may contain only lowercase letters, digits, '.', '_' and '-'".to_owned());
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A staff member's display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullName(String);

impl FullName {
    pub fn parse(value: &str) -> Result<Self, String> {
        bounded_text(value, 1, 128).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password that satisfies the policy (12-128 characters). Never logged: Debug is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 12;
    pub const MAX_CHARS: usize = 128;

    pub fn parse(value: &str) -> Result<Self, String> {
        let len = value.chars().count();
        if len < Self::MIN_CHARS {
            return Err(format!("must be at least {} characters", Self::MIN_CHARS));
        }
        if len > Self::MAX_CHARS {
            return Err(format!("must be at most {} characters", Self::MAX_CHARS));
        }
        if value.trim().is_empty() {
            return Err("must not be only whitespace".to_owned());
        }
        Ok(Self(value.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A stored account.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: Uuid,
    pub username: Username,
    pub full_name: FullName,
    pub role: Role,
    pub active: bool,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A validated request to open an account.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: Username,
    pub full_name: FullName,
    pub role: Role,
    pub password: Password,
}

impl NewUser {
    pub fn parse(
        username: &str,
        full_name: &str,
        role: &str,
        password: &str,
    ) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::default();
        let username = errors.check("username", Username::parse(username));
        let full_name = errors.check("full_name", FullName::parse(full_name));
        let role = errors.check("role", role.parse::<Role>());
        let password = errors.check("password", Password::parse(password));
        match (username, full_name, role, password) {
            (Some(username), Some(full_name), Some(role), Some(password)) if errors.is_empty() => {
                Ok(Self {
                    username,
                    full_name,
                    role,
                    password,
                })
            }
            _ => Err(errors),
        }
    }
}

/// A validated change to an account; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    pub full_name: Option<FullName>,
    pub role: Option<Role>,
    pub password: Option<Password>,
    pub active: Option<bool>,
}

impl UserChanges {
    pub fn is_empty(&self) -> bool {
        self.full_name.is_none()
            && self.role.is_none()
            && self.password.is_none()
            && self.active.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert!("superuser".parse::<Role>().is_err());
        assert!("Admin".parse::<Role>().is_err());
    }

    #[test]
    fn usernames_are_lowercase_and_bounded() {
        assert!(Username::parse("n.nightingale").is_ok());
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse("Nurse").is_err());
        assert!(Username::parse("nurse one").is_err());
        assert!(Username::parse(&"a".repeat(65)).is_err());
    }

    #[test]
    fn password_policy_is_12_to_128_characters() {
        assert!(Password::parse("short-pass1").is_err());
        assert!(Password::parse("long-enough-1").is_ok());
        assert!(Password::parse(&"x".repeat(128)).is_ok());
        assert!(Password::parse(&"x".repeat(129)).is_err());
        assert!(Password::parse("            ").is_err());
        // Counted in characters, so a passphrase in any script is judged fairly.
        assert!(Password::parse("ééééééééééé").is_err());
        assert!(Password::parse("éééééééééééé").is_ok());
    }

    #[test]
    fn password_debug_never_shows_the_secret() {
        let p = Password::parse("correct horse battery").unwrap();
        assert!(!format!("{p:?}").contains("horse"));
    }

    #[test]
    fn new_user_reports_every_bad_field() {
        let err = NewUser::parse("X", "", "king", "short").unwrap_err();
        let fields: Vec<_> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["username", "full_name", "role", "password"]);
    }
}
