//! Page sizes and opaque cursors for list endpoints.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use pim_api::Page;

use crate::error::ApiError;

/// Default page size.
pub const DEFAULT_LIMIT: u32 = 100;
/// Largest page size.
pub const MAX_LIMIT: u32 = 1000;

/// Checks `limit` (1-1000, default 100).
pub fn limit(l: Option<u32>) -> Result<i64, ApiError> {
    match l.unwrap_or(DEFAULT_LIMIT) {
        n @ 1..=MAX_LIMIT => Ok(i64::from(n)),
        n => Err(ApiError::bad_request(format!("limit must be between 1 and {MAX_LIMIT}, not {n}"))),
    }
}

/// Decodes a cursor into the key it carries.
pub fn decode<T: std::str::FromStr>(cursor: Option<&str>) -> Result<Option<T>, ApiError> {
    let Some(c) = cursor else { return Ok(None) };
    let bad = || ApiError::bad_request("the cursor is not one this server issued");
    let bytes = URL_SAFE_NO_PAD.decode(c).map_err(|_| bad())?;
    let s = String::from_utf8(bytes).map_err(|_| bad())?;
    if s.chars().any(char::is_control) {
        return Err(bad());
    }
    s.parse().map(Some).map_err(|_| bad())
}

/// Encodes a key as an opaque cursor.
pub fn encode(key: impl std::fmt::Display) -> String {
    URL_SAFE_NO_PAD.encode(key.to_string())
}

/// A page whose next cursor is the key of its last item when it is full.
pub fn page<T, K: std::fmt::Display>(items: Vec<T>, limit: i64, key: impl Fn(&T) -> K) -> Page<T> {
    let next = if items.len() as i64 >= limit { items.last().map(|i| encode(key(i))) } else { None };
    Page::new(items, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = encode(42);
        assert_eq!(decode::<i64>(Some(&c)).ok().flatten(), Some(42));
        assert!(decode::<i64>(Some("!!")).is_err());
        assert!(decode::<i64>(Some(&encode("x"))).is_err());
        assert!(decode::<String>(Some("AA")).is_err(), "a NUL byte is no key");
        assert!(limit(Some(0)).is_err());
        assert!(limit(Some(1001)).is_err());
        assert_eq!(limit(None).ok(), Some(100));
    }

    #[test]
    fn full_pages_carry_a_cursor() {
        assert!(page(vec![1, 2], 2, |i| *i).next_cursor.is_some());
        assert!(page(vec![1], 2, |i| *i).next_cursor.is_none());
    }
}
