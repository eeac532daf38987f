//! The operators' page: devices, enrolments per day and flags waiting for a person, plus
//! `/metrics` and `/healthz`, on a plain-HTTP port of their own.
//!
//! Read-only and free of personal data (device ids, counts, codes and times only), so it can
//! sit behind a reverse proxy or an SSH tunnel without the records' keys. It binds to
//! 127.0.0.1 unless told otherwise: it has no authentication of its own. The page is drawn on
//! the server (no script, no external resource), so its policy forbids everything else.

use std::fmt::Write as _;
use std::future::Future;
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sajili_record::protocol::{ApiError, PROBLEM_JSON, codes, problem_type};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::metrics::Metrics;
use crate::store::{DeviceOverview, Flag, PerDay, Store};

/// Days the enrolments chart covers, today included.
pub const CHART_DAYS: u32 = 30;
/// A certificate expiring sooner than this is shown as a warning.
pub const CERTIFICATE_WARNING_DAYS: i64 = 30;
/// Most flags listed (newest first); the total says how many there are.
pub const MAX_FLAGS_SHOWN: usize = 200;
/// The page's Content-Security-Policy: inline styles and nothing else.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:";
/// The media type of `/metrics` (the text exposition format 0.0.4).
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What the operators' routes read: the store, and this process' counters.
#[derive(Clone)]
pub struct OpsState {
    /// The registry's store (read only here).
    pub store: Arc<dyn Store>,
    /// This process' counters, and the cached store counts.
    pub metrics: Arc<Metrics>,
}

/// Serves the operators' routes on `listener` until `shutdown` completes, then lets requests
/// in flight finish. Errors only if the listener fails.
pub async fn serve_ops(
    listener: tokio::net::TcpListener,
    state: OpsState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
        .context("the operators' page stopped serving")
}

fn router(state: OpsState) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .with_state(state)
}

async fn page(State(state): State<OpsState>) -> Response {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let read = blocking(move || Overview::read(&*state.store, &state.metrics, now)).await;
    match read {
        Ok(overview) => html(StatusCode::OK, render_page(&overview)),
        Err(error) => {
            log::error!("operators' page: the store failed: {error:#}");
            html(StatusCode::SERVICE_UNAVAILABLE, render_unavailable(now))
        }
    }
}

async fn metrics(State(state): State<OpsState>) -> Response {
    let text = blocking(move || Ok(state.metrics.render(&*state.store))).await;
    match text {
        Ok(text) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)],
            text,
        )
            .into_response(),
        Err(error) => {
            log::error!("/metrics failed: {error:#}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn healthz(State(state): State<OpsState>) -> Response {
    match blocking(move || state.store.ping()).await {
        Ok(()) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "ok\n",
        )
            .into_response(),
        Err(error) => {
            // The cause goes to the log, not to whoever asks.
            log::error!("/healthz: the store does not answer: {error:#}");
            let status = StatusCode::SERVICE_UNAVAILABLE;
            let problem = ApiError {
                kind: problem_type(codes::UNAVAILABLE),
                title: "The registry is unavailable".into(),
                status: status.as_u16(),
                detail: "the store does not answer".into(),
                code: codes::UNAVAILABLE.into(),
                expected_seq: None,
                received: None,
            };
            let body = serde_json::to_vec(&problem).unwrap_or_default();
            (status, [(header::CONTENT_TYPE, PROBLEM_JSON)], body).into_response()
        }
    }
}

/// Runs a store call on a blocking thread: the engines' calls block.
async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(call)
        .await
        .context("a store call panicked")?
}

fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// The counts at the top of the page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    /// Devices provisioned.
    pub devices: u64,
    /// Records held.
    pub records: u64,
    /// Records the back office has not processed yet.
    pub unprocessed: u64,
    /// Flags raised.
    pub flags: u64,
}

/// Everything the page shows, read at one moment: the page is drawn from this alone, so it
/// can be tested without a store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overview {
    /// When it was read, Unix seconds (the registry's clock).
    pub now: i64,
    /// The store's engine.
    pub engine: String,
    /// The totals (at most [`crate::metrics::STATS_TTL`] old).
    pub totals: Totals,
    /// Every device.
    pub devices: Vec<DeviceOverview>,
    /// Records received per day, oldest first, over [`CHART_DAYS`].
    pub per_day: PerDay,
    /// Every flag, oldest first.
    pub flags: Vec<Flag>,
}

