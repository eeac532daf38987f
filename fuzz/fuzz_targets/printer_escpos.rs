//! Bytes a receipt printer is sent: the ESC/POS interpreter never panics, reads the same
//! commands however the stream is cut into chunks, and the printer twin prints any stream,
//! answering only with status bytes.
#![no_main]
use sajili_drivers::printer::interpret::{Interpreter, interpret, merge_text};
use sajili_drivers::printer::status::check;
use sajili_drivers::printer::{PrinterStatus, TwinCore};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let whole = interpret(data);
    let mut interpreter = Interpreter::new();
    let mut chunked = Vec::new();
    for chunk in data.chunks(7) {
        chunked.extend(interpreter.feed(chunk));
    }
    assert_eq!(merge_text(whole), merge_text(chunked));
    let Ok(fonts) = sajili::simulate::printer_fonts() else {
        return;
    };
    let mut twin = TwinCore::new(fonts);
    let (answers, pages) = twin.receive(data, &PrinterStatus::default());
    assert!(answers.iter().all(|&byte| check(byte).is_ok()));
    assert!(pages.iter().all(|page| page.png.starts_with(b"\x89PNG")));
});
