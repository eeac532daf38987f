//! The registry's metrics in the Prometheus text exposition format (0.0.4): what this process
//! served, counted as it goes, and what the store holds, read when scraped.
//!
//! Written by hand: the format is a few lines of text, and a client crate would bring more
//! code than it saves. The store's counts walk every chain, so they are cached for
//! [`STATS_TTL`]; several Prometheus servers scraping every 15 s then cost one walk per period.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::store::{Stats, Store};

/// How long the store's counts are reused before they are read again.
pub const STATS_TTL: Duration = Duration::from_secs(15);

/// Upper bounds of the request duration histogram's buckets, in seconds (Prometheus' defaults:
/// a record's upload is milliseconds on a LAN and seconds on a slow link).
pub const DURATION_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The counters of one registry process, shared by its connections, and the store's counts
/// last read. Every method takes `&self`; share it in an `Arc`.
#[derive(Debug, Default)]
pub struct Metrics {
    counted: Mutex<Counted>,
    records_received: AtomicU64,
    record_bytes_received: AtomicU64,
    open_connections: AtomicI64,
    handshakes_failed: AtomicU64,
    stats: Mutex<Option<(Instant, Stats)>>,
}

/// What is counted by label value.
#[derive(Debug, Default)]
struct Counted {
    requests: BTreeMap<(&'static str, u16), u64>,
    durations: BTreeMap<&'static str, Histogram>,
    refusals: BTreeMap<String, u64>,
}

/// One route's request durations: a count per bucket (not cumulative: summed when written).
#[derive(Debug, Default, Clone, PartialEq)]
struct Histogram {
    buckets: [u64; DURATION_BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        if let Some(index) = DURATION_BUCKETS.iter().position(|bound| seconds <= *bound) {
            self.buckets[index] += 1;
        }
        self.count += 1;
        self.sum += seconds;
    }
}

impl Metrics {
    /// No requests yet, and the store's counts not yet read.
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// Counts a request answered on `route` (the route's pattern, not the path: seqs would
    /// make a series per record) with `status`, and how long it took.
    pub fn request(&self, route: &'static str, status: u16, seconds: f64) {
        let mut counted = self.counted();
        *counted.requests.entry((route, status)).or_default() += 1;
        counted.durations.entry(route).or_default().observe(seconds);
    }

    /// Counts records this process took into the store, and their bytes.
    pub fn records_taken(&self, records: u64, bytes: u64) {
        self.records_received.fetch_add(records, Ordering::Relaxed);
        self.record_bytes_received
            .fetch_add(bytes, Ordering::Relaxed);
    }

    /// Counts a refusal sent with `code` (one of `sajili_record::protocol::codes`).
    pub fn refusal(&self, code: &str) {
        let mut counted = self.counted();
        if let Some(count) = counted.refusals.get_mut(code) {
            *count += 1;
        } else {
            counted.refusals.insert(code.to_string(), 1);
        }
    }

    /// Notes a connection opened (`true`) or closed (`false`).
    pub fn connection(&self, opened: bool) {
        let change = if opened { 1 } else { -1 };
        self.open_connections.fetch_add(change, Ordering::Relaxed);
    }

    /// Counts a TLS handshake that failed (a device refused at the handshake, or a probe).
    pub fn handshake_failed(&self) {
        self.handshakes_failed.fetch_add(1, Ordering::Relaxed);
    }

    /// The store's counts, read again only when the last read is older than [`STATS_TTL`].
    /// Blocking: call it off the async threads. A failed read is not cached.
    pub fn stats(&self, store: &dyn Store) -> Result<Stats> {
        self.stats_at(store, Instant::now())
    }

    fn stats_at(&self, store: &dyn Store, now: Instant) -> Result<Stats> {
        // Held while the store is read, so concurrent scrapes wait for one walk, not start two.
        let mut cached = self
            .stats
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if let Some((read_at, stats)) = cached.as_ref()
            && now.saturating_duration_since(*read_at) < STATS_TTL
        {
            return Ok(stats.clone());
        }
        let stats = store.stats()?;
        *cached = Some((now, stats.clone()));
        Ok(stats)
    }

