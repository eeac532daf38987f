//! The registry's operators' page as a browser shows it: a real registry, one device that
//! synced and one that sent nothing, read by headless Chromium; and `/metrics` and `/healthz`
//! beside it. Also the page's screenshot for the docs (`SAJILI_OPS_SCREENSHOT`).
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use sajili_tests::registry::{RegistryProcess, SyncDevice, registry_bin, write_enrolments};
use sajili_tests::{stderr, stdout};

/// Enrolments the syncing device sends.
const RECORDS: usize = 3;

/// Headless Chromium with its own throw-away profile, given `args` and then `url`. As root
/// Chromium refuses to start without `--no-sandbox`; the page it loads is our own.
fn chromium(args: &[&str], url: &str) -> Output {
    let profile = tempfile::tempdir().expect("profile dir");
    Command::new("timeout")
        .args([
            "120",
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
        ])
        .args([
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .output()
        .expect("chromium is installed by scripts/setup")
}

/// The page's DOM after Chromium has loaded it.
fn dump_dom(url: &str) -> String {
    let output = chromium(&["--dump-dom"], url);
    assert!(output.status.success(), "chromium: {}", stderr(&output));
    String::from_utf8(output.stdout).expect("UTF-8 DOM")
}

/// A plain HTTP/1.1 GET: the status, the head and the body.
fn http_get(port: u16, path: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the ops port");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("an answer");
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status");
    (status, head.to_lowercase(), body.to_string())
}

/// The text between `start` (included) and the next `end` after it.
fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} is not in:\n{text}"));
    let rest = &text[from..];
    &rest[..rest.find(end).unwrap_or(rest.len())]
}

/// The total the page shows under `key`.
fn total(page: &str, key: &str) -> u64 {
    let element = between(page, &format!("data-total=\"{key}\">"), "</dd>");
    element[element.find('>').unwrap() + 1..]
        .parse()
        .unwrap_or_else(|_| panic!("total {key}: {element}"))
}

/// Today's date, UTC (the registry's clock is this machine's).
fn today() -> String {
    time::OffsetDateTime::now_utc().date().to_string()
}

/// The count the chart shows for `day`.
fn count_on(page: &str, day: &str) -> u64 {
    let bar = between(page, &format!("data-day=\"{day}\""), ">");
    bar.split("data-count=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("bar of {day}: {bar}"))
}

/// The strings of the fixture enrolments that identify a person.
fn personal_data() -> Vec<String> {
    let person = sajili::fixtures::adult_demographics();
    let mut found = vec![
        person.names.surname.clone(),
        person.names.first_name.clone(),
        person.document.number.clone(),
        person.date_of_birth.to_string(),
        person.residence.location.clone(),
        person.residence.sub_county.clone(),
    ];
    found.extend(person.names.other_names.clone());
    found.extend(person.nssf.clone());
    found.extend(person.nhif.clone());
    found.extend(person.kra_pin.clone());
    found
}

/// A metric's name, its labels and its value.
type Sample = (String, Vec<(String, String)>, f64);

/// One sample line of the text format, `name{label="value",…} value`, checked by hand: the
/// metric and label names' characters, the label values' escapes, a number at the end.
fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("no value")?;
    let name = &line[..name_end];
    let name_ok = |name: &str, colon: bool| {
        let mut chars = name.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':'))
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':'))
    };
    if !name_ok(name, true) {
        return Err(format!("bad metric name {name:?}"));
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = after;
        loop {
            let equals = rest.find("=\"").ok_or("a label without a value")?;
            let label = &rest[..equals];
            if !name_ok(label, false) {
                return Err(format!("bad label name {label:?}"));
            }
            let mut value = String::new();
            let mut chars = rest[equals + 2..].char_indices();
            let close = loop {
                match chars.next().ok_or("an unclosed label value")? {
                    (_, '\\') => match chars.next().ok_or("a dangling escape")?.1 {
                        '\\' => value.push('\\'),
                        '"' => value.push('"'),
                        'n' => value.push('\n'),
                        other => return Err(format!("bad escape \\{other}")),
                    },
                    (at, '"') => break at,
                    (_, c) => value.push(c),
                }
            };
            labels.push((label.to_string(), value));
            rest = &rest[equals + 2 + close + 1..];
            if let Some(after) = rest.strip_prefix(',') {
                rest = after;
            } else if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            } else {
                return Err("labels not closed".into());
            }
        }
    }
    let value = rest.strip_prefix(' ').ok_or("no space before the value")?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        number => number
            .parse()
            .map_err(|_| format!("bad value {number:?}"))?,
    };
    Ok((name.to_string(), labels, value))
}

