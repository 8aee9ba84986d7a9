//! Row types and the queries over them. Nothing here knows about GraphQL.

pub mod ai_call;
pub mod comment;
pub mod generation;
pub mod image;
pub mod token;
pub mod user;

pub use comment::Comment;
pub use generation::Generation;
pub use image::Image;
pub use user::{Role, User};
