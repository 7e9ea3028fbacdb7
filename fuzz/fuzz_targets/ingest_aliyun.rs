#![no_main]
//! Any body posted to the aliyun ingest path: a decoder never panics, and an
//! accepted event always has an id, a product and a name.

use libfuzzer_sys::fuzz_target;
use tocsin::event::Format;
use tocsin::ingest::{DecodeContext, decode};

fuzz_target!(|data: &[u8]| {
    let map = tocsin::config::default_severity_map();
    let ctx = DecodeContext { severity_map: &map, received_ms: 0 };
    if let Ok(events) = decode(Format::Aliyun, data, &ctx) {
        for e in events {
            assert!(!e.id.is_empty() && !e.product.is_empty() && !e.name.is_empty());
            let _ = e.to_native_json();
        }
    }
});
