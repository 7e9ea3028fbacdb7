//! Integration tests: the real server over real HTTP, against in-repo fake
//! receivers, asserting what the receivers got and what the store holds.

mod common;

mod api;
mod cli;
mod delivery;
mod explain;
mod ingest;
mod platforms;
mod reload;
mod robustness;
mod routing;
mod secrets;
