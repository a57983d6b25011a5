//! Hypermedia links (`_links`) so the ward frontend can navigate without building URLs.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::API_PREFIX;
use crate::domain::page::Page;

/// A link to a related resource.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Link {
    #[schema(example = "/api/v1/patients/0192f0c1-8c3a-7b7e-9a55-2f1f3f4a5b6c")]
    pub href: String,
}

/// Links by relation name (`self`, `next`, `collection`, ...). Relation names are fixed words,
/// so they are never copied into a `String` per response.
pub type Links = BTreeMap<&'static str, Link>;

pub fn links<const N: usize>(pairs: [(&'static str, String); N]) -> Links {
    pairs
        .into_iter()
        .map(|(rel, href)| (rel, Link { href }))
        .collect()
}

pub fn api(path: &str) -> String {
    format!("{API_PREFIX}{path}")
}

/// `self` and `next` (and `prev` for offset pages) links of a list; `query` is the filter part
/// of the query string, already encoded, without paging parameters.
pub fn page_links<T>(path: &str, query: &str, page: &Page<T>) -> Links {
    let base = api(path);
    let join = |extra: String| {
        let q = [query.to_owned(), extra]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("&");
        if q.is_empty() {
            base.clone()
        } else {
            format!("{base}?{q}")
        }
    };
    let request = &page.request;
    let limit = request.limit;
    let mut this = format!("limit={limit}");
    if let Some(after) = &request.after {
        this.push_str(&format!("&cursor={after}"));
    }
    if let Some(offset) = request.offset {
        this.push_str(&format!("&offset={offset}"));
    }
    let mut out = Links::new();
    out.insert("self", Link { href: join(this) });
    match (request.offset, &request.after) {
        // A plain offset page links onwards by offset, as its reader expects.
        (Some(offset), None) => {
            if page.next_cursor.is_some() {
                out.insert(
                    "next",
                    Link {
                        href: join(format!("limit={limit}&offset={}", offset + limit)),
                    },
                );
            }
            if offset > 0 {
                out.insert(
                    "prev",
                    Link {
                        href: join(format!(
                            "limit={limit}&offset={}",
                            offset.saturating_sub(limit)
                        )),
                    },
                );
            }
        }
        _ => {
            if let Some(cursor) = &page.next_cursor {
                out.insert(
                    "next",
                    Link {
                        href: join(format!("limit={limit}&cursor={}", cursor.encode())),
                    },
                );
            }
        }
    }
    out
}

/// Percent-encodes a query value (RFC 3986 unreserved characters pass through).
pub fn encode(value: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char);
            }
            // Writing to a String cannot fail.
            _ => _ = write!(out, "%{b:02X}"),
        }
    }
    out
}

/// A filter query string from optional `(name, value)` pairs.
pub fn filter_query(pairs: &[(&str, Option<String>)]) -> String {
    pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", encode(v))))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_keeps_unreserved_bytes_and_escapes_the_rest() {
        assert_eq!(encode("ONC-1_a.b~Z9"), "ONC-1_a.b~Z9");
        assert_eq!(encode("ONC 1/ä&x=y"), "ONC%201%2F%C3%A4%26x%3Dy");
        assert_eq!(encode(""), "");
    }

    #[test]
    fn links_keep_the_relation_names_in_order() {
        let l = links([("self", api("/x")), ("collection", api("/xs"))]);
        let json = serde_json::to_string(&l).unwrap();
        assert_eq!(
            json,
            r#"{"collection":{"href":"/api/v1/xs"},"self":{"href":"/api/v1/x"}}"#
        );
    }
}
