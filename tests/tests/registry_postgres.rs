//! The registry on PostgreSQL, past one node: the same record sent to two nodes at once, and
//! the database restarted under a device's sync, each ending in an exactly-once check.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use sajili_tests::postgres::PgCluster;
use sajili_tests::proxy::{Proxy, ProxyConfig};
use sajili_tests::registry::{
    RegistryProcess, SyncDevice, assert_exactly_once, wait_until, write_enrolments,
};
use sajili_tests::stderr;

/// `PUT /v1/records/{seq}` of `file` to `node` with the device's certificate: status and body.
fn put_record(
    node: &RegistryProcess,
    device: &SyncDevice,
    seq: u64,
    file: &Path,
) -> (u16, Vec<u8>) {
    let dir = device.uplink_dir();
    let body = node.dir.path().join(format!("answer-{}-{seq}", node.port));
    let output = Command::new("curl")
        .args(["-sS", "--max-time", "30", "-X", "PUT", "--cacert"])
        .arg(node.keys.join("ca.crt"))
        .arg("--cert")
        .arg(dir.join("tls.crt"))
        .arg("--key")
        .arg(dir.join("tls.key"))
        .args([
            "-H",
            "Content-Type: application/octet-stream",
            "--data-binary",
        ])
        .arg(format!("@{}", file.display()))
        .args(["-o"])
        .arg(&body)
        .args(["-w", "%{http_code}"])
        .arg(format!("{}/v1/records/{seq}", node.url()))
        .output()
        .expect("curl is installed by scripts/setup");
    let status = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    (status, std::fs::read(&body).unwrap_or_default())
}

/// Ten records, each sent to both nodes at the same instant: every pair of answers is the same
/// receipt, byte for byte, and each record is stored once, the chain gapless.
#[test]
fn the_same_record_sent_to_two_nodes_at_once_commits_once_with_one_receipt() {
    let cluster = PgCluster::start();
    let mut nodes = RegistryProcess::init_nodes(Some(&cluster.url()), "127.0.0.1", 2);
    for node in &mut nodes {
        node.serve();
    }
    let device = SyncDevice::provisioned(&nodes[0], &nodes[0].url());
    let (files, surnames) = write_enrolments(&device.dir.path().join("in"), 10);
    let numbers = device.enrol(&files);
    let nodes = Arc::new(nodes);
    let device = Arc::new(device);
    for seq in 1..=10u64 {
        let envelope = device.outbox().join(format!("{seq:020}.sje"));
        assert!(envelope.is_file(), "{}", envelope.display());
        let start = Arc::new(Barrier::new(2));
        let answers: Vec<(u16, Vec<u8>)> = (0..2)
            .map(|node| {
                let (nodes, device, start, envelope) = (
                    nodes.clone(),
                    device.clone(),
                    start.clone(),
                    envelope.clone(),
                );
                std::thread::spawn(move || {
                    start.wait();
                    put_record(&nodes[node], &device, seq, &envelope)
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        assert_eq!(
            answers[0].0,
            200,
            "seq {seq}: {}",
            String::from_utf8_lossy(&answers[0].1)
        );
        assert_eq!(
            answers[1].0,
            200,
            "seq {seq}: {}",
            String::from_utf8_lossy(&answers[1].1)
        );
        assert_eq!(
            answers[0].1, answers[1].1,
            "seq {seq}: two receipts for one record"
        );
    }
    // The device learns where it stands and takes the receipts it has not seen.
    let output = device.run(&["uplink", "--once"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_exactly_once(&nodes[0], &device, &numbers, &surnames);
}

/// PostgreSQL stopped for 8 s while the uplink sends 40 records over a link slow enough
/// (300 kB/s) for the outage to land mid-sync: the node takes nothing meanwhile and says so on
/// /healthz, the uplink waits and goes on, and the registry ends with each record once.
#[test]
fn postgresql_restarted_mid_sync_loses_and_duplicates_nothing() {
    let mut cluster = PgCluster::start();
    let mut registry = RegistryProcess::init_nodes(Some(&cluster.url()), "127.0.0.1", 1).remove(0);
    registry.serve();
    let proxy = Proxy::start(
        registry.port,
        ProxyConfig {
            cuts: Vec::new(),
            rate: Some(300_000),
        },
    );
    let device = SyncDevice::provisioned(&registry, &proxy.url());
    let (files, surnames) = write_enrolments(&device.dir.path().join("in"), 40);
    let numbers = device.enrol(&files);
    let mut uplink = device.spawn_uplink();
    assert!(
        wait_until(Duration::from_secs(120), || registry.records_of(&device.id)
            >= 5),
        "{}",
        registry.log()
    );
    cluster.stop();
    // The node feels it: its health check says so while the database is away, and the
    // records it takes stand still.
    let health = registry.curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &format!("{}/healthz", registry.url()),
    ]);
    assert_eq!(health, "503");
    let taken_before = registry
        .metric("sajili_registry_records_received_total")
        .unwrap_or(0.0);
    std::thread::sleep(Duration::from_secs(8));
    assert_eq!(
        registry
            .metric("sajili_registry_records_received_total")
            .unwrap_or(0.0),
        taken_before,
        "records taken with no database"
    );
    cluster.start_again();
    assert!(taken_before < 40.0, "the outage came after the sync");
    assert!(
        wait_until(Duration::from_secs(180), || device.status()["queue_depth"]
            == 0),
        "{}\n{}",
        registry.log(),
        cluster.log()
    );
    let _ = uplink.kill();
    let _ = uplink.wait();
    assert!(registry.records_of(&device.id) == 40);
    assert_exactly_once(&registry, &device, &numbers, &surnames);
}

/// Two nodes on one database, the device's bundle listing both: the node it is sending to is
/// killed (SIGKILL) mid-sync; the uplink moves to the other, which knows where the chain
/// stands, and every record arrives once.
#[test]
fn one_of_two_nodes_killed_mid_sync_loses_and_duplicates_nothing() {
    let cluster = PgCluster::start();
    let mut nodes = RegistryProcess::init_nodes(Some(&cluster.url()), "127.0.0.1", 2);
    for node in &mut nodes {
        node.serve();
    }
    let device = SyncDevice::provisioned(&nodes[0], &nodes[0].url());
    let (files, surnames) = write_enrolments(&device.dir.path().join("in"), 300);
    let numbers = device.enrol(&files);
    let mut uplink = device.spawn_uplink();
    assert!(
        wait_until(Duration::from_secs(120), || nodes[0].records_of(&device.id)
            >= 10),
        "{}",
        nodes[0].log()
    );
    nodes[0].kill();
    let held_at_kill = nodes[1].records_of(&device.id);
    assert!(
        held_at_kill < 300,
        "the kill came after the sync: {held_at_kill}"
    );
    let drained = wait_until(Duration::from_secs(180), || {
        device.status()["queue_depth"] == 0
    });
    let _ = uplink.kill();
    let told = uplink.wait_with_output().unwrap();
    assert!(
        drained,
        "uplink: {}\nsecond node: {}",
        stderr(&told),
        nodes[1].log()
    );
    assert_exactly_once(&nodes[1], &device, &numbers, &surnames);
}
