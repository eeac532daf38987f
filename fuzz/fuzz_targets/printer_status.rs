//! Bytes a receipt printer answers: the driver's status reading never panics, and takes a
//! status only from three status bytes, which read back the same through the twin's encoder.
#![no_main]
use std::time::Duration;

use sajili_drivers::printer::device::ScriptedLink;
use sajili_drivers::printer::status::{encode, parse};
use sajili_drivers::printer::{EscPosPrinter, ReceiptPrinter};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut printer = EscPosPrinter::new(ScriptedLink::new(data), Duration::ZERO);
    if let Ok(status) = printer.status() {
        let [a, b, c] = [data[0], data[1], data[2]];
        assert_eq!(parse(a, b, c), Ok(status));
        let [a, b, c] = encode(&status);
        let again = parse(a, b, c).ok();
        assert_eq!(
            again.map(|s| (s.ready(), s.paper_out, s.cover_open)),
            Some((status.ready(), status.paper_out, status.cover_open))
        );
    }
    let _ = printer.print(data);
});