    /// Everything, in the text exposition format 0.0.4: this process' counters, then the
    /// store's counts (left out when the store cannot be read, `sajili_registry_store_up`
    /// then saying 0). Blocking: it may read the store.
    pub fn render(&self, store: &dyn Store) -> String {
        let up = store.ping().is_ok();
        let stats = if up {
            self.stats(store)
                .inspect_err(|error| {
                    log::warn!("metrics: the store's counts failed: {error:#}");
                })
                .ok()
        } else {
            None
        };
        let mut out = String::new();
        self.render_process(&mut out);
        render_store(&mut out, store.engine(), up, stats.as_ref());
        out
    }

    fn render_process(&self, out: &mut String) {
        let counted = self.counted();
        family(
            out,
            "sajili_registry_requests_total",
            "counter",
            "Requests answered, by route and HTTP status.",
        );
        for ((route, status), count) in &counted.requests {
            let status = status.to_string();
            sample(
                out,
                "sajili_registry_requests_total",
                &[("route", route), ("status", &status)],
                *count,
            );
        }
        family(
            out,
            "sajili_registry_request_duration_seconds",
            "histogram",
            "Time from a request's head to its answer, by route.",
        );
        for (route, histogram) in &counted.durations {
            render_histogram(
                out,
                "sajili_registry_request_duration_seconds",
                route,
                histogram,
            );
        }
        let received = self.records_received.load(Ordering::Relaxed);
        family(
            out,
            "sajili_registry_records_received_total",
            "counter",
            "Records this process took into the store.",
        );
        sample(out, "sajili_registry_records_received_total", &[], received);
        let bytes = self.record_bytes_received.load(Ordering::Relaxed);
        family(
            out,
            "sajili_registry_record_bytes_received_total",
            "counter",
            "Bytes of the records this process took into the store.",
        );
        sample(
            out,
            "sajili_registry_record_bytes_received_total",
            &[],
            bytes,
        );
        family(
            out,
            "sajili_registry_refusals_total",
            "counter",
            "Refusals sent, by error code.",
        );
        for (code, count) in &counted.refusals {
            sample(
                out,
                "sajili_registry_refusals_total",
                &[("code", code)],
                *count,
            );
        }
        let open = self.open_connections.load(Ordering::Relaxed);
        family(
            out,
            "sajili_registry_open_connections",
            "gauge",
            "Connections open now.",
        );
        sample(out, "sajili_registry_open_connections", &[], open);
        let failed = self.handshakes_failed.load(Ordering::Relaxed);
        family(
            out,
            "sajili_registry_tls_handshakes_failed_total",
            "counter",
            "TLS handshakes that failed.",
        );
        sample(
            out,
            "sajili_registry_tls_handshakes_failed_total",
            &[],
            failed,
        );
    }

