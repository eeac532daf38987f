//! Registry ingest on PostgreSQL: many devices, each with its own identity, sending sealed
//! records at once to one node and then to two nodes on one database. Prints the figures
//! docs/registry-capacity.md is worked out from: records/s and MB/s, latency per batch, CPU
//! per 1,000 records for the nodes and for PostgreSQL, and the database's growth per record.
//!
//! ```text
//! cargo bench --locked -p sajili-tests --bench registry_ingest -- [--records N] [--devices N]
//!     [--batch N] [--batch-kb N] [--reconnect] [--photo WxH] [--nodes 1,2]
//! ```
//!
//! Defaults: 200 devices, 50 records each, batches of up to 64 records and 4,096 KB on one
//! connection per device, a 720 x 960 face photo (records of about 146 KB), runs of 1 and 2
//! nodes. `--batch 1 --reconnect` is a kiosk online all day: a request, a transaction and a
//! TLS handshake per record. It prints figures and never judges them; it does check, once at
//! the end of each run, that every device's chain is complete at the registry.
//!
//! Each device is provisioned through the real API (`POST /v1/provision`: its own TLS key, a
//! CSR and the proof signed with its own record-signing key, a one-time token), so the
//! registry has issued and recorded every certificate the way it does in the field. Tokens are
//! made through the registry's library on the same database: 200 `sajili-registry token`
//! processes would only add start-up time. Each device then sends from its own thread with its
//! own ureq agent and mutual-TLS configuration, the same client code the kiosk's uplink uses.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sajili::device::TrustBundle;
use sajili::record::{ChainSlot, Enrolment, Sealer, hex};
use sajili::uplink::client::Registry;
use sajili::uplink::protocol::{MAX_BATCH, ProvisionRequest};
use sajili::uplink::tls::{self, TrustedTime};
use sajili_tests::postgres::{POSTGRES_BIN, PgCluster};
use sajili_tests::registry::RegistryProcess;

/// How many different enrolments are sealed over and over (the sealed bytes all differ).
const ENROLMENTS: u64 = 2;
/// The face photo's size. The kiosk's own (240 x 320) makes a record of about 63 KB; this one
/// brings it to about the 150 KB the capacity figures are quoted for.
const DEFAULT_PHOTO: (u16, u16) = (720, 960);
/// Times a batch is sent again after a transient failure (503, a cut connection).
const MAX_RETRIES: u32 = 20;

/// What to run, from the command line.
struct Options {
    devices: usize,
    records: usize,
    batch_records: usize,
    batch_bytes: usize,
    nodes: Vec<usize>,
    photo: (u16, u16),
    reconnect: bool,
}

impl Options {
    fn parse() -> Options {
        let mut options = Options {
            devices: 200,
            records: 50,
            batch_records: MAX_BATCH,
            batch_bytes: 4096 << 10,
            nodes: vec![1, 2],
            photo: DEFAULT_PHOTO,
            reconnect: false,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut number = |default: usize| {
                args.next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n > 0)
                    .unwrap_or(default)
            };
            match arg.as_str() {
                "--records" => options.records = number(options.records),
                "--devices" => options.devices = number(options.devices),
                "--batch" => options.batch_records = number(MAX_BATCH).min(MAX_BATCH),
                "--batch-kb" => options.batch_bytes = number(4096) << 10,
                "--nodes" => {
                    let list = args.next().unwrap_or_default();
                    let nodes: Vec<usize> = list
                        .split(',')
                        .filter_map(|n| n.trim().parse().ok())
                        .filter(|n| *n > 0)
                        .collect();
                    if !nodes.is_empty() {
                        options.nodes = nodes;
                    }
                }
                "--reconnect" => options.reconnect = true,
                "--photo" => {
                    let text = args.next().unwrap_or_default();
                    if let Some((width, height)) = text.split_once('x')
                        && let (Ok(width), Ok(height)) = (width.parse(), height.parse())
                    {
                        options.photo = (width, height);
                    }
                }
                // `cargo bench` passes `--bench` to every bench target.
                _ => {}
            }
        }
        options
    }
}

/// One simulated device: its own record-signing key, TLS key and certificate.
struct DeviceIdentity {
    id: String,
    sealer: Sealer,
    /// Opens a client of the node it sends to, presenting its certificate.
    connect: Connect,
}

/// Makes a device's client (a ureq agent with its own pool of connections).
type Connect = Box<dyn Fn() -> Registry + Send + Sync>;

