//! Where `log` records go: the systemd journal, with structured fields, when the program runs
//! as a service; otherwise standard error, one line each. Every record carries the device's id
//! once it is known (`DEVICE=`), and whatever fields the call gave (`seq = 12` becomes `SEQ=12`).
//! Messages are written for people: never biometrics, PINs, keys or tokens (see callers).

use std::io::Write;
use std::sync::OnceLock;

use log::kv::{self, Key, Source, Value, VisitSource};
use log::{LevelFilter, Log, Metadata, Record};
use systemd_journal_logger::JournalLog;

/// The device id, set once it is read from the data dir.
static DEVICE: OnceLock<String> = OnceLock::new();

/// The installed logger: the journal's, or a line on standard error.
struct Logger {
    journal: Option<JournalLog>,
    /// Prefix of the standard-error line: `sajili kiosk`, `sajili uplink`.
    name: String,
}

/// Installs the logger for `component` (its syslog identifier is `sajili-<component>`).
/// Records at info and above are kept. Calling it twice leaves the first in place.
pub fn init(component: &str) {
    init_at(component, LevelFilter::Info);
}

/// As [`init`], keeping records at `level` and above.
pub fn init_at(component: &str, level: LevelFilter) {
    let journal = if systemd_journal_logger::connected_to_journal() {
        JournalLog::new().ok().map(|log| {
            log.with_syslog_identifier(format!("sajili-{component}"))
                .with_extra_fields([("SAJILI_VERSION", env!("CARGO_PKG_VERSION"))])
        })
    } else {
        None
    };
    let logger = Logger {
        journal,
        name: format!("sajili {component}"),
    };
    if log::set_boxed_logger(Box::new(logger)).is_ok() {
        log::set_max_level(level);
    }
}

/// Records from now on carry this device id.
pub fn set_device(id: &str) {
    let _ = DEVICE.set(id.to_string());
}

/// The record's own fields, then `device` if it is known and the record did not name one.
struct WithDevice<'a>(&'a dyn Source);

impl Source for WithDevice<'_> {
    fn visit<'kvs>(&'kvs self, visitor: &mut dyn VisitSource<'kvs>) -> Result<(), kv::Error> {
        self.0.visit(visitor)?;
        if let Some(device) = DEVICE.get()
            && self.0.get(Key::from_str("device")).is_none()
        {
            visitor.visit_pair(Key::from_str("device"), Value::from(device.as_str()))?;
        }
        Ok(())
    }
}

/// Collects `key=value` pairs for the standard-error line.
struct Line(String);

impl<'kvs> VisitSource<'kvs> for Line {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), kv::Error> {
        self.0.push_str(&format!(" {key}={value}"));
        Ok(())
    }
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let fields = WithDevice(record.key_values());
        if let Some(journal) = &self.journal {
            let with_device = record.to_builder().key_values(&fields).build();
            if journal.journal_send(&with_device).is_ok() {
                return;
            }
        }
        let mut line = Line(String::new());
        // The device id is the same on every line of a device's log: only the journal keeps it.
        let _ = record.key_values().visit(&mut line);
        let _ = writeln!(
            std::io::stderr(),
            "{}: {}{}",
            self.name,
            record.args(),
            line.0
        );
    }

    fn flush(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_gains_the_device_unless_it_names_one() {
        set_device("KE-TEST-0001");
        let fields = [("seq", 7u64)];
        let mut line = Line(String::new());
        WithDevice(&fields).visit(&mut line).unwrap();
        assert_eq!(line.0, " seq=7 device=KE-TEST-0001");

        let own = [("device", "other")];
        let mut line = Line(String::new());
        WithDevice(&own).visit(&mut line).unwrap();
        assert_eq!(line.0, " device=other");
    }
}
