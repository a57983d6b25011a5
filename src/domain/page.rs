//! Pagination: bounded page sizes, keyset cursors and offsets.
//!
//! A cursor is the sort key of the last row of a page. Keyset pages neither skip nor repeat rows
//! while others are inserted, unlike offsets. Any well-formed key is a valid position, so a
//! cursor can never be "invalid" once it has the right shape; an offset given with a cursor skips
//! that many rows after the cursor's position.

pub const DEFAULT_LIMIT: u64 = 50;
pub const MAX_LIMIT: u64 = 200;
pub const MAX_OFFSET: u64 = 1_000_000;

/// The position after which the next page starts: the last row's sort key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(String);

impl Cursor {
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    pub fn encode(&self) -> String {
        self.0.clone()
    }
}

/// The shape of a list's sort key, so malformed cursors are refused before any query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyShape {
    /// A UUID written as 32 lowercase hexadecimal digits.
    Uuid,
    /// A positive integer of up to 18 digits.
    Integer,
    /// A time in microseconds since 1970 (up to 18 digits), `-`, and a UUID as 32 hex digits:
    /// the key of lists ordered by a time with the id breaking ties.
    TimeUuid,
}

impl KeyShape {
    pub fn accepts(self, key: &str) -> bool {
        match self {
            KeyShape::Uuid => {
                key.len() == 32 && key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            }
            KeyShape::Integer => {
                (1..=18).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_digit())
            }
            KeyShape::TimeUuid => key
                .split_once('-')
                .is_some_and(|(t, id)| KeyShape::Integer.accepts(t) && KeyShape::Uuid.accepts(id)),
        }
    }

    /// The same rule as a regular expression, for the API documentation.
    pub fn pattern(self) -> &'static str {
        match self {
            KeyShape::Uuid => "^[0-9a-f]{32}$",
            KeyShape::Integer => "^[0-9]{1,18}$",
            KeyShape::TimeUuid => "^[0-9]{1,18}-[0-9a-f]{32}$",
        }
    }
}

/// A validated page request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u64,
    /// Start after this sort key.
    pub after: Option<String>,
    /// Skip this many rows first; such pages also report the total.
    pub offset: Option<u64>,
}

impl PageRequest {
    pub fn parse(
        shape: KeyShape,
        limit: Option<u64>,
        offset: Option<u64>,
        cursor: Option<&str>,
    ) -> Result<Self, (&'static str, String)> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(("limit", format!("must be between 1 and {MAX_LIMIT}")));
        }
        if offset.is_some_and(|o| o > MAX_OFFSET) {
            return Err(("offset", format!("must be at most {MAX_OFFSET}")));
        }
        let after = match cursor {
            Some(c) if !shape.accepts(c) => {
                return Err(("cursor", "is not a cursor issued by this list".to_owned()));
            }
            other => other.map(str::to_owned),
        };
        Ok(Self {
            limit,
            after,
            offset,
        })
    }

    /// Whether this is an offset page (which reports the total).
    pub fn is_offset(&self) -> bool {
        self.offset.is_some()
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Present when more rows follow.
    pub next_cursor: Option<Cursor>,
    /// Present for offset pages.
    pub total: Option<u64>,
    pub request: PageRequest,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
            total: self.total,
            request: self.request,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_shapes() {
        assert!(KeyShape::Uuid.accepts("0190f0c18c3a7b7e9a552f1f3f4a5b6c"));
        assert!(!KeyShape::Uuid.accepts("0190F0C18C3A7B7E9A552F1F3F4A5B6C"));
        assert!(!KeyShape::Uuid.accepts("0190f0c1-8c3a-7b7e-9a55-2f1f3f4a5b6c"));
        assert!(KeyShape::Integer.accepts("42"));
        assert!(!KeyShape::Integer.accepts("-1"));
        assert!(!KeyShape::Integer.accepts(&"9".repeat(19)));
        assert!(KeyShape::TimeUuid.accepts("1764000000000000-0190f0c18c3a7b7e9a552f1f3f4a5b6c"));
        assert!(!KeyShape::TimeUuid.accepts("-0190f0c18c3a7b7e9a552f1f3f4a5b6c"));
        assert!(!KeyShape::TimeUuid.accepts("1764000000000000"));
    }

    #[test]
    fn limits_are_bounded_and_cursors_checked() {
        let p = PageRequest::parse(KeyShape::Uuid, None, None, None).unwrap();
        assert_eq!((p.limit, p.after, p.offset), (DEFAULT_LIMIT, None, None));
        assert!(PageRequest::parse(KeyShape::Uuid, Some(0), None, None).is_err());
        assert!(PageRequest::parse(KeyShape::Uuid, Some(MAX_LIMIT + 1), None, None).is_err());
        assert!(PageRequest::parse(KeyShape::Uuid, None, Some(MAX_OFFSET + 1), None).is_err());
        assert_eq!(
            PageRequest::parse(KeyShape::Integer, None, None, Some("x"))
                .unwrap_err()
                .0,
            "cursor"
        );
        let both = PageRequest::parse(KeyShape::Integer, Some(5), Some(2), Some("10")).unwrap();
        assert_eq!((both.after.as_deref(), both.offset), (Some("10"), Some(2)));
        assert!(both.is_offset());
    }
}
