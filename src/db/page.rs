//! Keyset pagination on `(created_at, id)`, newest first. Cursor encoding is the API
//! layer's business; here a cursor is just the key of a row.

use chrono::{DateTime, Utc};
use diesel::BoxableExpression;
use diesel::dsl::sql;
use diesel::pg::Pg;
use diesel::sql_types::{Bool, Timestamptz, Uuid as SqlUuid};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `first`/`after`: from the newest towards older rows.
    Forward,
    /// `last`/`before`: from the oldest towards newer rows.
    Backward,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageRequest {
    pub direction: Direction,
    pub limit: i64,
    pub cursor: Option<Cursor>,
}

impl PageRequest {
    pub fn first(limit: i64) -> Self {
        Self {
            direction: Direction::Forward,
            limit,
            cursor: None,
        }
    }

    /// The keyset condition as a row comparison, which PostgreSQL answers from the
    /// `(created_at, id)` index in one range scan.
    pub fn cursor_filter<QS>(
        &self,
        table: &str,
    ) -> Option<Box<dyn BoxableExpression<QS, Pg, SqlType = Bool>>> {
        let cursor = self.cursor?;
        let op = match self.direction {
            Direction::Forward => "<",
            Direction::Backward => ">",
        };
        Some(Box::new(
            sql::<Bool>(&format!("({table}.created_at, {table}.id) {op} ("))
                .bind::<Timestamptz, _>(cursor.created_at)
                .sql(", ")
                .bind::<SqlUuid, _>(cursor.id)
                .sql(")"),
        ))
    }
}

/// A page of rows in display order (newest first), and whether more rows lie beyond
/// it in the direction of the walk.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_more: bool,
}

impl<A, B> Page<(A, B)> {
    /// Splits a page of pairs into a page of the first items and the second items.
    pub fn unzip(self) -> (Page<A>, Vec<B>) {
        let (items, others) = self.items.into_iter().unzip();
        (
            Page {
                items,
                has_more: self.has_more,
            },
            others,
        )
    }
}

impl<T> Page<T> {
    /// Builds a page from rows fetched with `limit + 1` in walk order.
    pub fn from_rows(mut rows: Vec<T>, req: &PageRequest) -> Self {
        let has_more = rows.len() as i64 > req.limit;
        rows.truncate(req.limit.max(0) as usize);
        if req.direction == Direction::Backward {
            rows.reverse();
        }
        Self {
            items: rows,
            has_more,
        }
    }

    pub fn empty() -> Self {
        Self {
            items: Vec::new(),
            has_more: false,
        }
    }
}
