//! Keyset pagination on `(created_at, id)`, newest first, or on `(rank, created_at,
//! id)` for lists ordered by relevance. Cursor encoding is the API layer's business;
//! here a cursor is just the key of a row.

use chrono::{DateTime, Utc};
use diesel::expression::{
    AppearsOnTable, Expression, SelectableExpression, ValidGrouping, is_aggregate,
};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::result::QueryResult;
use diesel::sql_types::{Bool, Timestamptz, Uuid as SqlUuid};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
    /// The row's relevance rank, in a list ordered by relevance (then newest first).
    pub rank: Option<Rank>,
}

/// A relevance rank (PostgreSQL `real`), compared and hashed by its bits: it travels
/// through a cursor and back unchanged, so comparing it with the rank PostgreSQL
/// computes again for the next page is exact.
#[derive(Debug, Clone, Copy)]
pub struct Rank(pub f32);

impl PartialEq for Rank {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl Eq for Rank {}

impl std::hash::Hash for Rank {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.to_bits().hash(state);
    }
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
    pub fn cursor_filter(&self, table: &'static str) -> Option<Keyset> {
        let cursor = self.cursor?;
        Some(Keyset {
            table,
            direction: self.direction,
            cursor,
        })
    }
}

/// `(<table>.created_at, <table>.id) < ($1, $2)` (or `>` walking backwards); a
/// cursor's rank is not looked at here (see the image search). Unlike a
/// `sql()` literal, diesel may keep it in its prepared-statement cache: a page deep
/// in a list costs no extra parse and plan round trip.
#[derive(Debug, Clone, Copy)]
pub struct Keyset {
    table: &'static str,
    direction: Direction,
    cursor: Cursor,
}

impl Keyset {
    fn operator(&self) -> &'static str {
        self.direction.keyset_operator()
    }
}

impl Direction {
    /// The row comparison that walks past a cursor in this direction.
    pub fn keyset_operator(self) -> &'static str {
        match self {
            Direction::Forward => "<",
            Direction::Backward => ">",
        }
    }

    /// The SQL sort order of this direction's walk.
    pub fn sql_order(self) -> &'static str {
        match self {
            Direction::Forward => "DESC",
            Direction::Backward => "ASC",
        }
    }
}

impl Expression for Keyset {
    type SqlType = Bool;
}

impl QueryFragment<Pg> for Keyset {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(&format!(
            "({0}.created_at, {0}.id) {1} (",
            self.table,
            self.operator()
        ));
        out.push_bind_param::<Timestamptz, _>(&self.cursor.created_at)?;
        out.push_sql(", ");
        out.push_bind_param::<SqlUuid, _>(&self.cursor.id)?;
        out.push_sql(")");
        Ok(())
    }
}

impl QueryId for Keyset {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<QS> SelectableExpression<QS> for Keyset {}

impl<QS> AppearsOnTable<QS> for Keyset {}

impl<GB> ValidGrouping<GB> for Keyset {
    type IsAggregate = is_aggregate::Never;
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

    /// The same page with each item converted.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            has_more: self.has_more,
        }
    }
}
