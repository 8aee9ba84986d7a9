//! The GraphQL object types. Rows from `imagegraph_db` are wrapped, one newtype per
//! row type, so that the GraphQL fields (which need the app, the loaders, signed
//! URLs) are written here while the rows know nothing of GraphQL.

mod account;
mod benchmark;
mod comment;
mod connection;
mod edit;
mod generation;
mod image;
mod image_filter;
pub(super) mod node;
mod payloads;
mod user;

pub(super) use account::*;
pub(super) use benchmark::{BenchmarkProgress, RunBenchmarkInput, RunBenchmarkPayload};
pub(super) use connection::{BenchmarkRunConnection, ImageConnection, TotalCount, UserConnection};
pub(super) use edit::{
    EditImageInput, EditImagePayload, EditImageWithPromptInput, EditInstructionInput, instruction,
};
pub(super) use generation::GenerationShape;
pub(super) use image_filter::{ImageFilterInput, ImageOrderGql};
pub(super) use node::Node;
pub(super) use payloads::*;

use imagegraph_db::models::{self, ById};

/// A GraphQL object over one row type, loadable by the row's id.
pub(crate) trait RowObject: From<Self::Row> + Clone + Send + Sync + 'static {
    /// The row it shows.
    type Row: ById + Sync;
}

macro_rules! row_object {
    ($($(#[$meta:meta])* $name:ident;)+) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone)]
        pub(crate) struct $name(pub(crate) models::$name);

        impl std::ops::Deref for $name {
            type Target = models::$name;

            fn deref(&self) -> &models::$name {
                &self.0
            }
        }

        impl From<models::$name> for $name {
            fn from(row: models::$name) -> Self {
                Self(row)
            }
        }

        impl RowObject for $name {
            type Row = models::$name;
        }
    )+};
}

row_object! {
    /// `type Image`.
    Image;
    /// `type Comment`.
    Comment;
    /// `type User`.
    User;
    /// `type ImageGeneration`.
    Generation;
    /// `type BenchmarkRun`.
    BenchmarkRun;
}