/// A device ready to send: its client and its sealed records in chain order.
struct DeviceLoad {
    connect: Connect,
    envelopes: Vec<Vec<u8>>,
}

/// What one device's sending came to.
#[derive(Default)]
struct DeviceOutcome {
    latencies: Vec<Duration>,
    retries: u32,
    failure: Option<String>,
}

/// The figures of one run.
struct Row {
    nodes: usize,
    records: u64,
    bytes: u64,
    seconds: f64,
    latencies: Vec<Duration>,
    registry_cpu: f64,
    postgres_cpu: f64,
    client_cpu: f64,
    database_bytes: u64,
    database_growth: u64,
    table: TableSize,
    wal_bytes: u64,
    retries: u32,
}

fn main() {
    let options = Options::parse();
    println!(
        "registry_ingest: {} devices x {} records, batches of up to {} record(s) / {} KB, {}, \
         PostgreSQL 15 (fsync on, default settings), {} CPU(s) shared with the load",
        options.devices,
        options.records,
        options.batch_records,
        options.batch_bytes >> 10,
        if options.reconnect {
            "a new connection per batch"
        } else {
            "one connection per device"
        },
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let started = Instant::now();
    let enrolments: Vec<Enrolment> = (1..=ENROLMENTS)
        .map(|seed| {
            let photo = sajili::fixtures::face_photo_jpeg(options.photo.0, options.photo.1, seed);
            sajili::fixtures::compact_enrolment(seed, Some(photo))
        })
        .collect();
    println!(
        "  {} enrolments made in {:.1} s",
        enrolments.len(),
        started.elapsed().as_secs_f64()
    );
    let rows: Vec<Row> = options
        .nodes
        .iter()
        .map(|&nodes| run(nodes, &options, &enrolments))
        .collect();
    print_table(&rows);
}

/// One run: a cluster and a registry of `nodes` nodes of their own, every device provisioned,
/// its records sealed, then all sending at once.
fn run(nodes: usize, options: &Options, enrolments: &[Enrolment]) -> Row {
    let cluster = PgCluster::start();
    let url = cluster.url();
    let mut registry = RegistryProcess::init_nodes(Some(&url), "127.0.0.1", nodes);
    for node in &mut registry {
        node.serve();
    }
    let started = Instant::now();
    let devices = provision_devices(&registry, &url, options.devices);
    println!(
        "  {nodes} node(s): {} devices provisioned through /v1/provision in {:.1} s",
        devices.len(),
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let sealed = seal_all(&devices, enrolments, options.records);
    let sealing = started.elapsed().as_secs_f64();
    let bytes: u64 = sealed.iter().flatten().map(|e| e.len() as u64).sum();
    let records = (devices.len() * options.records) as u64;
    println!(
        "  {nodes} node(s): {records} records sealed in {sealing:.1} s, {:.0} KB each on average",
        bytes as f64 / records as f64 / 1000.0
    );
    let ids: Vec<String> = devices.iter().map(|d| d.id.clone()).collect();
    let loads: Vec<DeviceLoad> = devices
        .into_iter()
        .zip(sealed)
        .map(|(device, envelopes)| DeviceLoad {
            connect: device.connect,
            envelopes,
        })
        .collect();

    let database_before = database_size(&url);
    let wal_before = wal_position(&url);
    let postmaster = postmaster_pid(&url);
    let ticks = clock_ticks();
    let registry_pids: Vec<u32> = registry
        .iter()
        .map(|node| node.pid().expect("serving"))
        .collect();
    let registry_before = cpu_of(&registry_pids);
    let postgres_before = postgres_cpu(postmaster);
    let client_before = cpu_of(&[std::process::id()]);

    let (outcomes, seconds) = send_all(loads, options);

    let registry_after = cpu_of(&registry_pids);
    let postgres_after = postgres_cpu(postmaster);
    let client_after = cpu_of(&[std::process::id()]);
    let wal_bytes = wal_since(&url, &wal_before);
    let database_bytes = database_size(&url);
    let table = table_size(&url);

    let failures: Vec<&String> = outcomes.iter().filter_map(|o| o.failure.as_ref()).collect();
    check_chains(&registry[0], &ids, options.records, &failures);
    let seconds_of = |ticks_used: u64| ticks_used as f64 / ticks;
    Row {
        nodes,
        records,
        bytes,
        seconds,
        latencies: outcomes
            .iter()
            .flat_map(|o| o.latencies.iter().copied())
            .collect(),
        registry_cpu: seconds_of(registry_after - registry_before),
        postgres_cpu: seconds_of(postgres_after - postgres_before),
        client_cpu: seconds_of(client_after - client_before),
        database_bytes,
        database_growth: database_bytes.saturating_sub(database_before),
        table,
        wal_bytes,
        retries: outcomes.iter().map(|o| o.retries).sum(),
    }
}

/// Makes `count` devices, each with its own keys, provisioned through the API with a token of
/// its own, spread over the nodes in turn. Checks that each certificate matches its key (the
/// uplink's `client_config` refuses one that does not).
fn provision_devices(
    registry: &[RegistryProcess],
    database: &str,
    count: usize,
) -> Vec<DeviceIdentity> {
    let bundle = TrustBundle::parse(&std::fs::read(&registry[0].bundle).expect("read the bundle"))
        .expect("the registry's bundle");
    let recipient = bundle.recipient().expect("the bundle's age recipient");
    let ca = bundle.ca_certificate_der().expect("the bundle's CA");
    let store = sajili_registry::store::open(database).expect("open the registry's database");
    let anonymous = tls::client_config(ca.clone(), None, TrustedTime { floor: 0 })
        .expect("a TLS configuration without a certificate");
    let clients: Vec<Registry> = registry
        .iter()
        .map(|node| Registry::new(&node.url(), anonymous.clone()))
        .collect();
    (0..count)
        .map(|index| {
            let node = index % registry.len();
            let url = registry[node].url();
            let token = sajili_registry::commands::new_token(&*store, 3600, None).expect("a token");
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).expect("randomness");
            let sealer = Sealer::new(SigningKey::from_bytes(&seed), recipient.clone());
            let id = sealer.device_id().to_string();
            let key = rcgen::KeyPair::generate().expect("a TLS key");
            let mut params = rcgen::CertificateParams::default();
            params.distinguished_name = rcgen::DistinguishedName::new();
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, id.clone());
            let csr = params.serialize_request(&key).expect("a CSR");
            let request = ProvisionRequest {
                token: Some(token),
                csr: csr.pem().expect("the CSR in PEM"),
                signing_key: hex(sealer.verifying_key().as_bytes()),
                proof: hex(&sealer.prove_tls_key(csr.der())),
            };
            let issued = clients[node].provision(&request).expect("provisioned");
            assert_eq!(issued.device_id, id, "the certificate names another device");
            let certificate = CertificateDer::from_pem_slice(issued.certificate.as_bytes())
                .expect("the certificate in PEM");
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
            let tls = tls::client_config(
                ca.clone(),
                Some((vec![certificate], key)),
                TrustedTime { floor: 0 },
            )
            .expect("the certificate matches the device's TLS key");
            DeviceIdentity {
                id,
                sealer,
                connect: Box::new(move || Registry::new(&url, tls.clone())),
            }
        })
        .collect()
}

