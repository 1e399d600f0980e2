//! Fuzzes the router's reader of subgraph answers: any text is read as JSON by
//! `json_parse` and by `serde_json`; both must accept or both refuse it, and what
//! they read must be the same value. Nothing may panic.
#![no_main]

use dictamesh_router::execute::json_parse::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let ours = parse(text).map(|node| node.to_json());
    let reference = serde_json::from_str::<serde_json::Value>(text);
    match (ours, reference) {
        (Ok(ours), Ok(reference)) => assert_eq!(ours, reference, "{text:?}"),
        (Err(_), Err(_)) => {}
        (ours, reference) => panic!("{text:?}: ours {ours:?}, serde_json {reference:?}"),
    }
});
