//! Relay connections over keyset cursors. Cursors are opaque to clients: base64 of
//! `v1:<created_at micros>:<id>`.

use async_graphql::SimpleObject;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::DateTime;
use uuid::Uuid;

use crate::error::{Error, Result};
use imagegraph_db::page::{Cursor, Direction, Page, PageRequest};

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
    URL_SAFE_NO_PAD.encode(format!(
        "v1:{}:{}",
        cursor.created_at.timestamp_micros(),
        cursor.id
    ))
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
    let mut parts = raw.splitn(3, ':');
    let (Some("v1"), Some(micros), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid());
    };
    let micros: i64 = micros.parse().map_err(|_| invalid())?;
    let created_at = DateTime::from_timestamp_micros(micros).ok_or_else(invalid)?;
    let id = Uuid::parse_str(id).map_err(|_| invalid())?;
    Ok(Cursor { created_at, id })
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
    Ok(PageRequest {
        direction,
        limit: count.unwrap_or(i64::from(limits.default)),
        cursor: cursor.map(decode_cursor).transpose()?,
    })
}

#[derive(SimpleObject, Clone, Debug)]
pub struct PageInfo {
    pub has_next_page: bool,
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
}

impl PageInfo {
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
            start_cursor: page.items.first().map(|item| encode_cursor(key(item))),
            end_cursor: page.items.last().map(|item| encode_cursor(key(item))),
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
        };
        assert_eq!(decode_cursor(&encode_cursor(cursor)).unwrap(), cursor);
        for bad in [
            "",
            "!!!",
            "djE6eDp5",
            &URL_SAFE_NO_PAD.encode("v2:1:00000000-0000-0000-0000-000000000000"),
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
        });
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