    fn counted(&self) -> MutexGuard<'_, Counted> {
        // A panic while counting leaves whole numbers behind: keep counting.
        self.counted
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

/// The store's gauges; its counts only when `stats` is known.
fn render_store(out: &mut String, engine: &str, up: bool, stats: Option<&Stats>) {
    family(
        out,
        "sajili_registry_store_up",
        "gauge",
        "Whether the store answered this scrape (1) or not (0).",
    );
    sample(
        out,
        "sajili_registry_store_up",
        &[("engine", engine)],
        u64::from(up),
    );
    let Some(stats) = stats else {
        return;
    };
    let gauges = [
        (
            "sajili_registry_devices",
            "Devices provisioned.",
            stats.devices,
        ),
        ("sajili_registry_records", "Records held.", stats.records),
        (
            "sajili_registry_record_bytes",
            "Bytes of the records held.",
            stats.record_bytes,
        ),
        (
            "sajili_registry_flags",
            "Flags raised by the back office.",
            stats.flags,
        ),
        (
            "sajili_registry_records_unprocessed",
            "Records the back office has not processed yet.",
            stats.records.saturating_sub(stats.records_processed),
        ),
    ];
    for (name, help, value) in gauges {
        family(out, name, "gauge", help);
        sample(out, name, &[], value);
    }
}

fn render_histogram(out: &mut String, name: &str, route: &str, histogram: &Histogram) {
    let bucket = format!("{name}_bucket");
    let mut cumulative = 0;
    for (bound, count) in DURATION_BUCKETS.iter().zip(histogram.buckets) {
        cumulative += count;
        let bound = bound.to_string();
        sample(
            out,
            &bucket,
            &[("route", route), ("le", &bound)],
            cumulative,
        );
    }
    // +Inf holds every observation, those above the last bound included.
    sample(
        out,
        &bucket,
        &[("route", route), ("le", "+Inf")],
        histogram.count,
    );
    sample(
        out,
        &format!("{name}_sum"),
        &[("route", route)],
        float(histogram.sum),
    );
    sample(
        out,
        &format!("{name}_count"),
        &[("route", route)],
        histogram.count,
    );
}

/// A family's `# HELP` and `# TYPE` lines.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {}", escape_help(help));
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// One sample line: `name{label="value",…} value`.
fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (index, (label, value)) in labels.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            let _ = write!(out, "{label}=\"{}\"", escape_label(value));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// A float as the format writes it (`+Inf`, `-Inf`, `NaN` spelled its way).
fn float(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        value.to_string()
    }
}

/// A label value: backslash, double quote and line feed escaped.
fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A `# HELP` text: backslash and line feed escaped (quotes are not, there).
fn escape_help(value: &str) -> String {
    value.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::store::{
        Appended, Arrival, AuditEntry, CentreEntry, Checked, DeviceEntry, DeviceOverview, Flag,
        FleetSnapshot, Head, Incident, Meta, PartOutcome, PerDay, Processed, Provision,
        ProvisionRefusal, PublishedUpdate, Signer, StaffMember, TokenEntry, Withdrawal,
        WithdrawnDevice,
    };

    /// A store that answers only what the operators' page and the metrics read.
    #[derive(Default)]
    pub(crate) struct FakeStore {
        pub(crate) down: bool,
        pub(crate) stats: Stats,
        pub(crate) devices: Vec<DeviceOverview>,
        pub(crate) per_day: PerDay,
        pub(crate) flags: Vec<Flag>,
        pub(crate) stats_reads: AtomicUsize,
    }

    impl FakeStore {
        fn answer<T>(&self, value: T) -> Result<T> {
            if self.down {
                anyhow::bail!("connection refused")
            }
            Ok(value)
        }
    }

    impl Store for FakeStore {
        fn engine(&self) -> &'static str {
            "fake"
        }
        fn ping(&self) -> Result<()> {
            self.answer(())
        }
        fn meta(&self) -> Result<Option<Meta>> {
            unimplemented!()
        }
        fn init_meta(&self, _: &Meta) -> Result<()> {
            unimplemented!()
        }
        fn add_token(&self, _: &str, _: &TokenEntry) -> Result<()> {
            unimplemented!()
        }
        fn revoke_token(&self, _: &str) -> Result<bool> {
            unimplemented!()
        }
        fn provision(&self, _: &Provision<'_>) -> Result<Result<DeviceEntry, ProvisionRefusal>> {
            unimplemented!()
        }
        fn certificate_renewed(&self, _: &str, _: i64) -> Result<()> {
            unimplemented!()
        }
        fn device(&self, _: &str) -> Result<Option<DeviceEntry>> {
            unimplemented!()
        }
        fn seen(&self, _: &str, _: i64, _: Option<u64>) -> Result<()> {
            unimplemented!()
        }
        fn head(&self, _: &str) -> Result<Head> {
            unimplemented!()
        }
        fn append(&self, _: &str, _: &[Checked<'_>], _: Signer<'_>, _: i64) -> Result<Appended> {
            unimplemented!()
        }
        fn receipt(&self, _: &str, _: u64) -> Result<Option<Vec<u8>>> {
            unimplemented!()
        }
        fn record(&self, _: &str, _: u64) -> Result<Option<Vec<u8>>> {
            unimplemented!()
        }
        fn part_len(&self, _: &str, _: u64) -> Result<u64> {
            unimplemented!()
        }
        fn put_part(&self, _: &str, _: u64, _: u64, _: &[u8], _: u64) -> Result<PartOutcome> {
            unimplemented!()
        }
        fn incident(&self, _: &Incident) -> Result<()> {
            unimplemented!()
        }
        fn prune_incidents(&self, _: i64) -> Result<u64> {
            unimplemented!()
        }
        fn unprocessed(&self, _: usize) -> Result<Vec<Arrival>> {
            unimplemented!()
        }
        fn processed(&self, _: &Processed<'_>) -> Result<Vec<Flag>> {
            unimplemented!()
        }
        fn flags(&self) -> Result<Vec<Flag>> {
            self.answer(self.flags.clone())
        }
        fn amendments(&self, _: &str, _: u64) -> Result<crate::store::Amendments> {
            self.answer(crate::store::Amendments::default())
        }
        fn stats(&self) -> Result<Stats> {
            self.stats_reads.fetch_add(1, Ordering::Relaxed);
            self.answer(self.stats.clone())
        }
        fn devices(&self) -> Result<Vec<DeviceOverview>> {
            self.answer(self.devices.clone())
        }
        fn per_day(&self, days: u32, now: i64) -> Result<PerDay> {
            let filled = crate::store::fill_days(&self.per_day, days, now);
            self.answer(filled)
        }
        // The fleet is not what the metrics read: an empty fleet that never changes.
        fn put_staff(&self, _: &StaffMember) -> Result<u64> {
            self.answer(0)
        }
        fn set_staff_disabled(&self, _: &str, _: bool, _: i64) -> Result<Option<u64>> {
            self.answer(None)
        }
        fn staff(&self) -> Result<Vec<StaffMember>> {
            self.answer(Vec::new())
        }
        fn put_centre(&self, _: &CentreEntry) -> Result<u64> {
            self.answer(0)
        }
        fn centres(&self) -> Result<Vec<CentreEntry>> {
            self.answer(Vec::new())
        }
        fn assign_device(&self, _: &str, _: &str) -> Result<Option<u64>> {
            self.answer(None)
        }
        fn fleet_snapshot(&self, _: Option<&str>) -> Result<FleetSnapshot> {
            self.answer(FleetSnapshot {
                version: 0,
                centre: None,
                staff: Vec::new(),
            })
        }
        fn put_policy(&self, _: Option<&str>, _: u64, _: &[u8]) -> Result<bool> {
            self.answer(false)
        }
        fn policy(&self, _: Option<&str>) -> Result<Option<(u64, Vec<u8>)>> {
            self.answer(None)
        }
        fn withdraw(&self, _: &str, _: &Withdrawal) -> Result<bool> {
            self.answer(false)
        }
        fn withdrawn(&self) -> Result<Vec<WithdrawnDevice>> {
            self.answer(self.stats.withdrawn.clone())
        }
        fn add_audit(&self, _: &str, _: &[AuditEntry]) -> Result<u64> {
            self.answer(0)
        }
        fn audit_head(&self, _: &str) -> Result<u64> {
            self.answer(0)
        }
        fn audit(&self, _: &str) -> Result<Vec<AuditEntry>> {
            self.answer(Vec::new())
        }
        // Nor are updates: nothing published, and publishing keeps nothing.
        fn publish_update(&self, _: &PublishedUpdate) -> Result<()> {
            self.answer(())
        }
        fn updates(&self) -> Result<Vec<PublishedUpdate>> {
            self.answer(Vec::new())
        }
        fn unpublish_update(&self, _: &str) -> Result<u64> {
            self.answer(0)
        }
    }

    fn store_with_records() -> FakeStore {
        FakeStore {
            stats: Stats {
                devices: 2,
                records: 7,
                record_bytes: 1_050_000,
                records_processed: 5,
                flags: 1,
                ..Stats::default()
            },
            ..FakeStore::default()
        }
    }

    /// The sample lines of `text` (no comments), each split into name-and-labels and value.
    fn samples(text: &str) -> Vec<(String, String)> {
        text.lines()
            .filter(|line| !line.starts_with('#'))
            .map(|line| {
                let (series, value) = line.rsplit_once(' ').expect("a value");
                (series.to_string(), value.to_string())
            })
            .collect()
    }

    fn value_of(text: &str, series: &str) -> Option<String> {
        samples(text)
            .into_iter()
            .find(|(name, _)| name == series)
            .map(|(_, value)| value)
    }

    #[test]
    fn label_values_are_escaped() {
        let metrics = Metrics::new();
        metrics.refusal("odd\"code\\with\nbreak");
        let text = metrics.render(&store_with_records());
        assert!(
            text.contains(
                "sajili_registry_refusals_total{code=\"odd\\\"code\\\\with\\nbreak\"} 1\n"
            ),
            "{text}"
        );
        assert_eq!(text.lines().filter(|l| l.contains("odd")).count(), 1);
    }

    #[test]
    fn help_text_escapes_backslash_and_line_feed_only() {
        assert_eq!(escape_help("a \\ b\nc \"d\""), "a \\\\ b\\nc \"d\"");
    }

    #[test]
    fn every_family_has_help_and_type_before_its_samples() {
        let metrics = Metrics::new();
        metrics.request("/v1/records", 200, 0.02);
        metrics.refusal("chain_gap");
        let text = metrics.render(&store_with_records());
        let mut declared = Vec::new();
        let mut helped = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                helped.push(rest.split(' ').next().expect("name").to_string());
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("type");
                assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
                assert_eq!(helped.last().map(String::as_str), Some(name), "{line}");
                declared.push(name.to_string());
            } else {
                let name = line.split(['{', ' ']).next().expect("name");
                let family = declared.last().expect("a family first");
                assert!(name.starts_with(family.as_str()), "{line} under {family}");
            }
        }
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_end_with_inf_sum_and_count() {
        let metrics = Metrics::new();
        for seconds in [0.001, 0.02, 0.02, 0.3, 12.0] {
            metrics.request("/v1/records/{seq}", 200, seconds);
        }
        let text = metrics.render(&store_with_records());
        let bucket = |le: &str| {
            value_of(
                &text,
                &format!(
                    "sajili_registry_request_duration_seconds_bucket{{route=\"/v1/records/{{seq}}\",le=\"{le}\"}}"
                ),
            )
        };
        assert_eq!(bucket("0.005").as_deref(), Some("1"));
        assert_eq!(bucket("0.01").as_deref(), Some("1"));
        assert_eq!(bucket("0.025").as_deref(), Some("3"));
        assert_eq!(bucket("0.25").as_deref(), Some("3"));
        assert_eq!(bucket("0.5").as_deref(), Some("4"));
        assert_eq!(bucket("10").as_deref(), Some("4"));
        assert_eq!(bucket("+Inf").as_deref(), Some("5"));
        let series = |suffix: &str| {
            value_of(
                &text,
                &format!(
                    "sajili_registry_request_duration_seconds_{suffix}{{route=\"/v1/records/{{seq}}\"}}"
                ),
            )
        };
        assert_eq!(series("count").as_deref(), Some("5"));
        let sum: f64 = series("sum").expect("sum").parse().expect("a float");
        assert!((sum - 12.341).abs() < 1e-9, "{sum}");
        // Buckets in increasing order, as the format requires.
        let bounds: Vec<f64> = text
            .lines()
            .filter_map(|line| line.split("le=\"").nth(1))
            .filter_map(|rest| rest.split('"').next())
            .filter(|le| *le != "+Inf")
            .map(|le| le.parse().expect("a bound"))
            .collect();
        assert_eq!(bounds, DURATION_BUCKETS);
    }

