//! One integration test binary: every test talks HTTP to a real server backed by a
//! real PostgreSQL database of its own.

mod accounts;
mod ai;
mod auth;
mod bad_input;
mod benchmark;
mod cli;
mod comments;
mod connections;
mod documents;
mod edits;
mod faults;
mod gc;
mod graphql_http;
mod harness;
mod images;
mod legacy_names;
mod limits;
mod logs;
mod media;
mod memory_budget;
mod metrics;
mod pagination;
mod private_cluster;
mod quotas;
mod replicas;
mod request_ids;
mod s3;
mod schema;
mod search;
mod subscriptions;
mod traces;
mod usage_labels;
mod variables;
mod websocket_rights;
