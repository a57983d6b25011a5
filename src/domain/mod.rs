//! Domain layer: the ward's concepts and rules as plain Rust, with no web, ORM or database types.
//!
//! Values here are built through parsing constructors, so a value that exists is valid.

pub mod alert;
pub mod audit;
pub mod ecg;
pub mod exam;
pub mod holter;
pub mod lab;
pub mod news2;
pub mod notification;
pub mod observation;
pub mod page;
pub mod patient;
pub mod permission;
pub mod results_inbox;
pub mod stream;
pub mod throttle;
pub mod user;
pub mod vitals;
pub mod ward;

use std::fmt;

/// One rejected input field: which field and why, in words a clinician or integrator understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Every field error of one input, collected so the caller sees all problems at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    /// Records the error of a parse under `field`, returning the value when it parsed.
    pub fn check<T>(&mut self, field: &str, parsed: Result<T, String>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(message) => {
                self.push(field, message);
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn extend(&mut self, other: FieldErrors) {
        self.0.extend(other.0);
    }

    /// Prefixes every field name, e.g. `operations[2].` for an item of a batch.
    pub fn prefixed(self, prefix: &str) -> Self {
        Self(
            self.0
                .into_iter()
                .map(|e| FieldError::new(format!("{prefix}{}", e.field), e.message))
                .collect(),
        )
    }

    pub fn into_result<T>(self, value: impl FnOnce() -> T) -> Result<T, FieldErrors> {
        if self.is_empty() {
            Ok(value())
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join("; "))
    }
}

impl std::error::Error for FieldErrors {}

/// Trims a free-text value and checks its length in characters (not bytes). Control characters
/// are refused anywhere, also where trimming would drop them (tab, NEL), as the API documents.
pub fn bounded_text(value: &str, min: usize, max: usize) -> Result<String, String> {
    if value.chars().any(char::is_control) {
        return Err("must not contain control characters".to_owned());
    }
    let trimmed = value.trim();
    let len = trimmed.chars().count();
    if len < min {
        return Err(if min == 1 {
            "must not be empty".to_owned()
        } else {
            format!("must be at least {min} characters")
        });
    }
    if len > max {
        return Err(format!("must be at most {max} characters"));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_text_trims_and_counts_characters() {
        assert_eq!(bounded_text("  Zoë  ", 1, 3).unwrap(), "Zoë");
        assert!(bounded_text("   ", 1, 3).is_err());
        assert!(bounded_text("abcd", 1, 3).is_err());
        assert!(bounded_text("a\u{0007}b", 1, 3).is_err());
        assert!(bounded_text("\u{0085}ab", 1, 3).is_err());
        assert!(bounded_text("ab\t", 1, 3).is_err());
    }

    #[test]
    fn field_errors_collect_and_prefix() {
        let mut errors = FieldErrors::default();
        assert_eq!(errors.check("a", Ok::<_, String>(1)), Some(1));
        assert_eq!(errors.check::<i32>("b", Err("bad".into())), None);
        let errors = errors.prefixed("items[0].");
        assert_eq!(errors.0, vec![FieldError::new("items[0].b", "bad")]);
    }
}