/// A registry serving, a device that synced [`RECORDS`] enrolments, and one provisioned that
/// sent nothing; returns them and the registration numbers.
fn registry_with_two_devices() -> (RegistryProcess, SyncDevice, SyncDevice, Vec<String>) {
    let registry = RegistryProcess::start();
    let syncing = SyncDevice::provisioned(&registry, &registry.url());
    let quiet = SyncDevice::provisioned(&registry, &registry.url());
    let (files, _) = write_enrolments(&syncing.dir.path().join("in"), RECORDS);
    let numbers = syncing.enrol(&files);
    let output = syncing.run(&["uplink", "--once"]);
    assert!(
        output.status.success(),
        "{}\n{}",
        stderr(&output),
        registry.log()
    );
    assert_eq!(syncing.status()["receipts"], RECORDS as u64);
    (registry, syncing, quiet, numbers)
}

#[test]
fn the_operators_page_shows_devices_counts_and_no_personal_data() {
    let day_before = today();
    let (registry, syncing, quiet, numbers) = registry_with_two_devices();
    let day_after = today();
    let port = registry.ops_port;
    let page = dump_dom(&format!("http://127.0.0.1:{port}/"));

    // Both devices: the one that synced at its head, the quiet one never seen.
    let row = between(
        &page,
        &format!("<tr data-device=\"{}\"", syncing.id),
        "</tr>",
    );
    assert!(row.contains(&format!("data-head=\"{RECORDS}\"")), "{row}");
    assert!(row.contains("ago") || row.contains("just now"), "{row}");
    let row = between(&page, &format!("<tr data-device=\"{}\"", quiet.id), "</tr>");
    assert!(row.contains("data-head=\"0\""), "{row}");
    assert!(row.contains("never"), "{row}");
    assert!(row.contains("—"), "nothing said waiting: {row}");

    // Today's bar (yesterday's too if the sync straddled midnight) holds the records.
    let chart = between(&page, "<svg id=\"per-day\"", "</svg>");
    assert_eq!(chart.matches("<rect class=\"bar").count(), 30, "{chart}");
    let mut shown = count_on(chart, &day_after);
    if day_before != day_after {
        shown += count_on(chart, &day_before);
    }
    assert_eq!(shown, RECORDS as u64, "{chart}");
    let title = format!("<title>{day_after}: ");
    assert!(chart.contains(&title), "{chart}");

    // The totals: nothing processed by the back office yet, so nothing flagged.
    assert_eq!(total(&page, "devices"), 2);
    assert_eq!(total(&page, "records"), RECORDS as u64);
    assert_eq!(total(&page, "unprocessed"), RECORDS as u64);
    assert_eq!(total(&page, "flags"), 0);
    assert!(page.contains("id=\"flags\""), "{page}");

    // No one's name, numbers or birth date, nor the registration numbers.
    for secret in personal_data().iter().chain(&numbers) {
        assert!(!page.contains(secret.as_str()), "the page shows {secret:?}");
    }

    // /metrics: every line a comment or a sample; the records held and taken by this node.
    let (status, head, metrics) = http_get(port, "/metrics");
    assert_eq!(status, 200, "{metrics}");
    assert!(
        head.contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    let mut samples = Vec::new();
    for line in metrics.lines().filter(|line| !line.is_empty()) {
        if line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
            continue;
        }
        assert!(!line.starts_with('#'), "a stray comment: {line}");
        samples.push(parse_sample(line).unwrap_or_else(|error| panic!("{line}: {error}")));
    }
    let value = |name: &str| {
        samples
            .iter()
            .find(|(sample, _, _)| sample == name)
            .map(|(_, _, value)| *value)
            .unwrap_or_else(|| panic!("{name} missing:\n{metrics}"))
    };
    assert_eq!(value("sajili_registry_records"), RECORDS as f64);
    assert_eq!(value("sajili_registry_devices"), 2.0);
    assert_eq!(
        value("sajili_registry_records_received_total"),
        RECORDS as f64
    );
    assert_eq!(value("sajili_registry_store_up"), 1.0);
    for secret in personal_data().iter().chain(&numbers) {
        assert!(
            !metrics.contains(secret.as_str()),
            "/metrics shows {secret:?}"
        );
    }

    // What the browser was told: nothing may load from elsewhere, scripts included.
    let (status, head, _) = http_get(port, "/");
    assert_eq!(status, 200);
    assert!(
        head.contains(
            "content-security-policy: default-src 'none'; style-src 'unsafe-inline'; img-src data:"
        ),
        "{head}"
    );

    let (status, _, body) = http_get(port, "/healthz");
    assert_eq!((status, body.as_str()), (200, "ok\n"));
}

