#![no_main]
//! Any config file: the loader never panics, and a config is returned
//! exactly when no error is reported.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let loaded = tocsin::config::load_str(text, "fuzz.yaml", &|name| (name == "SET").then(|| "v".to_string()));
    assert_eq!(loaded.config.is_some(), !loaded.diagnostics.iter().any(|d| !d.warning));
});
