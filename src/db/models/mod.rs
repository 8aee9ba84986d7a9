//! Row types and the queries over them. Nothing here knows about GraphQL.

pub mod comment;
pub mod image;
pub mod token;
pub mod user;

pub use comment::Comment;
pub use image::Image;
pub use user::{Role, User};
