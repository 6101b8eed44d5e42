//! Integration tests over the built `runctl` binary: real processes, a real SQLite file, real
//! PATH lookups, real pipes and a real terminal (PTY) for prompts.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod batch_output;
mod cleanup;
mod common;
mod errors;
mod faults;
mod foundation;
mod fuzz_corpus;
mod hashing;
mod hostile;
mod json;
mod ledger;
mod logs;
mod man;
mod members;
mod migrate_runs;
mod naming;
mod per_item_faults;
mod pg;
mod plugins;
mod postgres;
mod pty;
mod resume;
mod store;
mod store_copy;
mod stream_faults;
mod versions;
