mod comment;
mod connection;
mod image;
mod node;
mod payloads;
mod user;

pub use connection::{ImageConnection, TotalCount};
pub use node::Node;
pub use payloads::*;
