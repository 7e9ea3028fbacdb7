//! Test doubles of the receivers Tocsin sends to, shared by the tests and
//! `tocsin demo`. Each one listens on loopback, records every request byte for
//! byte, and answers the way the real receiver would.

pub mod webhook;

pub use webhook::{Received, Reply, WebhookReceiver};
