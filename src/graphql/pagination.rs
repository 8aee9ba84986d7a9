//! Relay connections over keyset cursors. Cursors are opaque to clients: base64 of
//! `v1:<created_at micros>:<id>`, or `r1:<rank>:<created_at micros>:<id>` in a list
//! ordered by relevance, the rank being the bits of the `real` PostgreSQL computed, in
//! hex (exact both ways, where a decimal could round).

use async_graphql::SimpleObject;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::DateTime;
use uuid::Uuid;

use crate::error::{Error, Result};
use imagegraph_db::page::{Cursor, Direction, Page, PageRequest, Rank};

pub struct Limits {
    pub default: i32,
    pub max: i32,
}

pub const IMAGES: Limits = Limits {
    default: 10,
    max: 30,
};
pub const COMMENTS: Limits = Limits {
    default: 20,
    max: 80,
};

pub fn encode_cursor(cursor: Cursor) -> String {
    let micros = cursor.created_at.timestamp_micros();
    URL_SAFE_NO_PAD.encode(match cursor.rank {
        None => format!("v1:{micros}:{}", cursor.id),
        Some(rank) => format!("r1:{:08x}:{micros}:{}", rank.0.to_bits(), cursor.id),
    })
}

pub fn decode_cursor(text: &str) -> Result<Cursor> {
    let invalid = || {
        Error::bad_input(format!(
            "`{}` is not a valid cursor",
            text.chars().take(64).collect::<String>()
        ))
    };
    let raw = URL_SAFE_NO_PAD.decode(text).map_err(|_| invalid())?;
    let raw = std::str::from_utf8(&raw).map_err(|_| invalid())?;
    let (rank, rest) = if let Some(rest) = raw.strip_prefix("v1:") {
        (None, rest)
    } else if let Some(rest) = raw.strip_prefix("r1:") {
        let (bits, rest) = rest.split_once(':').ok_or_else(invalid)?;
        if bits.len() != 8 {
            return Err(invalid());
        }
        let rank = f32::from_bits(u32::from_str_radix(bits, 16).map_err(|_| invalid())?);
        // PostgreSQL's ranks are finite and never negative.
        if !rank.is_finite() || rank.is_sign_negative() {
            return Err(invalid());
        }
        (Some(Rank(rank)), rest)
    } else {
        return Err(invalid());
    };
    let (micros, id) = rest.split_once(':').ok_or_else(invalid)?;
    let micros: i64 = micros.parse().map_err(|_| invalid())?;
    let created_at = DateTime::from_timestamp_micros(micros).ok_or_else(invalid)?;
    let id = Uuid::parse_str(id).map_err(|_| invalid())?;
    Ok(Cursor {
        created_at,
        id,
        rank,
    })
}

/// Which cursors a list takes: ranked ones only where it is ordered by relevance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ordering {
    Newest,
    Relevance,
}

/// Turns Relay arguments into a page request: `first`/`after` walks from the newest,
/// `last`/`before` from the oldest; asking for more than the maximum is an error.
pub fn page_request(
    first: Option<i32>,
    after: Option<&str>,
    last: Option<i32>,
    before: Option<&str>,
    limits: &Limits,
) -> Result<PageRequest> {
    ordered_page_request(first, after, last, before, limits, Ordering::Newest)
}

/// `page_request` for a list in `ordering`: a cursor made for the other ordering is
/// refused (its key would mean nothing here).
pub fn ordered_page_request(
    first: Option<i32>,
    after: Option<&str>,
    last: Option<i32>,
    before: Option<&str>,
    limits: &Limits,
    ordering: Ordering,
) -> Result<PageRequest> {
    let check = |name: &str, n: i32| {
        if n < 0 || n > limits.max {
            Err(Error::bad_input(format!(
                "`{name}` must be between 0 and {}; got {n}",
                limits.max
            )))
        } else {
            Ok(i64::from(n))
        }
    };
    let forward = first.is_some() || after.is_some();
    let backward = last.is_some() || before.is_some();
    if forward && backward {
        return Err(Error::bad_input(
            "`first`/`after` cannot be combined with `last`/`before`",
        ));
    }
    let (direction, count, cursor) = if backward {
        (
            Direction::Backward,
            last.map(|n| check("last", n)).transpose()?,
            before,
        )
    } else {
        (
            Direction::Forward,
            first.map(|n| check("first", n)).transpose()?,
            after,
        )
    };
    let cursor = cursor.map(decode_cursor).transpose()?;
    if let Some(cursor) = &cursor {
        match (ordering, cursor.rank) {
            (Ordering::Newest, None) | (Ordering::Relevance, Some(_)) => {}
            (Ordering::Newest, Some(_)) => {
                return Err(Error::bad_input(
                    "this cursor comes from a list ordered by RELEVANCE; this list is ordered by NEWEST",
                ));
            }
            (Ordering::Relevance, None) => {
                return Err(Error::bad_input(
                    "this cursor comes from a list ordered by NEWEST; this list is ordered by RELEVANCE",
                ));
            }
        }
    }
    Ok(PageRequest {
        direction,
        limit: count.unwrap_or(i64::from(limits.default)),
        cursor,
    })
}

#[derive(SimpleObject, Clone, Debug)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
}

