//! One registry node against what a public network sends it: problems in RFC 9457 form,
//! bodies too large, thousands of idle connections, bursts without a certificate, a SIGTERM
//! mid-upload, withdrawn tokens; and the back office's pass over what arrived.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sajili_tests::proxy::{Proxy, ProxyConfig};
use sajili_tests::registry::{
    RegistryProcess, SyncDevice, assert_exactly_once, wait_until, write_enrolments,
};
use sajili_tests::{stderr, stdout};

/// The JSON body of an HTTP response read with `-i`.
fn body_json(response: &str) -> serde_json::Value {
    let body = response.split("\r\n\r\n").last().unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {response}"))
}

/// Runs a Python script (Debian's python3: the ssl and socket modules are all it needs).
fn python(script: &str, args: &[&str]) -> std::process::Child {
    Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3")
}

#[test]
fn refusals_are_rfc_9457_problems_and_health_answers() {
    let mut registry = RegistryProcess::init();
    registry.set_env("SAJILI_REGISTRY_FAULTS", "503:1");
    registry.serve();
    let device = SyncDevice::provisioned(&registry, &registry.url());

    let url = format!("{}/v1/standing", registry.url());
    let anonymous = registry.curl(&[&url]);
    assert!(anonymous.starts_with("HTTP/1.1 401"), "{anonymous}");
    assert!(
        anonymous
            .to_ascii_lowercase()
            .contains("content-type: application/problem+json"),
        "{anonymous}"
    );
    let problem = body_json(&anonymous);
    assert_eq!(
        problem["type"],
        "urn:sajili:problem:client_certificate_required"
    );
    assert_eq!(problem["status"], 401);
    assert_eq!(problem["code"], "client_certificate_required");
    assert!(!problem["title"].as_str().unwrap().is_empty());
    assert!(!problem["detail"].as_str().unwrap().is_empty());

    // The one injected 503 carries Retry-After; the call after it is answered.
    let busy = registry.curl_as(&device, &[&url]);
    assert!(busy.starts_with("HTTP/1.1 503"), "{busy}");
    assert!(
        busy.to_ascii_lowercase().contains("retry-after: 5"),
        "{busy}"
    );
    assert_eq!(body_json(&busy)["code"], "unavailable");
    let standing = registry.curl_as(&device, &[&url]);
    assert!(standing.starts_with("HTTP/1.1 200"), "{standing}");

    let health = registry.curl(&[&format!("{}/healthz", registry.url())]);
    assert!(
        health.starts_with("HTTP/1.1 200") && health.ends_with("ok\n"),
        "{health}"
    );
}

/// A declared body larger than the route takes is answered 413 at once, before a byte of it
/// is sent: the client below sends headers only and waits.
#[test]
fn a_body_larger_than_allowed_is_refused_before_it_is_read() {
    let registry = RegistryProcess::start();
    let script = r#"
import socket, ssl, sys, time
context = ssl.create_default_context(cafile=sys.argv[1])
with socket.create_connection(("127.0.0.1", int(sys.argv[2]))) as raw:
    with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        tls.sendall(b"POST " + sys.argv[3].encode() + b" HTTP/1.1\r\nHost: registry\r\nContent-Type: application/octet-stream\r\nContent-Length: " + sys.argv[4].encode() + b"\r\n\r\n")
        started = time.time()
        tls.settimeout(10)
        answer = tls.recv(4096).decode(errors="replace")
        print(answer.split("\r\n")[0], round(time.time() - started, 3))
"#;
    for (path, length) in [("/v1/provision", "70000"), ("/v1/records", "4000000000")] {
        let child = python(
            script,
            &[
                registry.keys.join("ca.crt").to_str().unwrap(),
                &registry.port.to_string(),
                path,
                length,
            ],
        );
        let output = child.wait_with_output().unwrap();
        let said = String::from_utf8_lossy(&output.stdout);
        assert!(said.starts_with("HTTP/1.1 413"), "{path}: {said}");
    }
}

