use async_graphql::{ID, Interface};

use super::{BenchmarkRun, Comment, Generation, Image, User};

/// Any object with a global id (`Query.node`).
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID"))]
pub(crate) enum Node {
    Image(Image),
    Comment(Comment),
    User(User),
    ImageGeneration(Generation),
    BenchmarkRun(BenchmarkRun),
}
