//! imagegraph: a self-hostable GraphQL service for images. See ARCHITECTURE.md.

pub mod ai;
pub mod analysis;
pub mod app;
pub mod benchmark;
pub mod comments;
pub mod config;
pub mod edits;
pub mod error;
pub mod events;
pub mod fsutil;
pub mod gc;
pub mod generation;
pub mod graphql;
pub mod host;
pub mod http;
pub mod images;
pub mod jobs;
pub mod media;
pub mod ratelimit;
pub mod startup;
pub mod storage;
pub mod telemetry;
pub mod text;
pub mod usage;
pub mod users;
