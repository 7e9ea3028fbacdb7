//! Integration tests: the real server over real HTTP, against in-repo fake
//! receivers, asserting what the receivers got and what the store holds.

mod common;

mod api;
mod backup;
mod burst;
mod cli;
mod connections;
mod crash;
mod delivery;
mod dryrun;
mod exclude;
mod explain;
mod faults;
mod formats;
mod golden;
mod ingest;
mod management;
mod noise;
mod platforms;
mod quarantine;
mod reload;
mod rendering;
mod resolves;
mod robustness;
mod routing;
mod sandbox;
mod secrets;
mod templates;
mod tls;
