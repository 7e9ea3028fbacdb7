//! Test doubles of the receivers Tocsin sends to, shared by the tests and
//! `tocsin demo`. Each one listens on loopback, records every request byte for
//! byte, and answers the way the real receiver would.
//!
//! - [`reading`]: which links and mentions a platform's client makes of a
//!   message.
//! - [`webhook`]: a generic recording webhook receiver.
//! - [`cutter`]: a front for a receiver that closes the first connections
//!   without answering.
//! - [`lark`], [`wecom`], [`dingtalk`], [`slack`], [`discord`], [`teams`], [`telegram`]: faithful fakes of the chat
//!   platforms' incoming webhooks; [`pagerduty`]: PagerDuty's Events API v2 (checks, codes and limits of
//!   `docs/channels.md`), all served by one [`FakeBot`] type.

pub mod cutter;
pub mod dingtalk;
pub mod discord;
pub mod lark;
pub mod pagerduty;
pub mod platform;
pub mod reading;
pub mod slack;
pub mod teams;
pub mod telegram;
pub mod webhook;
pub mod wecom;

pub use cutter::ConnectionCutter;
pub use platform::{
    BotSettings, DEFAULT_SANDBOX_LISTEN, Delivery, FakeBot, Platform, SANDBOX_BOTS,
    SANDBOX_PAGERDUTY_KEY, Sandbox, SandboxBot, ScriptedAnswer, sandbox_page,
};
pub use webhook::{Received, Reply, WebhookReceiver};