/// A page's `PageInfo` with its cursors still keys: encoded only if `pageInfo` is asked
/// for, which nested pages (comments under each image) seldom are.
#[derive(Clone, Copy, Debug)]
pub struct PageBounds {
    has_next_page: bool,
    has_previous_page: bool,
    first: Option<Cursor>,
    last: Option<Cursor>,
}

impl PageBounds {
    /// Walking forward past a cursor means rows lie before it, and the same backward;
    /// the other side comes from fetching one row more than asked.
    pub fn new<T>(page: &Page<T>, req: &PageRequest, key: impl Fn(&T) -> Cursor) -> Self {
        let (has_next_page, has_previous_page) = match req.direction {
            Direction::Forward => (page.has_more, req.cursor.is_some()),
            Direction::Backward => (req.cursor.is_some(), page.has_more),
        };
        Self {
            has_next_page,
            has_previous_page,
            first: page.items.first().map(&key),
            last: page.items.last().map(&key),
        }
    }

    pub fn info(&self) -> PageInfo {
        PageInfo {
            has_next_page: self.has_next_page,
            has_previous_page: self.has_previous_page,
            start_cursor: self.first.map(encode_cursor),
            end_cursor: self.last.map(encode_cursor),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_bad_input() {
        let cursor = Cursor {
            created_at: DateTime::from_timestamp_micros(1_763_000_000_123_456).unwrap(),
            id: Uuid::now_v7(),
            rank: None,
        };
        assert_eq!(decode_cursor(&encode_cursor(cursor)).unwrap(), cursor);
        // Ranks come back bit for bit, however many digits a decimal would need.
        for rank in [0.0f32, 0.1, 1.0 / 3.0, f32::MIN_POSITIVE, 1e-45, 123_456.79] {
            let ranked = Cursor {
                rank: Some(Rank(rank)),
                ..cursor
            };
            let back = decode_cursor(&encode_cursor(ranked)).unwrap();
            assert_eq!(back, ranked);
            assert_eq!(back.rank.unwrap().0.to_bits(), rank.to_bits());
        }
        for bad in [
            "",
            "!!!",
            "djE6eDp5",
            &URL_SAFE_NO_PAD.encode("v2:1:00000000-0000-0000-0000-000000000000"),
            &URL_SAFE_NO_PAD.encode("r1:7fc00000:1:00000000-0000-0000-0000-000000000000"),
            &URL_SAFE_NO_PAD.encode("r1:bf800000:1:00000000-0000-0000-0000-000000000000"),
            &URL_SAFE_NO_PAD.encode("r1:7f800000:1:00000000-0000-0000-0000-000000000000"),
            &URL_SAFE_NO_PAD.encode("r1:3f80:1:00000000-0000-0000-0000-000000000000"),
            &URL_SAFE_NO_PAD.encode("r1:1:00000000-0000-0000-0000-000000000000"),
        ] {
            assert_eq!(
                decode_cursor(bad).unwrap_err().code(),
                crate::error::ErrorCode::BadUserInput,
                "{bad}"
            );
        }
    }

    #[test]
    fn page_arguments_are_checked() {
        let req = page_request(None, None, None, None, &IMAGES).unwrap();
        assert_eq!((req.direction, req.limit), (Direction::Forward, 10));
        let req = page_request(None, None, Some(5), None, &IMAGES).unwrap();
        assert_eq!((req.direction, req.limit), (Direction::Backward, 5));
        assert_eq!(
            page_request(Some(30), None, None, None, &IMAGES)
                .unwrap()
                .limit,
            30
        );
        for (first, last) in [
            (Some(31), None),
            (Some(-1), None),
            (None, Some(31)),
            (Some(1), Some(1)),
        ] {
            assert_eq!(
                page_request(first, None, last, None, &IMAGES)
                    .unwrap_err()
                    .code(),
                crate::error::ErrorCode::BadUserInput
            );
        }
        let c = encode_cursor(Cursor {
            created_at: DateTime::from_timestamp_micros(1).unwrap(),
            id: Uuid::nil(),
            rank: None,
        });
        let ranked = encode_cursor(Cursor {
            created_at: DateTime::from_timestamp_micros(1).unwrap(),
            id: Uuid::nil(),
            rank: Some(Rank(0.5)),
        });
        // A cursor of one ordering is refused by the other.
        assert!(page_request(None, Some(&c), None, None, &IMAGES).is_ok());
        assert_eq!(
            page_request(None, Some(&ranked), None, None, &IMAGES)
                .unwrap_err()
                .code(),
            crate::error::ErrorCode::BadUserInput
        );
        let relevance = |cursor: &str| {
            ordered_page_request(None, Some(cursor), None, None, &IMAGES, Ordering::Relevance)
        };
        assert!(relevance(&ranked).is_ok());
        assert_eq!(
            relevance(&c).unwrap_err().code(),
            crate::error::ErrorCode::BadUserInput
        );
        assert_eq!(
            page_request(Some(1), None, None, Some(&c), &IMAGES)
                .unwrap_err()
                .code(),
            crate::error::ErrorCode::BadUserInput
        );
        assert_eq!(
            page_request(None, Some(&c), Some(1), None, &IMAGES)
                .unwrap_err()
                .code(),
            crate::error::ErrorCode::BadUserInput
        );
    }
}
