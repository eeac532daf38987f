//! Which refusals are written down. A refusal of a known device is stored for operators, at
//! most [`PER_DEVICE_PER_MINUTE`] a minute per device and node (a device stuck on a bad record
//! retries for ever); the rest are counted in `/metrics` only. A caller without a certificate
//! (provisioning included: its device id is whatever key it sent) could be anyone, so its
//! refusals are never stored: they are counted, and each code is logged at most once every
//! [`ANONYMOUS_LOG_EVERY`], with how many there were.

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
    /// Per code, refusals of callers without a certificate: when it was last logged, and how
    /// many came since.
    anonymous: Mutex<HashMap<String, (Instant, u64)>>,
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
            anonymous: Mutex::new(HashMap::new()),
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

    /// Counts a refusal of a caller without a certificate; logs it if its code was not logged
    /// in the last [`ANONYMOUS_LOG_EVERY`] (with the count of those left out).
    pub fn anonymous(&self, code: &str, detail: &str) {
        let Ok(mut anonymous) = self.anonymous.lock() else {
            return;
        };
        let now = Instant::now();
        let left_out = match anonymous.get_mut(code) {
            Some((last, count)) if now.duration_since(*last) < ANONYMOUS_LOG_EVERY => {
                *count += 1;
                return;
            }
            Some((_, count)) => *count,
            None => 0,
        };
        // The codes are the protocol's few: the map stays small.
        anonymous.insert(code.to_string(), (now, 0));
        drop(anonymous);
        if left_out > 0 {
            warn!(
                "refused a call without a client certificate: {detail} ({code}); {left_out} more like it since the last such line"
            );
        } else {
            warn!("refused a call without a client certificate: {detail} ({code})");
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

    #[test]
    fn anonymous_refusals_are_summed_per_code() {
        let gate = IncidentGate::new();
        for _ in 0..100 {
            gate.anonymous("token_unknown", "no such token");
            gate.anonymous("bad_proof", "bad proof");
        }
        let counts = gate.anonymous.lock().unwrap();
        // The first of each was logged; the other 99 wait for the next line.
        assert_eq!(counts["token_unknown"].1, 99);
        assert_eq!(counts["bad_proof"].1, 99);
    }
}
