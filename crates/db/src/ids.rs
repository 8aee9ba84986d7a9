//! One type per kind of id, so an image id cannot be passed where a comment id is
//! expected. Each is a UUIDv7 (time-ordered) stored in a `uuid` column and parsed
//! with `FromStr`; with the `graphql` feature each is also an output of the GraphQL
//! `ID` scalar. Arguments stay plain `ID`s that resolvers parse after checking who is
//! asking, so an anonymous caller learns nothing about the ids it sends.

use std::fmt;

use diesel::deserialize::{FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{Output, ToSql};
use diesel::sql_types::Uuid as SqlUuid;
use uuid::Uuid;

macro_rules! id_type {
    ($($(#[$meta:meta])* $name:ident;)+) => {$(
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash,
            serde::Serialize, serde::Deserialize, AsExpression, FromSqlRow,
        )]
        #[diesel(sql_type = SqlUuid)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps a UUID known to name this kind of row.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The UUID underneath, for keys and logs.
            pub const fn uuid(self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl ToSql<SqlUuid, Pg> for $name {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> diesel::serialize::Result {
                <Uuid as ToSql<SqlUuid, Pg>>::to_sql(&self.0, out)
            }
        }

        impl FromSql<SqlUuid, Pg> for $name {
            fn from_sql(bytes: PgValue<'_>) -> diesel::deserialize::Result<Self> {
                <Uuid as FromSql<SqlUuid, Pg>>::from_sql(bytes).map(Self)
            }
        }

        #[cfg(feature = "graphql")]
        crate::ids::graphql::id_scalar!($name);
    )+};
}

id_type! {
    /// An image (`images.id`).
    ImageId;
    /// The bytes an image points at (`images.content_id`): new content, new id, so
    /// stored objects never change under their key.
    ContentId;
    /// A comment.
    CommentId;
    /// A user.
    UserId;
    /// An API token.
    TokenId;
    /// An image generation.
    GenerationId;
    /// An HPL benchmark run.
    BenchmarkRunId;
    /// A recorded AI provider call.
    AiCallId;
    /// A background job.
    JobId;
}

#[cfg(feature = "graphql")]
mod graphql {
    //! Every id is output as the GraphQL `ID` scalar. The type info is `ID`'s own,
    //! so the schema holds one `ID` whatever the Rust type behind a field.

    macro_rules! id_scalar {
        ($name:ident) => {
            impl async_graphql::OutputType for $name {
                fn type_name() -> std::borrow::Cow<'static, str> {
                    <async_graphql::ID as async_graphql::OutputType>::type_name()
                }

                fn create_type_info(registry: &mut async_graphql::registry::Registry) -> String {
                    <async_graphql::ID as async_graphql::OutputType>::create_type_info(registry)
                }

                async fn resolve(
                    &self,
                    _ctx: &async_graphql::ContextSelectionSet<'_>,
                    _field: &async_graphql::Positioned<async_graphql::parser::types::Field>,
                ) -> async_graphql::ServerResult<async_graphql::Value> {
                    Ok(async_graphql::Value::String(self.0.to_string()))
                }
            }
        };
    }

    pub(crate) use id_scalar;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_and_parse_as_their_uuid() {
        let id = ImageId::new();
        assert_eq!(id.to_string(), id.uuid().to_string());
        assert_eq!(id.to_string().parse::<ImageId>().unwrap(), id);
        assert!("not-a-uuid".parse::<CommentId>().is_err());
        assert_eq!(
            serde_json::to_value(id).unwrap(),
            serde_json::json!(id.to_string())
        );
    }

    #[test]
    fn new_ids_are_time_ordered() {
        let (a, b) = (UserId::new(), UserId::new());
        assert!(a < b);
    }
}
