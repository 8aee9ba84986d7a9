//! What the service does, one module per capability. Resolvers and jobs call these;
//! they call the database, storage and AI provider. Nothing here knows about HTTP or
//! GraphQL.

pub mod analysis;
pub mod benchmark;
pub mod comments;
pub mod edits;
pub mod gc;
pub mod generation;
pub mod images;
pub mod users;