#[test]
fn metrics_lines_are_parsed_strictly() {
    let (name, labels, value) =
        parse_sample(r#"a_total{route="/v1/x",code="q\"\\\n"} 3"#).expect("a sample");
    assert_eq!(name, "a_total");
    assert_eq!(labels[1], ("code".to_string(), "q\"\\\n".to_string()));
    assert_eq!(value, 3.0);
    assert_eq!(
        parse_sample("b_bucket{le=\"+Inf\"} +Inf").unwrap().2,
        f64::INFINITY
    );
    for bad in [
        "c 1 2",
        "c{a=\"x} 1",
        "c{a=\"x\"}1",
        "9c 1",
        "c{a=\"\\x\"} 1",
        "c",
    ] {
        assert!(parse_sample(bad).is_err(), "{bad}");
    }
}

/// libfaketime, which shifts the clock of the registry's process (`faketime` in scripts/setup).
const FAKETIME_LIB: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";

/// Days of arrivals the screenshot shows.
const SCREENSHOT_DAYS: u64 = 24;

/// How far ahead of this machine the registry's clock is on the screenshot's last day. Ahead,
/// not behind: to a clock set back, the certificates issued today are not valid yet.
const SCREENSHOT_SHIFT_DAYS: u64 = 30;

/// Serves `registry` with its clock `days` ahead of this machine's.
fn serve_days_ahead(registry: &mut RegistryProcess, days: u64) {
    registry.set_env("LD_PRELOAD", FAKETIME_LIB);
    registry.set_env("FAKETIME", &format!("+{days}d"));
    // Only the wall clock: the server's timers keep real time.
    registry.set_env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
    registry.serve();
}

/// Writes the page's screenshot, with two weeks of arrivals from two devices and a duplicate
/// document flagged, to `SAJILI_OPS_SCREENSHOT`: run
/// `SAJILI_OPS_SCREENSHOT=$PWD/docs/registry-ops.png cargo test -p sajili-tests --test
/// registry_ops -- --ignored`. The registry's clock is moved ahead day by day (its arrivals
/// are counted by its own clock); the devices keep this machine's.
#[test]
#[ignore = "writes the docs' screenshot: set SAJILI_OPS_SCREENSHOT and pass --ignored"]
fn screenshot_for_the_docs() {
    let out = std::env::var_os("SAJILI_OPS_SCREENSHOT").expect("SAJILI_OPS_SCREENSHOT");
    let mut registry = RegistryProcess::start();
    let devices = [
        SyncDevice::provisioned(&registry, &registry.url()),
        SyncDevice::provisioned(&registry, &registry.url()),
    ];
    registry.kill();
    let first_day = SCREENSHOT_SHIFT_DAYS - SCREENSHOT_DAYS + 1;
    let (files, _) = write_enrolments(&devices[0].dir.path().join("in"), 100);
    // Each enrolment its own document, but for one presented twice.
    for (index, file) in files.iter().enumerate() {
        let mut json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        let number = if index == 41 {
            30_000_007
        } else {
            30_000_000 + index
        };
        json["demographics"]["document"]["number"] = number.to_string().into();
        std::fs::write(file, json.to_string()).unwrap();
    }
    let mut files = files.iter();
    let mut quiet = None;
    for day in 0..SCREENSHOT_DAYS {
        serve_days_ahead(&mut registry, first_day + day);
        if day == 6 {
            // Its token is made by this machine's clock: long-lived enough for the registry's.
            let token = registry.run(&["token", "--expires", "30d"]);
            assert!(token.status.success(), "{}", stderr(&token));
            let device = SyncDevice::init(&registry);
            let output =
                device.provision_with(&registry, String::from_utf8_lossy(&token.stdout).trim());
            assert!(output.status.success(), "{}", stderr(&output));
            quiet = Some(device);
        }
        for (index, device) in devices.iter().enumerate() {
            // A week's rhythm; the second device stops sending three days before the end.
            let count = match (index, (day + 1) % 7) {
                (1, _) if day + 3 >= SCREENSHOT_DAYS => 0,
                (_, 5 | 6) => index as u64,
                (0, weekday) => 2 + weekday % 3,
                (_, weekday) => 1 + weekday % 2,
            };
            let batch: Vec<_> = files.by_ref().take(count as usize).cloned().collect();
            if batch.is_empty() {
                continue;
            }
            device.enrol(&batch);
            let output = device.run(&["uplink", "--once"]);
            assert!(output.status.success(), "{}", stderr(&output));
        }
        registry.kill();
    }
    assert!(quiet.is_some());
    // The back office's pass finds the document seen twice; on the registry's clock too, so
    // the flag is raised after the arrival.
    let processed = Command::new("faketime")
        .args(["-f", &format!("+{SCREENSHOT_SHIFT_DAYS}d")])
        .arg(registry_bin())
        .args(["process", "--db", &registry.db, "--identity"])
        .arg(&registry.identity)
        .output()
        .expect("faketime is installed by scripts/setup");
    assert!(processed.status.success(), "{}", stderr(&processed));
    assert!(
        stdout(&processed).contains("1 flagged"),
        "{}",
        stdout(&processed)
    );
    serve_days_ahead(&mut registry, SCREENSHOT_SHIFT_DAYS);
    screenshot(registry.ops_port, Path::new(&out));
}

fn screenshot(port: u16, out: &Path) {
    let target = format!("--screenshot={}", out.display());
    let output = chromium(
        &[target.as_str(), "--window-size=1280,900"],
        &format!("http://127.0.0.1:{port}/"),
    );
    assert!(output.status.success(), "chromium: {}", stderr(&output));
    assert!(out.metadata().map(|m| m.len() > 0).unwrap_or(false));
}
