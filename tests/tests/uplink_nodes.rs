//! A registry of several nodes: the device's bundle lists them in order, and the uplink moves
//! to the next when the one it uses is down, so that every record still arrives exactly once.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

use sajili_tests::postgres::PgCluster;
use sajili_tests::proxy::{Proxy, ProxyConfig};
use sajili_tests::registry::{
    RegistryProcess, SyncDevice, assert_exactly_once, wait_until, write_enrolments,
};
use sajili_tests::{sajili, stderr, stdout};

/// The log line of a move from the node at `from` to the node at `to`.
fn failover_line(from: &str, to: &str) -> impl Fn(&str) -> bool + use<> {
    let failed = format!("registry node {from} failed");
    let next = format!("going on with {to}");
    move |log: &str| {
        log.lines()
            .any(|line| line.contains(&failed) && line.contains(&next))
    }
}

/// A device initialised with `bundle` (not the registry's own), and provisioned from it: no
/// `--registry`, so provisioning goes down the bundle's list as the uplink will.
fn device_with_bundle(registry: &RegistryProcess, bundle: &Path) -> (SyncDevice, String) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("device");
    let output = sajili(&data, &["init", "--bundle", bundle.to_str().unwrap()]);
    assert!(output.status.success(), "init: {}", stderr(&output));
    sajili_tests::add_fixture_staff(&data);
    let status: serde_json::Value =
        serde_json::from_str(&stdout(&sajili(&data, &["status", "--json"]))).unwrap();
    let device = SyncDevice {
        dir,
        data,
        id: status["device_id"].as_str().unwrap().to_string(),
    };
    let token = registry.token();
    let output = device.run(&["provision", "--token", &token]);
    assert!(output.status.success(), "provision: {}", stderr(&output));
    (device, stderr(&output))
}

/// The registry's bundle with its nodes replaced by `urls`, first choice first.
fn bundle_listing(registry: &RegistryProcess, urls: &[String]) -> PathBuf {
    let mut bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&registry.bundle).unwrap()).unwrap();
    bundle["registry_url"] = urls[0].clone().into();
    bundle["fallback_urls"] = urls[1..].to_vec().into();
    let path = registry
        .dir
        .path()
        .join(format!("bundle-{}.json", urls.len()));
    std::fs::write(&path, serde_json::to_vec_pretty(&bundle).unwrap()).unwrap();
    path
}

/// Stops an uplink started with `spawn_uplink`; what it logged.
fn stop(mut child: Child) -> String {
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_dead_node_listed_first_is_passed_over_and_every_record_arrives_once() {
    // redb admits one process per database: the first node is listed but never served, its
    // port closed, as a node that is down.
    let mut nodes = RegistryProcess::init_nodes(None, "127.0.0.1", 2);
    let mut live = nodes.pop().unwrap();
    let dead = nodes.pop().unwrap();
    live.serve();
    let bundle = bundle_listing(&live, &[dead.url(), live.url()]);
    let (device, provisioning) = device_with_bundle(&live, &bundle);
    let moved = failover_line(&dead.url(), &live.url());
    assert!(
        moved(&provisioning),
        "provisioning did not name the move: {provisioning}"
    );

    let (files, surnames) = write_enrolments(&device.dir.path().join("in"), 40);
    let mut numbers = device.enrol(&files[..30]);
    let output = device.run(&["uplink", "--once"]);
    assert!(output.status.success(), "uplink: {}", stderr(&output));
    assert!(
        moved(&stderr(&output)),
        "the uplink did not name the move: {}",
        stderr(&output)
    );
    assert_eq!(device.status()["uplink"]["node"], live.url().as_str());

    // The next run starts with the node that answered: nothing is tried on the dead one.
    numbers.extend(device.enrol(&files[30..]));
    let output = device.run(&["uplink", "--once"]);
    assert!(output.status.success(), "uplink: {}", stderr(&output));
    assert!(
        !stderr(&output).contains(&dead.url()),
        "the dead node was tried again: {}",
        stderr(&output)
    );
    assert_exactly_once(&live, &device, &numbers, &surnames);
}

#[test]
fn a_node_killed_mid_sync_hands_over_to_the_next_on_the_same_database() {
    const RECORDS: u64 = 150;
    let cluster = PgCluster::start();
    let mut nodes = RegistryProcess::init_nodes(Some(&cluster.url()), "127.0.0.1", 2);
    for node in &mut nodes {
        node.serve();
    }
    // The first node is reached through a link slow enough (4 MB/s per connection, some 7 s
    // for the lot) that it is surely killed while records are on their way.
    let slow = Proxy::start(
        nodes[0].port,
        ProxyConfig {
            cuts: Vec::new(),
            rate: Some(4_000_000),
        },
    );
    let bundle = bundle_listing(&nodes[0], &[slow.url(), nodes[1].url()]);
    let (device, _) = device_with_bundle(&nodes[0], &bundle);
    let (files, surnames) = write_enrolments(&device.dir.path().join("in"), RECORDS as usize);
    let numbers = device.enrol(&files);

    let uplink = device.spawn_uplink();
    let started = wait_until(Duration::from_secs(120), || {
        nodes[1].records_of(&device.id) >= 15
    });
    assert!(started, "the first node never took 15 records");
    nodes[0].kill();
    let held = nodes[1].records_of(&device.id);
    assert!(
        held < RECORDS,
        "the kill came after the sync had finished ({held} records held)"
    );
    let done = wait_until(Duration::from_secs(180), || {
        nodes[1].records_of(&device.id) == RECORDS && device.receipts_filed(RECORDS) == RECORDS
    });
    std::thread::sleep(Duration::from_millis(300));
    let log = stop(uplink);
    assert!(done, "the second node did not take the rest: {log}");
    assert!(
        failover_line(&slow.url(), &nodes[1].url())(&log),
        "the uplink did not name the move: {log}"
    );
    assert_exactly_once(&nodes[1], &device, &numbers, &surnames);
}
