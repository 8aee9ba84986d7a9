mod benchmark;
mod comment;
mod connection;
mod edit;
mod generation;
mod image;
mod node;
mod payloads;
mod user;

pub use benchmark::{BenchmarkProgress, RunBenchmarkInput, RunBenchmarkPayload};
pub use connection::{BenchmarkRunConnection, ImageConnection, TotalCount};
pub use edit::{
    EditImageInput, EditImagePayload, EditImageWithPromptInput, EditInstructionInput, instruction,
};
pub use generation::GenerationShape;
pub use node::Node;
pub use payloads::*;