    #[test]
    fn requests_are_counted_by_route_and_status() {
        let metrics = Metrics::new();
        metrics.request("/v1/records", 200, 0.01);
        metrics.request("/v1/records", 200, 0.01);
        metrics.request("/v1/records", 409, 0.01);
        let text = metrics.render(&store_with_records());
        assert_eq!(
            value_of(
                &text,
                "sajili_registry_requests_total{route=\"/v1/records\",status=\"200\"}"
            )
            .as_deref(),
            Some("2")
        );
        assert_eq!(
            value_of(
                &text,
                "sajili_registry_requests_total{route=\"/v1/records\",status=\"409\"}"
            )
            .as_deref(),
            Some("1")
        );
    }

    #[test]
    fn process_counters_and_gauges() {
        let metrics = Metrics::new();
        metrics.records_taken(3, 450_000);
        metrics.records_taken(1, 150_000);
        metrics.connection(true);
        metrics.connection(true);
        metrics.connection(false);
        metrics.handshake_failed();
        let text = metrics.render(&store_with_records());
        let value = |series: &str| value_of(&text, series);
        assert_eq!(
            value("sajili_registry_records_received_total").as_deref(),
            Some("4")
        );
        assert_eq!(
            value("sajili_registry_record_bytes_received_total").as_deref(),
            Some("600000")
        );
        assert_eq!(
            value("sajili_registry_open_connections").as_deref(),
            Some("1")
        );
        assert_eq!(
            value("sajili_registry_tls_handshakes_failed_total").as_deref(),
            Some("1")
        );
    }