impl Overview {
    /// Reads the page's data: the totals through `metrics`' cache, the rest from the store.
    /// Blocking.
    pub fn read(store: &dyn Store, metrics: &Metrics, now: i64) -> Result<Overview> {
        let stats = metrics.stats(store)?;
        Ok(Overview {
            now,
            engine: store.engine().to_string(),
            totals: Totals {
                devices: stats.devices,
                records: stats.records,
                unprocessed: stats.records.saturating_sub(stats.records_processed),
                flags: stats.flags,
            },
            devices: store.devices()?,
            per_day: store.per_day(CHART_DAYS, now)?,
            flags: store.flags()?,
        })
    }
}

const STYLE: &str = "
body{font-family:system-ui,sans-serif;margin:1.5rem auto;max-width:80rem;padding:0 1rem;color:#1f2328;background:#fff}
h1{font-size:1.4rem;margin:0}h2{font-size:1.1rem;margin:1.8rem 0 .6rem}
header p{color:#57606a;margin:.3rem 0 0}
#totals{display:flex;gap:1rem;flex-wrap:wrap;margin:1.2rem 0 0;padding:0}
#totals div{border:1px solid #d0d7de;border-radius:6px;padding:.6rem 1rem;min-width:10rem}
#totals dt{color:#57606a;font-size:.85rem}#totals dd{margin:0;font-size:1.6rem;font-weight:600}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #d0d7de;vertical-align:top}
th{background:#f6f8fa}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.id{font-family:ui-monospace,monospace}.muted{color:#57606a}
.warn{background:#fff8c5;color:#7d4e00;font-weight:600}
.expired{background:#ffebe9;color:#a40e26;font-weight:600}
svg{max-width:100%;height:auto}
.bar{fill:#0969da}.bar.today{fill:#1a7f37}.grid{stroke:#d0d7de;stroke-width:1}
.axis{stroke:#57606a;stroke-width:1}.label{font-size:11px;fill:#57606a}
.title{font-size:12px;fill:#1f2328}
";

/// The page, for `overview`. Every piece of text from the store is escaped.
pub fn render_page(overview: &Overview) -> String {
    let mut out = String::with_capacity(16 * 1024);
    let now = overview.now;
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"refresh\" content=\"30\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>Sajili registry: operators</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <header><h1>Sajili registry</h1><p>As of {} (the registry's clock) · {} store · \
         this page reloads every 30 s</p></header>\n",
        escape(&utc_time(now)),
        escape(&overview.engine),
    );
    render_totals(&mut out, &overview.totals);
    out.push_str("<h2>Enrolments per day (UTC), last 30 days</h2>\n");
    render_chart(&mut out, &overview.per_day, now);
    let _ = writeln!(out, "<h2>Devices ({})</h2>", overview.devices.len());
    render_devices(&mut out, &overview.devices, now);
    let _ = writeln!(
        out,
        "<h2>Flags waiting for adjudication ({})</h2>",
        overview.flags.len()
    );
    render_flags(&mut out, &overview.flags);
    out.push_str("</body>\n</html>\n");
    out
}

/// The page when the store does not answer.
pub fn render_unavailable(now: i64) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"refresh\" content=\"30\">\n<title>Sajili registry: unavailable</title>\n\
         <style>{STYLE}</style>\n</head>\n<body>\n<header><h1>Sajili registry</h1></header>\n\
         <p id=\"unavailable\" class=\"expired\">The store does not answer ({}). The registry's \
         log says why; this page tries again every 30 s.</p>\n</body>\n</html>\n",
        escape(&utc_time(now))
    )
}

fn render_totals(out: &mut String, totals: &Totals) {
    out.push_str("<dl id=\"totals\">\n");
    let items = [
        ("devices", "Devices", totals.devices),
        ("records", "Records held", totals.records),
        (
            "unprocessed",
            "Waiting for the back office",
            totals.unprocessed,
        ),
        ("flags", "Flags", totals.flags),
    ];
    for (key, label, value) in items {
        let _ = writeln!(
            out,
            "<div><dt>{label}</dt><dd data-total=\"{key}\">{value}</dd></div>"
        );
    }
    out.push_str("</dl>\n");
}

fn render_devices(out: &mut String, devices: &[DeviceOverview], now: i64) {
    if devices.is_empty() {
        out.push_str("<p id=\"devices\" class=\"muted\">No device has been provisioned.</p>\n");
        return;
    }
    out.push_str(
        "<table id=\"devices\">\n<thead><tr><th>Device</th><th>Last seen (UTC)</th>\
         <th class=\"num\">Last seq</th><th class=\"num\">Waiting on the device</th>\
         <th class=\"num\">Refusals</th><th>Certificate expires (UTC)</th></tr></thead>\n<tbody>\n",
    );
    for device in devices {
        let id = escape(&device.device);
        let waiting = device
            .waiting
            .map_or_else(|| "—".to_string(), |waiting| waiting.to_string());
        let _ = writeln!(
            out,
            "<tr data-device=\"{id}\" data-head=\"{head}\"><td class=\"id\">{id}</td><td>{seen}</td>\
             <td class=\"num\">{head}</td><td class=\"num\">{waiting}</td>\
             <td class=\"num\">{refusals}</td>{expiry}</tr>",
            head = device.head,
            seen = last_seen(device.last_seen, now),
            refusals = device.refusals,
            expiry = certificate_cell(device.certificate_not_after, now),
        );
    }
    out.push_str("</tbody>\n</table>\n");
}

fn last_seen(at: Option<i64>, now: i64) -> String {
    match at {
        None => "<span class=\"muted\">never</span>".into(),
        Some(at) => format!(
            "{} <span class=\"muted\">({})</span>",
            escape(&utc_time(at)),
            ago(now - at)
        ),
    }
}

fn certificate_cell(not_after: Option<i64>, now: i64) -> String {
    let Some(not_after) = not_after else {
        return "<td class=\"muted\">—</td>".into();
    };
    let left = not_after - now;
    let days = left.div_euclid(86_400);
    let (class, words) = if left <= 0 {
        ("expired", format!("expired {}", ago(-left)))
    } else if days < CERTIFICATE_WARNING_DAYS {
        ("warn", format!("in {}", duration(left)))
    } else {
        ("", format!("in {}", duration(left)))
    };
    format!(
        "<td class=\"{class}\" data-expires-in-days=\"{days}\">{} ({words})</td>",
        escape(&utc_date(not_after))
    )
}

fn render_flags(out: &mut String, flags: &[Flag]) {
    if flags.is_empty() {
        out.push_str("<p id=\"flags\" class=\"muted\">None.</p>\n");
        return;
    }
    out.push_str(
        "<table id=\"flags\">\n<thead><tr><th>Device</th><th class=\"num\">Seq</th><th>Code</th>\
         <th>Detail</th><th>Raised (UTC)</th></tr></thead>\n<tbody>\n",
    );
    // Newest first: the store keeps them oldest first.
    for flag in flags.iter().rev().take(MAX_FLAGS_SHOWN) {
        let _ = writeln!(
            out,
            "<tr data-code=\"{code}\"><td class=\"id\">{device}</td><td class=\"num\">{seq}</td>\
             <td>{code}</td><td>{detail}</td><td>{at}</td></tr>",
            code = escape(&flag.code),
            device = escape(&flag.device),
            seq = flag.seq,
            detail = escape(&flag.detail),
            at = escape(&utc_time(flag.at)),
        );
    }
    out.push_str("</tbody>\n</table>\n");
    if flags.len() > MAX_FLAGS_SHOWN {
        let _ = writeln!(
            out,
            "<p class=\"muted\">{} older flags are not listed.</p>",
            flags.len() - MAX_FLAGS_SHOWN
        );
    }
}

// The chart's geometry, in SVG user units.
const CHART_WIDTH: f64 = 760.0;
const CHART_HEIGHT: f64 = 230.0;
const PLOT_LEFT: f64 = 56.0;
const PLOT_RIGHT: f64 = 10.0;
const PLOT_TOP: f64 = 12.0;
const PLOT_BOTTOM: f64 = 48.0;

/// Bars of `per_day` (oldest first), a y axis with integer ticks and a date under every
/// seventh bar counting back from today. Each bar holds its day and count as a `<title>` (a
/// tooltip) and as data attributes.
fn render_chart(out: &mut String, per_day: &[(i64, u64)], now: i64) {
    let plot_width = CHART_WIDTH - PLOT_LEFT - PLOT_RIGHT;
    let plot_height = CHART_HEIGHT - PLOT_TOP - PLOT_BOTTOM;
    let base = PLOT_TOP + plot_height;
    let highest = per_day.iter().map(|(_, count)| *count).max().unwrap_or(0);
    let (top, step) = scale(highest);
    let _ = writeln!(
        out,
        "<svg id=\"per-day\" role=\"img\" aria-label=\"Enrolments received per day\" \
         xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {CHART_WIDTH} {CHART_HEIGHT}\" \
         width=\"{CHART_WIDTH}\" height=\"{CHART_HEIGHT}\">"
    );
    let mut tick = 0;
    while tick <= top {
        let y = base - plot_height * tick as f64 / top as f64;
        let _ = writeln!(
            out,
            "<line class=\"grid\" x1=\"{PLOT_LEFT}\" x2=\"{x2}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>\
             <text class=\"label\" x=\"{lx}\" y=\"{ly:.1}\" text-anchor=\"end\">{tick}</text>",
            x2 = CHART_WIDTH - PLOT_RIGHT,
            lx = PLOT_LEFT - 6.0,
            ly = y + 4.0,
        );
        tick += step;
    }
    let slot = plot_width / per_day.len().max(1) as f64;
    let today = crate::store::day_of(now);
    let last = per_day.len().saturating_sub(1);
    for (index, (day, count)) in per_day.iter().enumerate() {
        let date = utc_date(*day);
        let height = plot_height * *count as f64 / top as f64;
        let x = PLOT_LEFT + slot * index as f64 + slot * 0.15;
        let class = if *day == today { "bar today" } else { "bar" };
        let noun = if *count == 1 {
            "enrolment"
        } else {
            "enrolments"
        };
        let _ = writeln!(
            out,
            "<rect class=\"{class}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{height:.1}\" \
             data-day=\"{date}\" data-count=\"{count}\"><title>{date}: {count} {noun}</title></rect>",
            y = base - height,
            w = slot * 0.7,
            date = escape(&date),
        );
        if (last - index).is_multiple_of(7) {
            // "MM-DD" of the date: the year is in the title and rarely in doubt.
            let short = date.get(5..).unwrap_or(&date);
            let _ = writeln!(
                out,
                "<text class=\"label\" x=\"{cx:.1}\" y=\"{ty:.1}\" text-anchor=\"middle\">{}</text>",
                escape(short),
                cx = PLOT_LEFT + slot * (index as f64 + 0.5),
                ty = base + 16.0,
            );
        }
    }
    let _ = writeln!(
        out,
        "<line class=\"axis\" x1=\"{PLOT_LEFT}\" x2=\"{PLOT_LEFT}\" y1=\"{PLOT_TOP}\" y2=\"{base}\"/>\
         <line class=\"axis\" x1=\"{PLOT_LEFT}\" x2=\"{x2}\" y1=\"{base}\" y2=\"{base}\"/>\n\
         <text class=\"title\" x=\"{cx:.1}\" y=\"{by:.1}\" text-anchor=\"middle\">Day received (UTC)</text>\n\
         <text class=\"title\" transform=\"translate(14 {my:.1}) rotate(-90)\" text-anchor=\"middle\">Enrolments</text>\n\
         </svg>",
        x2 = CHART_WIDTH - PLOT_RIGHT,
        cx = PLOT_LEFT + plot_width / 2.0,
        by = CHART_HEIGHT - 8.0,
        my = PLOT_TOP + plot_height / 2.0,
    );
}

/// The y axis' top and tick step for a highest count: the top is the next of 1, 2, 5, 10,
/// 20, 50… at or above it, and the step divides it into at most five whole numbers.
fn scale(highest: u64) -> (u64, u64) {
    let mut top = 1;
    'search: for magnitude in (0..19).map(|power| 10u64.pow(power)) {
        for factor in [1, 2, 5] {
            top = magnitude * factor;
            if top >= highest {
                break 'search;
            }
        }
    }
    let step = [5, 4, 2, 1]
        .into_iter()
        .find(|parts| top.is_multiple_of(*parts) && top >= *parts)
        .map_or(top, |parts| top / parts);
    (top, step.max(1))
}

/// `2026-11-27 14:03 UTC`, or the raw seconds if out of range.
fn utc_time(at: i64) -> String {
    OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| {
            t.format(format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_else(|| format!("@{at}"))
}

/// `2026-11-27`, or the raw seconds if out of range.
fn utc_date(at: i64) -> String {
    OffsetDateTime::from_unix_timestamp(at)
        .map(|t| t.date().to_string())
        .unwrap_or_else(|_| format!("@{at}"))
}

/// `just now`, `12 min ago`, `5 h ago`, `3 days ago`.
fn ago(seconds: i64) -> String {
    if seconds < 60 {
        // A few seconds ahead (another node's clock) reads as now too.
        "just now".into()
    } else {
        format!("{} ago", duration(seconds))
    }
}

/// A positive span in the largest unit that keeps it above one: `12 min`, `5 h`, `3 days`.
fn duration(seconds: i64) -> String {
    match seconds {
        ..3_600 => format!("{} min", seconds.max(0) / 60),
        3_600..172_800 => format!("{} h", seconds / 3_600),
        _ => format!("{} days", seconds / 86_400),
    }
}

/// Text and attribute values for HTML: the five characters that could end either.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::metrics::tests::FakeStore;
    use crate::store::{Stats, day_of, fill_days};

    /// 2026-11-27 12:00 UTC.
    const NOW: i64 = 1_795_780_800;

    fn overview() -> Overview {
        let today = day_of(NOW);
        Overview {
            now: NOW,
            engine: "redb".into(),
            totals: Totals {
                devices: 2,
                records: 15,
                unprocessed: 4,
                flags: 2,
            },
            devices: vec![
                DeviceOverview {
                    device: "KE-0a1b2c".into(),
                    provisioned_at: NOW - 40 * 86_400,
                    last_seen: Some(NOW - 12 * 60),
                    head: 15,
                    waiting: Some(0),
                    refusals: 1,
                    certificate_not_after: Some(NOW + 10 * 86_400),
                },
                DeviceOverview {
                    device: "KE-<b>&\"quiet\"".into(),
                    provisioned_at: NOW - 86_400,
                    last_seen: None,
                    head: 0,
                    waiting: None,
                    refusals: 0,
                    certificate_not_after: Some(NOW + 365 * 86_400),
                },
            ],
            per_day: fill_days(&[(today, 12), (today - 2 * 86_400, 3)], CHART_DAYS, NOW),
            flags: vec![
                Flag {
                    device: "KE-0a1b2c".into(),
                    seq: 4,
                    code: "form_rule".into(),
                    detail: "a rule <failed> & more".into(),
                    at: NOW - 3_600,
                },
                Flag {
                    device: "KE-0a1b2c".into(),
                    seq: 9,
                    code: "duplicate_document".into(),
                    detail: "the same identity document as device KE-0a1b2c record 4".into(),
                    at: NOW - 60,
                },
            ],
        }
    }

    /// The element opening with `start` up to the next `end`.
    fn between<'a>(page: &'a str, start: &str, end: &str) -> &'a str {
        let from = page
            .find(start)
            .unwrap_or_else(|| panic!("{start} in {page}"));
        let rest = &page[from..];
        &rest[..rest.find(end).expect("end")]
    }

    #[test]
    fn the_page_has_its_sections_by_id() {
        let page = render_page(&overview());
        for id in ["totals", "per-day", "devices", "flags"] {
            assert_eq!(page.matches(&format!("id=\"{id}\"")).count(), 1, "{id}");
        }
        assert!(page.contains("<meta http-equiv=\"refresh\" content=\"30\">"));
        assert!(page.contains("2026-11-27 12:00 UTC"));
        // Nothing to fetch: no script, no link, no image from elsewhere.
        for outside in ["<script", "<link", "<img", "src=", "href="] {
            assert!(!page.contains(outside), "{outside}");
        }
    }

    #[test]
    fn totals_are_shown() {
        let page = render_page(&overview());
        let totals = between(&page, "<dl id=\"totals\">", "</dl>");
        assert!(
            totals.contains("<dd data-total=\"devices\">2</dd>"),
            "{totals}"
        );
        assert!(
            totals.contains("<dd data-total=\"records\">15</dd>"),
            "{totals}"
        );
        assert!(
            totals.contains("<dd data-total=\"unprocessed\">4</dd>"),
            "{totals}"
        );
        assert!(
            totals.contains("<dd data-total=\"flags\">2</dd>"),
            "{totals}"
        );
    }

    #[test]
    fn devices_show_head_waiting_and_times() {
        let page = render_page(&overview());
        let table = between(&page, "<table id=\"devices\">", "</table>");
        let first = between(table, "<tr data-device=\"KE-0a1b2c\"", "</tr>");
        assert!(first.contains("data-head=\"15\""), "{first}");
        assert!(first.contains("2026-11-27 11:48 UTC"), "{first}");
        assert!(first.contains("12 min ago"), "{first}");
        assert!(first.contains("<td class=\"num\">0</td>"), "{first}");
        let second = between(table, "<tr data-device=\"KE-&lt;b&gt;", "</tr>");
        assert!(second.contains("never"), "{second}");
        assert!(second.contains("<td class=\"num\">—</td>"), "{second}");
    }

    #[test]
    fn a_certificate_near_expiry_is_a_warning() {
        let page = render_page(&overview());
        let first = between(&page, "<tr data-device=\"KE-0a1b2c\"", "</tr>");
        assert!(
            first.contains(
                "<td class=\"warn\" data-expires-in-days=\"10\">2026-12-07 (in 10 days)</td>"
            ),
            "{first}"
        );
        let second = between(&page, "<tr data-device=\"KE-&lt;b&gt;", "</tr>");
        assert!(
            second.contains("<td class=\"\" data-expires-in-days=\"365\">"),
            "{second}"
        );
        assert!(certificate_cell(Some(NOW - 2 * 86_400), NOW).contains("expired 2 days ago"));
        assert!(certificate_cell(Some(NOW - 2 * 86_400), NOW).contains("class=\"expired\""));
        assert_eq!(certificate_cell(None, NOW), "<td class=\"muted\">—</td>");
    }

    #[test]
    fn everything_from_the_store_is_escaped() {
        let page = render_page(&overview());
        assert!(!page.contains("<b>"));
        assert!(page.contains("KE-&lt;b&gt;&amp;&quot;quiet&quot;"));
        assert!(page.contains("a rule &lt;failed&gt; &amp; more"));
        assert_eq!(escape("'\"<>&x"), "&#39;&quot;&lt;&gt;&amp;x");
    }

    #[test]
    fn the_chart_has_a_bar_per_day_with_its_count() {
        let page = render_page(&overview());
        let chart = between(&page, "<svg id=\"per-day\"", "</svg>");
        assert_eq!(chart.matches("<rect class=\"bar").count(), 30);
        let today = between(chart, "<rect class=\"bar today\"", "</rect>");
        assert!(
            today.contains("data-day=\"2026-11-27\" data-count=\"12\""),
            "{today}"
        );
        assert!(
            today.contains("<title>2026-11-27: 12 enrolments</title>"),
            "{today}"
        );
        assert!(chart.contains("data-day=\"2026-11-25\" data-count=\"3\""));
        assert!(chart.contains("data-day=\"2026-10-29\" data-count=\"0\""));
        // Dates under today and every seventh day back; the y axis up to 20 in steps of 4.
        assert!(chart.contains(">11-27</text>") && chart.contains(">11-20</text>"));
        assert!(!chart.contains(">11-26</text>"));
        assert!(chart.contains(">20</text>") && chart.contains(">16</text>"));
        assert!(chart.contains("Enrolments</text>"));
    }

    #[test]
    fn the_y_axis_scale_is_whole_numbers() {
        assert_eq!(scale(0), (1, 1));
        assert_eq!(scale(1), (1, 1));
        assert_eq!(scale(2), (2, 1));
        assert_eq!(scale(3), (5, 1));
        assert_eq!(scale(12), (20, 4));
        assert_eq!(scale(50), (50, 10));
        assert_eq!(scale(51), (100, 20));
    }

    #[test]
    fn flags_are_listed_newest_first() {
        let page = render_page(&overview());
        let table = between(&page, "<table id=\"flags\">", "</table>");
        let duplicate = table.find("duplicate_document").expect("duplicate");
        let rule = table.find("form_rule").expect("rule");
        assert!(duplicate < rule);
        let empty = render_page(&Overview {
            flags: Vec::new(),
            devices: Vec::new(),
            ..overview()
        });
        assert!(empty.contains("<p id=\"flags\" class=\"muted\">None.</p>"));
        assert!(empty.contains("<p id=\"devices\""));
    }

    #[test]
    fn spans_read_in_the_largest_unit() {
        assert_eq!(ago(5), "just now");
        assert_eq!(ago(-30), "just now");
        assert_eq!(ago(12 * 60 + 5), "12 min ago");
        assert_eq!(ago(5 * 3_600), "5 h ago");
        assert_eq!(ago(3 * 86_400), "3 days ago");
        assert_eq!(utc_time(i64::MAX), format!("@{}", i64::MAX));
    }

    /// `GET path` against a served router; the whole answer as text.
    async fn get(store: FakeStore, path: &str) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let state = OpsState {
            store: Arc::new(store),
            metrics: Arc::new(Metrics::new()),
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_ops(listener, state, async {
            let _ = stopped.await;
        }));
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: ops\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        let _ = stop.send(());
        server.await.unwrap().unwrap();
        answer
    }

    fn store_up() -> FakeStore {
        FakeStore {
            stats: Stats {
                devices: 1,
                records: 3,
                ..Stats::default()
            },
            devices: overview().devices[..1].to_vec(),
            ..FakeStore::default()
        }
    }

    #[tokio::test]
    async fn healthz_says_ok_when_the_store_answers() {
        let answer = get(store_up(), "/healthz").await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("\r\n\r\nok\n"), "{answer}");
    }

    #[tokio::test]
    async fn healthz_is_a_problem_when_the_store_is_down() {
        let store = FakeStore {
            down: true,
            ..FakeStore::default()
        };
        let answer = get(store, "/healthz").await;
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        assert!(
            answer
                .to_lowercase()
                .contains("content-type: application/problem+json")
        );
        let body = answer.split("\r\n\r\n").nth(1).expect("body");
        let problem: ApiError = serde_json::from_str(body).expect("problem JSON");
        assert_eq!(problem.code, "unavailable");
        assert_eq!(problem.status, 503);
        assert_eq!(problem.kind, "urn:sajili:problem:unavailable");
        assert!(
            !body.contains("connection refused"),
            "the cause stays in the log"
        );
    }

    #[tokio::test]
    async fn the_page_is_served_with_its_policy() {
        let answer = get(store_up(), "/").await;
        let lower = answer.to_lowercase();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(lower.contains(&format!(
            "content-security-policy: {}",
            CONTENT_SECURITY_POLICY.to_lowercase()
        )));
        assert!(lower.contains("content-type: text/html; charset=utf-8"));
        assert!(answer.contains("<dd data-total=\"records\">3</dd>"));
        assert!(answer.contains("data-device=\"KE-0a1b2c\""));
    }

    #[tokio::test]
    async fn the_page_says_when_the_store_is_down() {
        let store = FakeStore {
            down: true,
            ..FakeStore::default()
        };
        let answer = get(store, "/").await;
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        assert!(answer.contains("id=\"unavailable\""));
        assert!(!answer.contains("connection refused"));
    }

    #[tokio::test]
    async fn metrics_are_served_as_text_format_0_0_4() {
        let answer = get(store_up(), "/metrics").await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(
            answer
                .to_lowercase()
                .contains("content-type: text/plain; version=0.0.4")
        );
        assert!(answer.contains("\nsajili_registry_records 3\n"), "{answer}");
    }

    #[test]
    fn the_state_is_shared_between_threads() {
        fn shared<T: Send + Sync + Clone + 'static>() {}
        shared::<OpsState>();
    }
}
