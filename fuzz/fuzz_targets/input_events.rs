//! Recorded input streams (the twin's input, and what /dev/input delivers): the parser never
//! panics, what it parses re-encodes identically, and the keymap takes any event sequence.
#![no_main]
use sajili_drivers::input::event::parse_stream;
use sajili_drivers::input::keymap::LineAssembler;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(events) = parse_stream(data) {
        let again: Vec<u8> = events.iter().flat_map(|e| e.encode()).collect();
        assert_eq!(again, data);
        let mut assembler = LineAssembler::new();
        for event in &events {
            let _ = assembler.feed(event);
        }
    }
});