/// Seals `records` records for every device, in chain order, on every CPU.
fn seal_all(
    devices: &[DeviceIdentity],
    enrolments: &[Enrolment],
    records: usize,
) -> Vec<Vec<Vec<u8>>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let share = devices.len().div_ceil(threads).max(1);
    let created_at = time::OffsetDateTime::now_utc().unix_timestamp();
    std::thread::scope(|scope| {
        let workers: Vec<_> = devices
            .chunks(share)
            .enumerate()
            .map(|(chunk, part)| {
                scope.spawn(move || {
                    part.iter()
                        .enumerate()
                        .map(|(offset, device)| {
                            let first = chunk * share + offset;
                            seal_chain(&device.sealer, enrolments, records, first, created_at)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().expect("a sealing thread"))
            .collect()
    })
}

/// One device's chain: seq 1..=records, each linked to the one before.
fn seal_chain(
    sealer: &Sealer,
    enrolments: &[Enrolment],
    records: usize,
    first: usize,
    created_at: i64,
) -> Vec<Vec<u8>> {
    let mut slot = ChainSlot::FIRST;
    (0..records)
        .map(|index| {
            let enrolment = &enrolments[(first + index) % enrolments.len()];
            let envelope = sealer
                .seal(enrolment, slot, created_at + index as i64)
                .expect("sealed");
            let bytes = envelope.to_bytes();
            slot = ChainSlot {
                seq: slot.seq + 1,
                prev_hash: sajili::record::sha256(&bytes),
            };
            bytes
        })
        .collect()
}

/// Every device in its own thread, released together; the wall time from the release until
/// the last one is done.
fn send_all(loads: Vec<DeviceLoad>, options: &Options) -> (Vec<DeviceOutcome>, f64) {
    let barrier = Arc::new(Barrier::new(loads.len() + 1));
    let (batch_records, batch_bytes) = (options.batch_records, options.batch_bytes);
    let reconnect = options.reconnect;
    let threads: Vec<_> = loads
        .into_iter()
        .map(|load| {
            let barrier = barrier.clone();
            std::thread::Builder::new()
                .stack_size(256 << 10)
                .spawn(move || send_device(load, &barrier, batch_records, batch_bytes, reconnect))
                .expect("a device thread")
        })
        .collect();
    barrier.wait();
    let started = Instant::now();
    let outcomes: Vec<DeviceOutcome> = threads
        .into_iter()
        .map(|thread| thread.join().expect("a device thread"))
        .collect();
    (outcomes, started.elapsed().as_secs_f64())
}

/// One device's records in batches, each sent again after a transient failure (its latency
/// runs from the first try to the answer that took it). With `reconnect`, each batch on a new
/// connection, as a kiosk sending one record every few minutes finds its last one closed.
fn send_device(
    load: DeviceLoad,
    barrier: &Barrier,
    batch_records: usize,
    batch_bytes: usize,
    reconnect: bool,
) -> DeviceOutcome {
    let mut client = (load.connect)();
    let mut outcome = DeviceOutcome::default();
    barrier.wait();
    for batch in batches(&load.envelopes, batch_records, batch_bytes) {
        if reconnect {
            client = (load.connect)();
        }
        let started = Instant::now();
        loop {
            match client.put_batch(&batch) {
                Ok(answer) if answer.refusal.is_none() && answer.receipts.len() == batch.len() => {
                    outcome.latencies.push(started.elapsed());
                    break;
                }
                Ok(answer) => {
                    outcome.failure = Some(format!(
                        "{} of {} records taken, refusal {:?}",
                        answer.receipts.len(),
                        batch.len(),
                        answer.refusal
                    ));
                    return outcome;
                }
                Err(error) if error.is_transient() && outcome.retries < MAX_RETRIES => {
                    outcome.retries += 1;
                    std::thread::sleep(Duration::from_millis(500));
                }
                Err(error) => {
                    outcome.failure = Some(error.to_string());
                    return outcome;
                }
            }
        }
    }
    outcome
}

/// Consecutive records in groups of at most `most` records and `bytes` bytes (at least one).
fn batches(envelopes: &[Vec<u8>], most: usize, bytes: usize) -> Vec<Vec<&[u8]>> {
    let mut out: Vec<Vec<&[u8]>> = Vec::new();
    let mut size = 0;
    for envelope in envelopes {
        match out.last_mut() {
            Some(batch) if batch.len() < most && size + envelope.len() <= bytes => {
                size += envelope.len();
                batch.push(envelope);
            }
            _ => {
                size = envelope.len();
                out.push(vec![envelope]);
            }
        }
    }
    out
}

/// The one correctness check: every device's chain complete with all its records.
fn check_chains(registry: &RegistryProcess, ids: &[String], records: usize, failures: &[&String]) {
    assert!(
        failures.is_empty(),
        "{} device(s) failed, first: {}",
        failures.len(),
        failures[0]
    );
    let stats = registry.stats();
    let chains = stats["chains"].as_array().expect("stats: chains");
    for id in ids {
        let chain = chains
            .iter()
            .find(|c| c["device"] == id.as_str())
            .unwrap_or_else(|| panic!("no chain for device {id}"));
        assert_eq!(chain["records"], records as u64, "device {id}: {chain}");
        assert_eq!(chain["complete"], true, "device {id}: {chain}");
    }
}

/// One value from the database `url`, through psql.
fn query(url: &str, sql: &str) -> String {
    let output = Command::new(Path::new(POSTGRES_BIN).join("psql"))
        .args(["-X", "-q", "-A", "-t", "-d", url, "-c", sql])
        .output()
        .expect("run psql");
    assert!(
        output.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

fn database_size(url: &str) -> u64 {
    query(url, "SELECT pg_database_size(current_database())")
        .parse()
        .expect("a size")
}

/// Where the `records` table's bytes are.
struct TableSize {
    /// The rows themselves: metadata and pointers into TOAST.
    heap: u64,
    /// Its three indexes.
    indexes: u64,
    /// The record bytes, out of line, with the TOAST table's index.
    toast: u64,
}

fn table_size(url: &str) -> TableSize {
    let text = query(
        url,
        "SELECT pg_relation_size(oid), pg_indexes_size(oid), pg_total_relation_size(reltoastrelid) \
         FROM pg_class WHERE relname = 'records'",
    );
    let sizes: Vec<u64> = text
        .split('|')
        .map(|n| n.parse().expect("a size"))
        .collect();
    TableSize {
        heap: sizes[0],
        indexes: sizes[1],
        toast: sizes[2],
    }
}

fn wal_position(url: &str) -> String {
    query(url, "SELECT pg_current_wal_lsn()")
}

/// WAL bytes written since `position`: what a streaming replica receives.
fn wal_since(url: &str, position: &str) -> u64 {
    query(
        url,
        &format!("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '{position}')::bigint"),
    )
    .parse()
    .expect("a WAL distance")
}

/// The postmaster's pid: the first line of postmaster.pid in the cluster's data directory.
fn postmaster_pid(url: &str) -> u32 {
    let data = PathBuf::from(query(url, "SHOW data_directory"));
    let text = std::fs::read_to_string(data.join("postmaster.pid")).expect("postmaster.pid");
    text.lines()
        .next()
        .and_then(|line| line.trim().parse().ok())
        .expect("a pid in postmaster.pid")
}

/// Clock ticks per second, the unit of /proc/<pid>/stat's times.
fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// The fields of /proc/<pid>/stat after the command name (field 3 onwards), if it still runs.
fn stat_fields(pid: u32) -> Option<Vec<u64>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: count from the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    Some(
        rest.split_whitespace()
            .map(|field| field.parse().unwrap_or(0))
            .collect(),
    )
}

// Indices into `stat_fields` (field n of proc(5) is index n - 3).
const PARENT: usize = 1;
const USER_TIME: usize = 11;
const SYSTEM_TIME: usize = 12;
const CHILDREN_USER_TIME: usize = 13;
const CHILDREN_SYSTEM_TIME: usize = 14;

/// User and system ticks of these processes, all their threads.
fn cpu_of(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|pid| stat_fields(*pid))
        .map(|fields| fields[USER_TIME] + fields[SYSTEM_TIME])
        .sum()
}

/// Ticks of the whole cluster: the postmaster, its live children (backends, checkpointer,
/// WAL writer, autovacuum), and the children it has already reaped.
fn postgres_cpu(postmaster: u32) -> u64 {
    let own = stat_fields(postmaster).expect("the postmaster runs");
    let reaped = own[CHILDREN_USER_TIME] + own[CHILDREN_SYSTEM_TIME];
    let children: u64 = std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(stat_fields)
        .filter(|fields| fields[PARENT] == u64::from(postmaster))
        .map(|fields| fields[USER_TIME] + fields[SYSTEM_TIME])
        .sum();
    own[USER_TIME] + own[SYSTEM_TIME] + reaped + children
}

/// The `p`-quantile (0..=1) of sorted durations, in milliseconds.
fn quantile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1000.0
}

fn print_table(rows: &[Row]) {
    println!(
        "nodes  records     MB      s  rec/s   MB/s  p50 ms  p99 ms  batches  retries  \
         CPU-s/1k rec: nodes  postgres  client  DB MB  DB B/rec  WAL B/rec  \
         B/rec: heap  indexes   toast"
    );
    for row in rows {
        let mut latencies = row.latencies.clone();
        latencies.sort();
        let per_thousand = |cpu: f64| cpu / row.records as f64 * 1000.0;
        println!(
            "{:>5}  {:>7}  {:>5.0}  {:>5.1}  {:>5.0}  {:>5.1}  {:>6.0}  {:>6.0}  {:>7}  {:>7}  \
             {:>19.2}  {:>8.2}  {:>6.2}  {:>5.0}  {:>8.0}  {:>9.0}  {:>11.0}  {:>7.0}  {:>6.0}",
            row.nodes,
            row.records,
            row.bytes as f64 / 1e6,
            row.seconds,
            row.records as f64 / row.seconds,
            row.bytes as f64 / 1e6 / row.seconds,
            quantile_ms(&latencies, 0.5),
            quantile_ms(&latencies, 0.99),
            latencies.len(),
            row.retries,
            per_thousand(row.registry_cpu),
            per_thousand(row.postgres_cpu),
            per_thousand(row.client_cpu),
            row.database_bytes as f64 / 1e6,
            row.database_growth as f64 / row.records as f64,
            row.wal_bytes as f64 / row.records as f64,
            row.table.heap as f64 / row.records as f64,
            row.table.indexes as f64 / row.records as f64,
            row.table.toast as f64 / row.records as f64,
        );
    }
}
