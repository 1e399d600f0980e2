//! The catalog end to end, on PostgreSQL (the machine's server, a database per
//! test) and SQLite (a file per test).

mod compatibility;
mod converter;
mod failures;
mod federation;
mod graphql;
mod ingest;
mod rest;
mod retention;
mod support;
