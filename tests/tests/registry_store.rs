//! The registry's store contract (`sajili_registry::store::contract`) run against both
//! engines, and what only PostgreSQL must survive: two nodes appending the same records at
//! once, and the database restarting under a running store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use sajili_registry::store::contract::{self, Chain, NOW, Signing};
use sajili_registry::store::postgres::PgStore;
use sajili_registry::store::redb::RedbStore;
use sajili_registry::store::{ChainStats, Store};
use sajili_tests::postgres::{DATABASE, PgCluster};

#[test]
fn redb_meets_the_store_contract() {
    let dir = tempfile::tempdir().unwrap();
    let made = AtomicUsize::new(0);
    contract::all(&|| {
        let number = made.fetch_add(1, Ordering::Relaxed);
        Box::new(RedbStore::open(&dir.path().join(format!("store-{number}"))).unwrap())
    });
}

#[test]
fn postgres_meets_the_store_contract() {
    let cluster = PgCluster::start();
    contract::all(&|| Box::new(PgStore::open(&cluster.fresh_database()).unwrap()));
}

#[test]
fn postgres_urls_name_the_socket_either_way() {
    let cluster = PgCluster::start();
    // The socket's directory as the URL's host, percent-encoded (what the harness gives).
    assert!(cluster.url().starts_with("postgres://postgres@%2Ftmp%2F"));
    PgStore::open(&cluster.url()).unwrap().ping().unwrap();
    // Or as a `host` parameter, as libpq also takes it.
    let url = format!(
        "postgresql://postgres@/{DATABASE}?host={}",
        cluster.socket_dir().display()
    );
    PgStore::open(&url).unwrap().ping().unwrap();
}

const DEVICES: usize = 20;
const RECORDS: u64 = 50;
const THREADS: usize = 8;

/// Sends every chain, in batches of `batch` records from seq 1, through `store`; returns the
/// receipt it was given for each (device, seq).
fn send_all(
    store: &dyn Store,
    chains: &[Chain],
    signing: &Signing,
    batch: u64,
    reverse: bool,
) -> BTreeMap<(String, u64), Vec<u8>> {
    let mut receipts = BTreeMap::new();
    let order: Vec<&Chain> = if reverse {
        chains.iter().rev().collect()
    } else {
        chains.iter().collect()
    };
    for chain in order {
        let mut next = 1;
        while next <= RECORDS {
            let last = (next + batch - 1).min(RECORDS);
            let appended = contract::append(
                store,
                &chain.device,
                &chain.batch(next..=last),
                signing,
                NOW,
            );
            // Every record this thread sent before is held, so nothing can be refused.
            assert_eq!(
                appended.refusal, None,
                "device {} from seq {next}",
                chain.device
            );
            for (seq, receipt) in (next..=last).zip(appended.receipts) {
                receipts.insert((chain.device.clone(), seq), receipt);
            }
            next = last + 1;
        }
    }
    receipts
}

#[test]
fn two_postgres_nodes_store_each_record_once() {
    let cluster = PgCluster::start();
    let url = cluster.url();
    // Both nodes start at once: the schema is made under an advisory lock.
    let (first, second) = std::thread::scope(|scope| {
        let first = scope.spawn(|| PgStore::open(&url).unwrap());
        let second = scope.spawn(|| PgStore::open(&url).unwrap());
        (first.join().unwrap(), second.join().unwrap())
    });
    let nodes: [&dyn Store; 2] = [&first, &second];
    let chains: Vec<Chain> = (0..DEVICES)
        .map(|index| Chain::new(&format!("concurrent-{index}"), RECORDS))
        .collect();
    let signers: Vec<Signing> = (0..THREADS)
        .map(|thread| Signing::new(&format!("thread-{thread}")))
        .collect();

    let results: Vec<BTreeMap<(String, u64), Vec<u8>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|thread| {
                let (chains, signing) = (&chains, &signers[thread]);
                let node = nodes[thread % 2];
                // Batches of 1 to 4, half the threads from the last device: threads meet on
                // the same device with overlapping batches.
                let batch = 1 + (thread as u64 % 4);
                let reverse = thread % 4 >= 2;
                scope.spawn(move || send_all(node, chains, signing, batch, reverse))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    let signed: u64 = signers.iter().map(Signing::count).sum();
    assert_eq!(
        signed,
        DEVICES as u64 * RECORDS,
        "each record is signed once, by whichever node stored it"
    );
    for receipts in &results {
        assert_eq!(receipts, &results[0], "every thread got the same receipts");
    }
    for ((device, seq), receipt) in &results[0] {
        assert_eq!(first.receipt(device, *seq).unwrap().as_ref(), Some(receipt));
    }
    let stats = second.stats().unwrap();
    assert_eq!(stats.records, DEVICES as u64 * RECORDS);
    let mut expected: Vec<ChainStats> = chains
        .iter()
        .map(|chain| ChainStats {
            device: chain.device.clone(),
            head: RECORDS,
            records: RECORDS,
            complete: true,
        })
        .collect();
    expected.sort_by(|a, b| a.device.cmp(&b.device));
    assert_eq!(stats.chains, expected, "gapless, fork-free chains");
    for chain in &chains {
        assert_eq!(first.head(&chain.device).unwrap(), chain.head(RECORDS));
    }
}

#[test]
fn a_postgres_restart_fails_calls_until_it_is_back() {
    let mut cluster = PgCluster::start();
    let store = PgStore::open_with_pool(&cluster.url(), 4).unwrap();
    let chain = Chain::new("restarted", 12);
    let signing = Signing::new("node");
    contract::append(&store, &chain.device, &chain.batch(1..=4), &signing, NOW);

    // Restarted between two calls: the pooled connection is stale, and the next call works
    // all the same, a write (its BEGIN fails, so it is safe to try again) as well as a read.
    cluster.restart();
    let appended = contract::append(&store, &chain.device, &chain.batch(5..=8), &signing, NOW);
    assert_eq!((appended.new, appended.refusal), (4, None));
    cluster.restart();
    assert_eq!(store.head(&chain.device).unwrap(), chain.head(8));

    // Down: every call fails (the API answers 503), and nothing is stored.
    cluster.stop();
    assert!(store.ping().is_err());
    assert!(store.head(&chain.device).is_err());
    let signing_before = signing.count();
    let refused = store.append(
        &chain.device,
        &chain.batch(9..=10),
        &|seq, hash, at| signing.sign(seq, hash, at),
        NOW,
    );
    assert!(
        refused.is_err(),
        "an append while the database is down must fail"
    );
    assert_eq!(signing.count(), signing_before);

    // Back: the same store carries on, without a restart of the registry.
    cluster.start_again();
    store.ping().unwrap();
    let appended = contract::append(&store, &chain.device, &chain.batch(9..=12), &signing, NOW);
    assert_eq!((appended.new, appended.refusal), (4, None));
    let stats = store.stats().unwrap();
    assert_eq!(stats.records, 12);
    assert!(
        stats.chains.iter().all(|chain| chain.complete),
        "{:?}",
        stats.chains
    );
}