/// 5,000 connections that never start their TLS handshake: a device syncs meanwhile, and the
/// registry closes every one of them after its handshake timeout.
#[test]
fn a_slowloris_holding_5000_idle_connections_neither_stops_a_device_nor_stays() {
    let registry = RegistryProcess::start();
    let device = SyncDevice::provisioned(&registry, &registry.url());
    let (files, surnames) = write_enrolments(&device.dir.path().join("in"), 5);
    let numbers = device.enrol(&files);
    let script = r#"
import resource, socket, sys, time
want = int(sys.argv[2])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
held = []
for _ in range(want):
    held.append(socket.create_connection(("127.0.0.1", int(sys.argv[1]))))
print("holding", len(held), flush=True)
sys.stdin.readline()
# How many has the server closed? A closed one reads as end of stream (or a reset).
closed = 0
for s in held:
    s.settimeout(0.5)
    try:
        if s.recv(1) == b"":
            closed += 1
    except ConnectionResetError:
        closed += 1
    except socket.timeout:
        pass
print("closed", closed, flush=True)
"#;
    let mut loris = python(script, &[&registry.port.to_string(), "5000"]);
    let mut out = BufReader::new(loris.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "holding 5000", "{line}");

    let started = Instant::now();
    let output = device.run(&["uplink", "--once"]);
    assert!(
        output.status.success(),
        "{}\n{}",
        stderr(&output),
        registry.log()
    );
    println!(
        "synced 5 records beside 5,000 idle connections in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    assert_exactly_once(&registry, &device, &numbers, &surnames);

    // Past the handshake timeout (10 s) every idle connection is gone.
    std::thread::sleep(Duration::from_secs(12).saturating_sub(started.elapsed()));
    let mut stdin = loris.stdin.take().unwrap();
    writeln!(stdin).unwrap();
    line.clear();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "closed 5000", "{line}");
    loris.wait().unwrap();
}

/// 500 requests without a certificate at once: each refused, the registry answers a device
/// and its health check meanwhile, and nothing of them is stored.
#[test]
fn a_burst_of_500_calls_without_a_certificate_stores_nothing_and_slows_no_device() {
    let registry = RegistryProcess::start();
    let device = SyncDevice::provisioned(&registry, &registry.url());
    let (files, surnames) = write_enrolments(&device.dir.path().join("in"), 3);
    let numbers = device.enrol(&files);
    let before = registry.stats();
    let script = r#"
import socket, ssl, sys, threading
context = ssl.create_default_context(cafile=sys.argv[1])
port = int(sys.argv[2])
statuses = {}
lock = threading.Lock()
def call():
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                tls.sendall(b"GET /v1/standing HTTP/1.1\r\nHost: registry\r\nConnection: close\r\n\r\n")
                status = tls.recv(64).split(b" ")[1].decode()
    except Exception as error:
        status = type(error).__name__
    with lock:
        statuses[status] = statuses.get(status, 0) + 1
threads = [threading.Thread(target=call) for _ in range(500)]
for t in threads: t.start()
for t in threads: t.join()
print(sorted(statuses.items()))
"#;
    let burst = python(
        script,
        &[
            registry.keys.join("ca.crt").to_str().unwrap(),
            &registry.port.to_string(),
        ],
    );
    // While it runs: the device syncs and the health check answers.
    let output = device.run(&["uplink", "--once"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let health = registry.curl(&[&format!("{}/healthz", registry.url())]);
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let said = burst.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&said.stdout).trim(),
        "[('401', 500)]"
    );
    assert_exactly_once(&registry, &device, &numbers, &surnames);
    let after = registry.stats();
    assert_eq!(after["incidents"], before["incidents"], "{after}");
    // Counted, though: the operators see the refusals in /metrics.
    let refused = registry
        .metric("sajili_registry_refusals_total{code=\"client_certificate_required\"}")
        .expect("the refusals are in /metrics");
    assert!(refused >= 500.0, "{refused}");
}

