//! Which refusals are written down. A refusal of a known device is stored for operators, at
//! most [`PER_DEVICE_PER_MINUTE`] a minute per device and node (a device stuck on a bad record
//! retries for ever); the rest are counted in `/metrics` only. A caller without a certificate
//! could be anyone, so its refusals are never stored: they are counted, and logged at most once
//! every [`ANONYMOUS_LOG_EVERY`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use log::{debug, warn};

use crate::store::{Incident, Store};

/// Refusals stored per device and minute, at most.
pub const PER_DEVICE_PER_MINUTE: u32 = 30;

/// How often refusals of callers without a certificate are summed up in the log.
pub const ANONYMOUS_LOG_EVERY: Duration = Duration::from_secs(10);

/// Decides which refusals are stored, and logs them.
#[derive(Debug)]
pub struct IncidentGate {
    /// Per device: the minute's start and the refusals stored in it.
    devices: Mutex<HashMap<String, (Instant, u32)>>,
    /// Refusals of callers without a certificate since the last log line, and when that was.
    anonymous: Mutex<(Option<Instant>, u64)>,
}

impl Default for IncidentGate {
    fn default() -> Self {
        Self::new()
    }
}

impl IncidentGate {
    /// A gate with nothing counted.
    pub fn new() -> Self {
        Self {
            devices: Mutex::new(HashMap::new()),
            anonymous: Mutex::new((None, 0)),
        }
    }

    /// Whether another refusal of `device` may be stored now.
    fn admit(&self, device: &str) -> bool {
        let Ok(mut devices) = self.devices.lock() else {
            return false;
        };
        let now = Instant::now();
        // Forget quiet devices so the map stays as small as the set of misbehaving ones.
        if devices.len() > 10_000 {
            devices.retain(|_, (start, _)| now.duration_since(*start) < Duration::from_secs(60));
        }
        let entry = devices.entry(device.to_string()).or_insert((now, 0));
        if now.duration_since(entry.0) >= Duration::from_secs(60) {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= PER_DEVICE_PER_MINUTE
    }

    /// Logs a refusal of `device` and stores it if the device is within its limit.
    pub fn record(
        &self,
        store: &dyn Store,
        device: &str,
        seq: Option<u64>,
        code: &str,
        message: &str,
    ) {
        let seq_text = seq.map_or("-".into(), |s| s.to_string());
        if !self.admit(device) {
            debug!(
                "refused device {device} seq {seq_text}: {message} ({code}); over the limit, not stored"
            );
            return;
        }
        warn!("refused device {device} seq {seq_text}: {message} ({code})");
        let incident = Incident {
            at: time::OffsetDateTime::now_utc().unix_timestamp(),
            device: device.to_string(),
            seq,
            code: code.to_string(),
            message: message.to_string(),
        };
        if let Err(error) = store.incident(&incident) {
            warn!("could not store the refusal of device {device}: {error:#}");
        }
    }

    /// Counts a refusal of a caller without a certificate; logs the count now and then.
    pub fn anonymous(&self, code: &str) {
        let Ok(mut anonymous) = self.anonymous.lock() else {
            return;
        };
        anonymous.1 += 1;
        // The first one at once, then a sum every ANONYMOUS_LOG_EVERY.
        let due = anonymous
            .0
            .is_none_or(|last| last.elapsed() >= ANONYMOUS_LOG_EVERY);
        if due {
            warn!(
                "refused {} call(s) without a client certificate since the last such line ({code})",
                anonymous.1
            );
            *anonymous = (Some(Instant::now()), 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_is_stored_at_most_its_limit_a_minute() {
        let gate = IncidentGate::new();
        let admitted = (0..100).filter(|_| gate.admit("KE-A")).count();
        assert_eq!(admitted, PER_DEVICE_PER_MINUTE as usize);
        assert!(gate.admit("KE-B"), "another device has its own limit");
    }
}
