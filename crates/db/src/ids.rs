//! One type per kind of id, so an image id cannot be passed where a comment id is
//! expected. Each is a UUIDv7 (time-ordered) stored in a `uuid` column; `Display` and
//! `FromStr` are the bare UUID (keys, logs, the CLI).
//!
//! Through the API each id is a Relay global id ([`GlobalId`]): opaque to clients,
//! it carries its type (`Image`, `Comment`, ...) so `node(id:)` needs one lookup and
//! an argument refuses an id of another type. With the `graphql` feature each is an
//! output of the GraphQL `ID` scalar in that form. Arguments stay plain `ID`s that
//! resolvers parse after checking who is asking, so an anonymous caller learns
//! nothing about the ids it sends.

use std::fmt;

use diesel::deserialize::{FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{Output, ToSql};
use diesel::sql_types::Uuid as SqlUuid;
use uuid::Uuid;

macro_rules! id_type {
    ($($(#[$meta:meta])* $name:ident => $type_name:literal;)+) => {$(
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

        impl GlobalId for $name {
            const TYPE_NAME: &'static str = $type_name;

            fn uuid(self) -> Uuid {
                self.0
            }

            fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
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
    ImageId => "Image";
    /// The bytes an image points at (`images.content_id`): new content, new id, so
    /// stored objects never change under their key.
    ContentId => "Content";
    /// A comment.
    CommentId => "Comment";
    /// A user.
    UserId => "User";
    /// An API token.
    TokenId => "ApiToken";
    /// An image generation.
    GenerationId => "ImageGeneration";
    /// An HPL benchmark run.
    BenchmarkRunId => "BenchmarkRun";
    /// A recorded AI provider call.
    AiCallId => "AiCall";
    /// A background job.
    JobId => "Job";
}

/// A Relay global id: `base64url("<Type>:<uuid>")` without padding. Clients treat it
/// as opaque; URL-safe so it can sit in a GET query or a path without escaping.
pub trait GlobalId: Copy + Sized {
    /// The GraphQL type the id names (`Image`, `Comment`, ...).
    const TYPE_NAME: &'static str;

    /// The UUID underneath.
    fn uuid(self) -> Uuid;

    /// Wraps a UUID known to name this kind of row.
    fn from_uuid(uuid: Uuid) -> Self;

    /// The id as clients see it.
    fn global_id(self) -> String {
        encode_global_id(Self::TYPE_NAME, self.uuid())
    }

    /// Parses a global id of this type; `None` for anything else, including a
    /// well-formed id of another type.
    fn from_global_id(id: &str) -> Option<Self> {
        match decode_global_id(id)? {
            (type_name, uuid) if type_name == Self::TYPE_NAME => Some(Self::from_uuid(uuid)),
            _ => None,
        }
    }
}

/// `base64url("<type>:<uuid>")`, the form every id has in the API. Built on the stack,
/// not with `format!`: a feed sends 60 of them per request.
pub fn encode_global_id(type_name: &str, uuid: Uuid) -> String {
    use base64::Engine as _;
    let mut raw = [0u8; 96];
    let (name, rest) = raw.split_at_mut(type_name.len().min(96 - 37));
    if name.len() < type_name.len() {
        // No type of ours has so long a name; kept correct all the same.
        return base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!("{type_name}:{uuid}"));
    }
    name.copy_from_slice(type_name.as_bytes());
    rest[0] = b':';
    uuid.hyphenated().encode_lower(&mut rest[1..37]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&raw[..type_name.len() + 37])
}

/// The type name and UUID of a well-formed global id (whatever the type name), or
/// `None`. Bounded: a global id is at most a type name and a UUID.
pub fn decode_global_id(id: &str) -> Option<(String, Uuid)> {
    use base64::Engine as _;
    if id.len() > 128 {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(id)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (type_name, uuid) = text.split_once(':')?;
    let valid_name = !type_name.is_empty()
        && type_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    // Only the lower-case hyphenated form: one spelling per id, so ids compare as
    // strings (client caches key on them).
    if !valid_name || uuid.len() != 36 || uuid.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    Some((type_name.to_owned(), Uuid::try_parse(uuid).ok()?))
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
                    Ok(async_graphql::Value::String(
                        crate::ids::GlobalId::global_id(*self),
                    ))
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
    fn global_ids_carry_their_type() {
        let id = ImageId::new();
        let global = id.global_id();
        assert!(!global.contains(&id.to_string()), "opaque: {global}");
        assert_eq!(ImageId::from_global_id(&global), Some(id));
        assert_eq!(CommentId::from_global_id(&global), None);
        assert_eq!(
            decode_global_id(&global),
            Some(("Image".to_owned(), id.uuid()))
        );
        assert_eq!(ImageId::from_global_id(&id.to_string()), None);
        assert_eq!(ImageId::from_global_id(""), None);
        assert_eq!(ImageId::from_global_id(&"A".repeat(10_000)), None);
        // A UUID spelled without hyphens is not the same id twice.
        let simple = {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(format!("Image:{}", id.uuid().simple()))
        };
        assert_eq!(decode_global_id(&simple), None);
        let upper = encode_global_id("Image", id.uuid()).to_ascii_uppercase();
        assert_eq!(decode_global_id(&upper), None);
        let upper_uuid = {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(
                "Image:{}",
                id.uuid().hyphenated().to_string().to_uppercase()
            ))
        };
        assert_eq!(decode_global_id(&upper_uuid), None);
        assert_eq!(
            decode_global_id(&encode_global_id("No pe", id.uuid())),
            None
        );
    }

    #[test]
    fn global_ids_are_the_formatted_text_encoded() {
        use base64::Engine as _;
        let uuid = ImageId::new().uuid();
        for name in [
            "Image",
            "BenchmarkRun",
            "",
            "N".repeat(59).as_str(),
            "N".repeat(60).as_str(),
            "N".repeat(200).as_str(),
        ] {
            assert_eq!(
                encode_global_id(name, uuid),
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{name}:{uuid}")),
                "{name}"
            );
        }
    }

    #[test]
    fn new_ids_are_time_ordered() {
        let (a, b) = (UserId::new(), UserId::new());
        assert!(a < b);
    }
}
