//! Pagination: bounded page sizes, opaque cursors and offset pages.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub const DEFAULT_LIMIT: u64 = 50;
pub const MAX_LIMIT: u64 = 200;
pub const MAX_OFFSET: u64 = 1_000_000;

/// An opaque position in a keyset-ordered list: the sort key of the last row returned.
///
/// Keyset cursors neither skip nor repeat rows while others are inserted, unlike offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(String);

impl Cursor {
    /// Wraps a sort key; `kind` ties the cursor to its list so it cannot be replayed elsewhere.
    pub fn new(kind: &str, key: &str) -> Self {
        Self(format!("{kind}:{key}"))
    }

    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0.as_bytes())
    }

    /// Decodes a cursor for list `kind`, returning its sort key.
    pub fn decode(kind: &str, encoded: &str) -> Result<String, String> {
        let invalid = || "is not a cursor issued by this list".to_owned();
        if encoded.len() > 256 {
            return Err(invalid());
        }
        let bytes = URL_SAFE_NO_PAD.decode(encoded).map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let key = text
            .strip_prefix(kind)
            .and_then(|rest| rest.strip_prefix(':'))
            .ok_or_else(invalid)?;
        Ok(key.to_owned())
    }
}

/// Where a page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageStart {
    /// After the given sort key (or from the beginning).
    After(Option<String>),
    /// At an offset; such pages also report the total.
    Offset(u64),
}

/// A validated page request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u64,
    pub start: PageStart,
}

impl PageRequest {
    /// Parses `limit`, `offset` and `cursor`; a cursor and an offset together are refused.
    pub fn parse(
        kind: &str,
        limit: Option<u64>,
        offset: Option<u64>,
        cursor: Option<&str>,
    ) -> Result<Self, (&'static str, String)> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(("limit", format!("must be between 1 and {MAX_LIMIT}")));
        }
        let start = match (offset, cursor) {
            (Some(_), Some(_)) => {
                return Err(("cursor", "cannot be combined with offset".to_owned()));
            }
            (Some(offset), None) if offset > MAX_OFFSET => {
                return Err(("offset", format!("must be at most {MAX_OFFSET}")));
            }
            (Some(offset), None) => PageStart::Offset(offset),
            (None, Some(c)) => {
                PageStart::After(Some(Cursor::decode(kind, c).map_err(|m| ("cursor", m))?))
            }
            (None, None) => PageStart::After(None),
        };
        Ok(Self { limit, start })
    }
}

/// One page of results.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Present when more rows follow in cursor mode.
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
    fn cursors_round_trip_and_are_bound_to_their_list() {
        let c = Cursor::new("patients", "0190-abc");
        assert_eq!(Cursor::decode("patients", &c.encode()).unwrap(), "0190-abc");
        assert!(Cursor::decode("users", &c.encode()).is_err());
        assert!(Cursor::decode("patients", "not base64!").is_err());
    }

    #[test]
    fn limits_are_bounded() {
        assert_eq!(
            PageRequest::parse("p", None, None, None).unwrap().limit,
            DEFAULT_LIMIT
        );
        assert!(PageRequest::parse("p", Some(0), None, None).is_err());
        assert!(PageRequest::parse("p", Some(MAX_LIMIT + 1), None, None).is_err());
        assert!(PageRequest::parse("p", Some(10), Some(0), Some("x")).is_err());
        assert_eq!(
            PageRequest::parse("p", Some(10), Some(20), None)
                .unwrap()
                .start,
            PageStart::Offset(20)
        );
    }
}