    #[test]
    fn store_counts_are_gauges() {
        let text = Metrics::new().render(&store_with_records());
        let value = |series: &str| value_of(&text, series);
        assert_eq!(
            value("sajili_registry_store_up{engine=\"fake\"}").as_deref(),
            Some("1")
        );
        assert_eq!(value("sajili_registry_devices").as_deref(), Some("2"));
        assert_eq!(value("sajili_registry_records").as_deref(), Some("7"));
        assert_eq!(
            value("sajili_registry_record_bytes").as_deref(),
            Some("1050000")
        );
        assert_eq!(value("sajili_registry_flags").as_deref(), Some("1"));
        assert_eq!(
            value("sajili_registry_records_unprocessed").as_deref(),
            Some("2")
        );
    }

    #[test]
    fn a_store_down_says_so_and_leaves_its_counts_out() {
        let store = FakeStore {
            down: true,
            ..store_with_records()
        };
        let text = Metrics::new().render(&store);
        assert_eq!(
            value_of(&text, "sajili_registry_store_up{engine=\"fake\"}").as_deref(),
            Some("0")
        );
        assert_eq!(value_of(&text, "sajili_registry_records"), None);
        assert!(text.contains("sajili_registry_records_received_total 0\n"));
    }

    #[test]
    fn the_store_counts_are_read_once_per_period() {
        let metrics = Metrics::new();
        let store = store_with_records();
        let start = Instant::now();
        metrics.stats_at(&store, start).expect("stats");
        metrics
            .stats_at(&store, start + Duration::from_secs(14))
            .expect("stats");
        assert_eq!(store.stats_reads.load(Ordering::Relaxed), 1);
        metrics.stats_at(&store, start + STATS_TTL).expect("stats");
        assert_eq!(store.stats_reads.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn a_failed_read_is_not_cached() {
        let metrics = Metrics::new();
        let down = FakeStore {
            down: true,
            ..store_with_records()
        };
        assert!(metrics.stats(&down).is_err());
        let up = store_with_records();
        assert_eq!(metrics.stats(&up).expect("stats").records, 7);
    }

    #[test]
    fn floats_are_written_the_formats_way() {
        assert_eq!(float(f64::INFINITY), "+Inf");
        assert_eq!(float(f64::NEG_INFINITY), "-Inf");
        assert_eq!(float(f64::NAN), "NaN");
        assert_eq!(float(0.25), "0.25");
        assert_eq!(float(3.0), "3");
    }
}
