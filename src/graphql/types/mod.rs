mod comment;
mod connection;
mod generation;
mod image;
mod node;
mod payloads;
mod user;

pub use connection::{ImageConnection, TotalCount};
pub use generation::GenerationShape;
pub use node::Node;
pub use payloads::*;
