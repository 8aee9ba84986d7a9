//! Row types and the queries over them. Nothing here knows about GraphQL.

pub mod ai_call;
pub mod benchmark_run;
pub mod comment;
pub mod generation;
pub mod image;
pub mod token;
pub mod user;

pub use benchmark_run::BenchmarkRun;
pub use comment::Comment;
pub use generation::Generation;
pub use image::Image;
pub use user::{Role, User};
