//! imagegraph: a self-hostable GraphQL service for images. See ARCHITECTURE.md.
//!
//! This crate is the service: configuration, the `App` every request shares, HTTP,
//! GraphQL, and the use cases. Pixels, the database and the job queue live in the
//! crates below it (`imagegraph-imaging`, `imagegraph-db`, `imagegraph-jobs`,
//! `imagegraph-hpl`), which never see this one.

pub mod ai;
pub mod app;
pub mod config;
pub mod error;
pub mod events;
pub mod fsutil;
pub mod graphql;
pub mod host;
pub mod http;
pub mod jobs;
pub mod logging;
pub mod media;
pub mod memory_budget;
pub mod passwords;
pub mod ratelimit;
pub mod request_id;
pub mod startup;
pub mod storage;
pub mod telemetry;
pub mod text;
pub mod token_cache;
pub mod traces;
pub mod usage;
pub mod use_cases;
