//! imagegraph: a self-hostable GraphQL service for images. See ARCHITECTURE.md.

pub mod app;
pub mod comments;
pub mod config;
pub mod db;
pub mod error;
pub mod fsutil;
pub mod gc;
pub mod graphql;
pub mod http;
pub mod images;
pub mod imaging;
pub mod media;
pub mod startup;
pub mod storage;
pub mod users;
