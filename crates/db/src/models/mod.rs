//! Row types and the queries over them. Nothing here knows about GraphQL.

pub mod ai_call;
pub mod benchmark_run;
pub mod comment;
pub mod generation;
pub mod image;
pub mod job;
pub mod token;
pub mod user;

use std::hash::Hash;

use diesel::QueryResult;
use diesel_async::AsyncPgConnection;

pub use benchmark_run::BenchmarkRun;
pub use comment::Comment;
pub use generation::Generation;
pub use image::Image;
pub use user::{Role, User};

/// A row fetched by its typed id, alone or many in one statement (loaders batch on
/// this).
pub trait ById: Sized + Send + 'static {
    /// The row's id type.
    type Id: Copy + Eq + Hash + Send + Sync + 'static;

    /// This row's id.
    fn id(&self) -> Self::Id;

    /// One row, if it exists.
    fn find(
        conn: &mut AsyncPgConnection,
        id: Self::Id,
    ) -> impl Future<Output = QueryResult<Option<Self>>> + Send;

    /// The rows that exist among `ids`, in no particular order.
    fn load_many(
        conn: &mut AsyncPgConnection,
        ids: &[Self::Id],
    ) -> impl Future<Output = QueryResult<Vec<Self>>> + Send;
}

/// `ById` for a row type whose table's primary key is its `id` field.
macro_rules! by_id {
    ($row:ident, $table:ident, $id:ty) => {
        impl $crate::models::ById for $row {
            type Id = $id;

            fn id(&self) -> $id {
                self.id
            }

            async fn find(
                conn: &mut diesel_async::AsyncPgConnection,
                id: $id,
            ) -> diesel::QueryResult<Option<Self>> {
                use diesel::{OptionalExtension as _, QueryDsl as _, SelectableHelper as _};
                use diesel_async::RunQueryDsl as _;
                $crate::schema::$table::table
                    .find(id)
                    .select(Self::as_select())
                    .first(conn)
                    .await
                    .optional()
            }

            async fn load_many(
                conn: &mut diesel_async::AsyncPgConnection,
                ids: &[$id],
            ) -> diesel::QueryResult<Vec<Self>> {
                use diesel::{ExpressionMethods as _, QueryDsl as _, SelectableHelper as _};
                use diesel_async::RunQueryDsl as _;
                $crate::schema::$table::table
                    .filter($crate::schema::$table::id.eq_any(ids))
                    .select(Self::as_select())
                    .load(conn)
                    .await
            }
        }
    };
}

use by_id;