/// SIGTERM while a record is on its way over a slow link: the node stops taking connections,
/// finishes that upload (the device gets its receipt), and exits cleanly.
#[test]
fn sigterm_finishes_the_upload_in_flight_then_stops() {
    let mut registry = RegistryProcess::start();
    // About 150 KB a record at 60 KB/s: an upload takes over two seconds.
    let proxy = Proxy::start(
        registry.port,
        ProxyConfig {
            cuts: Vec::new(),
            rate: Some(60_000),
        },
    );
    let device = SyncDevice::provisioned(&registry, &proxy.url());
    let (files, surnames) = write_enrolments(&device.dir.path().join("in"), 2);
    let numbers = device.enrol(&files);
    let uplink = Command::new(sajili_tests::sajili_bin())
        .arg("--data")
        .arg(&device.data)
        .args(["uplink", "--once"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once the upload has started (bytes past the provisioning's are flowing), stop the node.
    let flowing = proxy.upstream_bytes();
    assert!(wait_until(Duration::from_secs(20), || {
        proxy.upstream_bytes() > flowing + 20_000
    }));
    let stopping = Instant::now();
    let status = registry.terminate().expect("was serving");
    assert!(status.success(), "{status:?}: {}", registry.log());
    println!(
        "stopped {:.1} s after SIGTERM",
        stopping.elapsed().as_secs_f64()
    );
    let log = registry.log();
    assert!(log.contains("stopping: no new connections"), "{log}");
    assert!(log.contains("all connections finished"), "{log}");
    let _ = uplink.wait_with_output().unwrap();
    // The request in flight (a whole record, or the part of one the link's speed called for)
    // was taken, not dropped: the registry holds its bytes.
    let stats = registry.stats();
    let held = stats["records"].as_u64().unwrap() + stats["uploads_in_progress"].as_u64().unwrap();
    assert!(held >= 1, "the upload in flight was dropped: {stats} {log}");
    assert_eq!(device.status()["receipts"], stats["records"]);
    // Back up, the device finishes where it stopped.
    registry.serve();
    let output = device.run(&["uplink", "--once"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_exactly_once(&registry, &device, &numbers, &surnames);
}

#[test]
fn a_withdrawn_token_provisions_nothing() {
    let registry = RegistryProcess::start();
    let token = registry.token();
    let revoke = registry.run(&["revoke-token", &token]);
    assert!(revoke.status.success(), "{}", stderr(&revoke));
    let again = registry.run(&["revoke-token", &token]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("no unused token"),
        "{}",
        stderr(&again)
    );
    let device = SyncDevice::init(&registry);
    let refused = device.provision_with(&registry, &token);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("withdrawn"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(registry.stats()["tokens_revoked"], 1);
}

/// A kiosk whose clock reads 2040 enrols a four-year-old as an 18-year-old: the kiosk cannot
/// know, the back office does (age on the day the registry received the record). The same ID
/// card presented twice is flagged on its second record, naming the first.
#[test]
fn the_back_office_flags_a_clock_ahead_child_and_a_document_seen_twice() {
    let registry = RegistryProcess::start();
    let device = SyncDevice::provisioned(&registry, &registry.url());
    let (files, _) = write_enrolments(&device.dir.path().join("in"), 3);
    // Records 1 and 2: one card. (First: once the kiosk has seen 2040 its clock never goes
    // back, so everything sealed after the child would be flagged as clock-ahead too.)
    let first: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
    let mut second: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&files[1]).unwrap()).unwrap();
    second["demographics"]["document"] = first["demographics"]["document"].clone();
    std::fs::write(&files[1], second.to_string()).unwrap();
    device.enrol(&files[..2]);
    // Record 3: a four-year-old, sealed by a kiosk whose clock reads 14 years ahead.
    let this_year = time::OffsetDateTime::now_utc().year();
    let mut child: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&files[2]).unwrap()).unwrap();
    child["demographics"]["date_of_birth"] = format!("{}-01-15", this_year - 4).into();
    std::fs::write(&files[2], child.to_string()).unwrap();
    let sealed = Command::new("faketime")
        .arg(format!("{}-06-01 10:00:00", this_year + 14))
        .arg(sajili_tests::sajili_bin())
        .arg("--data")
        .arg(&device.data)
        .args(["enrol", "--json", files[2].to_str().unwrap()])
        .output()
        .expect("faketime is installed by scripts/setup");
    assert!(sealed.status.success(), "{}", stderr(&sealed));
    let output = device.run(&["uplink", "--once"]);
    assert!(output.status.success(), "{}", stderr(&output));

    let processed = registry.process();
    let shown = registry.show(&device.id);
    let all: Vec<&serde_json::Value> = shown.iter().map(|r| &r["flags"]).collect();
    assert!(
        processed.contains("Processed 3 record(s): 2 flagged"),
        "{processed}: {all:?}"
    );
    let codes = |seq: usize| -> Vec<String> {
        shown[seq - 1]["flags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["code"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(codes(1).is_empty(), "{:?}", codes(1));
    assert_eq!(codes(2), ["duplicate_document"]);
    let detail = shown[1]["flags"][0]["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("device {} record 1", device.id)),
        "{detail}"
    );
    assert!(
        codes(3).contains(&"clock_ahead".to_string()),
        "{:?}",
        codes(3)
    );
    let details: Vec<&str> = shown[2]["flags"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "form_rule")
        .map(|f| f["detail"].as_str().unwrap())
        .collect();
    assert!(
        details.iter().any(|d| d.contains("TooYoung { age: 4 }")),
        "{details:?}"
    );
    // Flags name rules and records, never the applicant.
    let stats = registry.run(&["stats"]);
    let listed = stdout(&stats);
    let flags: usize = shown
        .iter()
        .map(|r| r["flags"].as_array().unwrap().len())
        .sum();
    assert!(
        listed.contains(&format!("Flags        {flags} waiting")),
        "{listed}"
    );
    let number = first["demographics"]["document"]["number"]
        .as_str()
        .unwrap();
    let surname = first["demographics"]["names"]["surname"].as_str().unwrap();
    assert!(
        !listed.contains(number) && !listed.contains(surname),
        "{listed}"
    );
}
