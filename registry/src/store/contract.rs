//! What every [`Store`] engine must do, as checks that panic when it does not: one harness
//! runs them against the embedded engine and against PostgreSQL (`tests/tests/registry_store.rs`),
//! so the two cannot drift apart.
//!
//! The records are real sealed envelopes of made-up devices (a fixed key per name, a few
//! random-looking bytes as ciphertext), so engines that read envelopes back see valid ones.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};

use ed25519_dalek::SigningKey;
use sajili_record::record::{DeviceId, Envelope, hex, sha256};

use super::fleet::{CentreKind, PublishedUpdate, Role, Settings, UpdateTarget};
use super::{
    Appended, AuditEntry, CentreEntry, ChainRefusal, ChainStats, Checked, DeviceEntry,
    DeviceOverview, Hash, Head, Incident, Meta, PartOutcome, Processed, Provision,
    ProvisionRefusal, StaffMember, Store, TokenEntry, Withdrawal, WithdrawnDevice, day_of,
};

/// The clock the checks run at (mid-2025), Unix seconds.
pub const NOW: i64 = 1_750_000_000;

/// A made-up device's chain of sealed records, 1..=length.
pub struct Chain {
    /// The device id its key gives.
    pub device: String,
    /// Its record-signing key, hex (what it provisions with).
    pub signing_key: String,
    envelopes: Vec<Vec<u8>>,
}

impl Chain {
    /// The chain of the device called `name`, of `length` records.
    pub fn new(name: &str, length: u64) -> Chain {
        Chain::with_salt(name, length, 0)
    }

    /// The same device's chain with other contents (`salt` changes every ciphertext): its
    /// records are other bytes for the same seqs, and from seq 2 on link to other hashes.
    pub fn with_salt(name: &str, length: u64, salt: u8) -> Chain {
        let key = SigningKey::from_bytes(&sha256(name.as_bytes()));
        let verifying = key.verifying_key();
        let device = DeviceId::from_digest(&sha256(verifying.as_bytes()));
        let mut prev_hash = [0u8; 32];
        let mut envelopes = Vec::new();
        for seq in 1..=length {
            let ciphertext: Vec<u8> =
                sha256(&[name.as_bytes(), &seq.to_be_bytes(), &[salt]].concat())
                    .iter()
                    .cycle()
                    .take(96)
                    .copied()
                    .collect();
            let envelope = Envelope::sign(
                &key,
                device,
                seq,
                prev_hash,
                NOW - 86_400 + seq as i64,
                sha256(&ciphertext),
                ciphertext,
            )
            .expect("a small envelope");
            let bytes = envelope.to_bytes();
            prev_hash = sha256(&bytes);
            envelopes.push(bytes);
        }
        Chain {
            device: device.as_str().to_string(),
            signing_key: hex(verifying.as_bytes()),
            envelopes,
        }
    }

    /// The envelope of `seq`.
    pub fn bytes(&self, seq: u64) -> &[u8] {
        &self.envelopes[usize::try_from(seq - 1).unwrap()]
    }

    /// Record `seq`, as the API hands it to the store.
    pub fn checked(&self, seq: u64) -> Checked<'_> {
        let bytes = self.bytes(seq);
        let envelope = Envelope::from_bytes(bytes).unwrap();
        Checked {
            seq,
            bytes,
            hash: sha256(bytes),
            prev_hash: envelope.prev_hash,
            created_at: envelope.created_at,
        }
    }

    /// Records `seqs`, in that order.
    pub fn batch(&self, seqs: impl IntoIterator<Item = u64>) -> Vec<Checked<'_>> {
        seqs.into_iter().map(|seq| self.checked(seq)).collect()
    }

    /// The head after records 1..=seq.
    pub fn head(&self, seq: u64) -> Head {
        Head {
            seq,
            hash: sha256(self.bytes(seq)),
        }
    }

    /// A provisioning of this device with `token` (its text) at `now`.
    pub fn provision<'a>(&'a self, token_hash: Option<&'a str>, now: i64) -> Provision<'a> {
        Provision {
            device: &self.device,
            signing_key: &self.signing_key,
            token_hash,
            now,
            certificate_not_after: now + 365 * 86_400,
        }
    }
}

/// A receipt signer that never signs the same way twice (a counter in every receipt), so a
/// repeat that gets identical receipt bytes got the stored ones.
pub struct Signing {
    node: String,
    signed: AtomicU64,
}

impl Signing {
    /// A signer for the node called `node`.
    pub fn new(node: &str) -> Signing {
        Signing {
            node: node.to_string(),
            signed: AtomicU64::new(0),
        }
    }

    /// A receipt for (seq, hash, received at).
    pub fn sign(&self, seq: u64, hash: Hash, received_at: i64) -> Vec<u8> {
        let count = self.signed.fetch_add(1, Ordering::Relaxed);
        format!("{}:{seq}:{}:{received_at}:{count}", self.node, hex(&hash)).into_bytes()
    }

    /// Receipts signed so far.
    pub fn count(&self) -> u64 {
        self.signed.load(Ordering::Relaxed)
    }
}

/// Appends `records` of `device`, received at `at`, signed by `signing`.
pub fn append(
    store: &dyn Store,
    device: &str,
    records: &[Checked<'_>],
    signing: &Signing,
    at: i64,
) -> Appended {
    store
        .append(
            device,
            records,
            &|seq, hash, received| signing.sign(seq, hash, received),
            at,
        )
        .unwrap()
}

/// The SHA-256 hex a token is kept by.
pub fn token_hash(text: &str) -> String {
    hex(&sha256(text.as_bytes()))
}

/// A token made at `NOW - 10`, unused.
pub fn token(expires_at: Option<i64>) -> TokenEntry {
    TokenEntry {
        created_at: NOW - 10,
        used_by: None,
        expires_at,
        revoked: false,
        centre: None,
    }
}

/// One check of the contract.
type Check = fn(&dyn Store);

/// Runs every check, each on a new, empty store from `store_factory`.
pub fn all(store_factory: &dyn Fn() -> Box<dyn Store>) {
    let checks: &[(&str, Check)] = &[
        ("meta_is_stored_once", meta_is_stored_once),
        ("tokens_are_single_use", tokens_are_single_use),
        ("expired_tokens_are_refused", expired_tokens_are_refused),
        ("revoked_tokens_are_refused", revoked_tokens_are_refused),
        (
            "provisioning_refusals_write_nothing",
            provisioning_refusals_write_nothing,
        ),
        ("certificates_are_renewed", certificates_are_renewed),
        ("appends_are_exactly_once", appends_are_exactly_once),
        ("gaps_are_refused", gaps_are_refused),
        (
            "forks_and_other_bytes_are_refused",
            forks_and_other_bytes_are_refused,
        ),
        (
            "batches_stop_at_the_first_refusal",
            batches_stop_at_the_first_refusal,
        ),
        ("parts_are_assembled", parts_are_assembled),
        (
            "incidents_are_kept_and_pruned",
            incidents_are_kept_and_pruned,
        ),
        (
            "processing_flags_duplicate_documents",
            processing_flags_duplicate_documents,
        ),
        ("stats_count_complete_chains", stats_count_complete_chains),
        ("records_are_counted_per_day", records_are_counted_per_day),
        (
            "devices_are_listed_for_operators",
            devices_are_listed_for_operators,
        ),
        (
            "fleet_changes_raise_the_version",
            fleet_changes_raise_the_version,
        ),
        ("fleet_snapshots_filter_staff", fleet_snapshots_filter_staff),
        (
            "centre_tokens_set_the_device_centre",
            centre_tokens_set_the_device_centre,
        ),
        (
            "withdrawn_devices_cannot_provision",
            withdrawn_devices_cannot_provision,
        ),
        ("audit_events_are_kept_once", audit_events_are_kept_once),
        (
            "policies_keep_the_highest_version",
            policies_keep_the_highest_version,
        ),
        (
            "concurrent_fleet_changes_get_distinct_versions",
            concurrent_fleet_changes_get_distinct_versions,
        ),
        (
            "updates_are_published_replaced_and_unpublished",
            updates_are_published_replaced_and_unpublished,
        ),
        (
            "a_bundle_to_two_targets_is_two_publications",
            a_bundle_to_two_targets_is_two_publications,
        ),
        (
            "amendments_are_linked_both_ways",
            amendments_are_linked_both_ways,
        ),
    ];
    for (name, check) in checks {
        let store = store_factory();
        eprintln!("store contract: {name} ({})", store.engine());
        check(store.as_ref());
    }
}

/// The public facts are stored once; a second registry in the same database is refused.
pub fn meta_is_stored_once(store: &dyn Store) {
    store.ping().unwrap();
    assert_eq!(store.meta().unwrap(), None);
    let meta = Meta {
        receipt_key: "ab".repeat(32),
        age_recipient: "age1example".into(),
        created_at: NOW,
    };
    store.init_meta(&meta).unwrap();
    assert_eq!(store.meta().unwrap(), Some(meta.clone()));
    let other = Meta {
        receipt_key: "cd".repeat(32),
        ..meta.clone()
    };
    assert!(
        store.init_meta(&other).is_err(),
        "a second init_meta must be refused"
    );
    assert_eq!(store.meta().unwrap(), Some(meta));
}

/// A token serves one device: another device is refused, the same device again is a
/// re-issue (its first answer may have been lost).
pub fn tokens_are_single_use(store: &dyn Store) {
    let first = Chain::new("first", 0);
    let second = Chain::new("second", 0);
    let hash = token_hash("one-token");
    store.add_token(&hash, &token(None)).unwrap();

    let entry = store
        .provision(&first.provision(Some(&hash), NOW))
        .unwrap()
        .unwrap();
    assert_eq!(
        entry,
        DeviceEntry {
            signing_key: first.signing_key.clone(),
            provisioned_at: NOW,
            certificates: 1,
            certificate_not_after: Some(NOW + 365 * 86_400),
            centre: None,
            withdrawn: None,
        }
    );
    assert_eq!(store.device(&first.device).unwrap(), Some(entry));

    assert_eq!(
        store
            .provision(&second.provision(Some(&hash), NOW + 1))
            .unwrap(),
        Err(ProvisionRefusal::TokenUsed)
    );
    assert_eq!(store.device(&second.device).unwrap(), None);

    let again = store
        .provision(&first.provision(Some(&hash), NOW + 2))
        .unwrap()
        .unwrap();
    assert_eq!(again.certificates, 2);
    assert_eq!(
        again.provisioned_at, NOW,
        "a re-issue keeps the first provisioning time"
    );
    let without = store
        .provision(&first.provision(None, NOW + 3))
        .unwrap()
        .unwrap();
    assert_eq!(without.certificates, 3);
    assert_eq!(without.certificate_not_after, Some(NOW + 3 + 365 * 86_400));

    let stats = store.stats().unwrap();
    assert_eq!((stats.devices, stats.tokens, stats.tokens_used), (1, 1, 1));
}

/// An unused token whose time ran out is refused; the device that used it in time may come
/// back with it later.
pub fn expired_tokens_are_refused(store: &dyn Store) {
    let late = Chain::new("late", 0);
    let early = Chain::new("early", 0);
    let expired = token_hash("expired");
    store.add_token(&expired, &token(Some(NOW))).unwrap();
    assert_eq!(
        store
            .provision(&late.provision(Some(&expired), NOW))
            .unwrap(),
        Err(ProvisionRefusal::TokenExpired)
    );
    assert_eq!(store.device(&late.device).unwrap(), None);

    let timely = token_hash("timely");
    store.add_token(&timely, &token(Some(NOW + 100))).unwrap();
    store
        .provision(&early.provision(Some(&timely), NOW))
        .unwrap()
        .unwrap();
    let back = store
        .provision(&early.provision(Some(&timely), NOW + 200))
        .unwrap();
    assert_eq!(back.map(|entry| entry.certificates), Ok(2));
}

/// An operator withdraws unused tokens only; a withdrawn token is refused.
pub fn revoked_tokens_are_refused(store: &dyn Store) {
    let device = Chain::new("revoked", 0);
    let user = Chain::new("user", 0);
    assert!(!store.revoke_token(&token_hash("never made")).unwrap());

    let hash = token_hash("withdrawn");
    store.add_token(&hash, &token(None)).unwrap();
    assert!(store.revoke_token(&hash).unwrap());
    assert!(!store.revoke_token(&hash).unwrap(), "already revoked");
    assert_eq!(
        store
            .provision(&device.provision(Some(&hash), NOW))
            .unwrap(),
        Err(ProvisionRefusal::TokenRevoked)
    );

    let used = token_hash("used");
    store.add_token(&used, &token(None)).unwrap();
    store
        .provision(&user.provision(Some(&used), NOW))
        .unwrap()
        .unwrap();
    assert!(
        !store.revoke_token(&used).unwrap(),
        "a used token cannot be withdrawn"
    );

    let stats = store.stats().unwrap();
    assert_eq!(
        (stats.tokens, stats.tokens_used, stats.tokens_revoked),
        (2, 1, 1)
    );
}

/// Unknown tokens, new devices without one and other keys for a known id are refused, and a
/// refusal uses no token and stores no device.
pub fn provisioning_refusals_write_nothing(store: &dyn Store) {
    let device = Chain::new("device", 0);
    assert_eq!(
        store
            .provision(&device.provision(Some(&token_hash("made up")), NOW))
            .unwrap(),
        Err(ProvisionRefusal::TokenUnknown)
    );
    assert_eq!(
        store.provision(&device.provision(None, NOW)).unwrap(),
        Err(ProvisionRefusal::TokenRequired)
    );
    assert_eq!(store.device(&device.device).unwrap(), None);

    let hash = token_hash("good");
    store.add_token(&hash, &token(None)).unwrap();
    store
        .provision(&device.provision(Some(&hash), NOW))
        .unwrap()
        .unwrap();

    // The same id with another key, presenting a fresh token: refused, token left unused.
    let spare = token_hash("spare");
    store.add_token(&spare, &token(None)).unwrap();
    let other_key = "00".repeat(32);
    let impostor = Provision {
        signing_key: &other_key,
        ..device.provision(Some(&spare), NOW + 1)
    };
    assert_eq!(
        store.provision(&impostor).unwrap(),
        Err(ProvisionRefusal::KeyConflict)
    );
    let without_token = Provision {
        token_hash: None,
        ..impostor.clone()
    };
    assert_eq!(
        store.provision(&without_token).unwrap(),
        Err(ProvisionRefusal::KeyConflict)
    );
    let stats = store.stats().unwrap();
    assert_eq!(
        (stats.tokens, stats.tokens_used),
        (2, 1),
        "the spare token stays unused"
    );
    let entry = store.device(&device.device).unwrap().unwrap();
    assert_eq!(
        (entry.signing_key, entry.certificates),
        (device.signing_key.clone(), 1)
    );

    // The spare still works for a new device.
    let other = Chain::new("other", 0);
    assert!(
        store
            .provision(&other.provision(Some(&spare), NOW + 2))
            .unwrap()
            .is_ok()
    );
}

/// A renewal counts a certificate and notes its expiry; an unknown device is left alone.
pub fn certificates_are_renewed(store: &dyn Store) {
    let device = Chain::new("renewing", 0);
    let hash = token_hash("renewing");
    store.add_token(&hash, &token(None)).unwrap();
    store
        .provision(&device.provision(Some(&hash), NOW))
        .unwrap()
        .unwrap();
    store
        .certificate_renewed(&device.device, NOW + 900_000)
        .unwrap();
    let entry = store.device(&device.device).unwrap().unwrap();
    assert_eq!(entry.certificates, 2);
    assert_eq!(entry.certificate_not_after, Some(NOW + 900_000));

    store.certificate_renewed("UNKNOWN0", NOW).unwrap();
    assert_eq!(store.device("UNKNOWN0").unwrap(), None);
}

/// A record is stored once: sent again, alone or in a batch, it gets the stored receipt.
pub fn appends_are_exactly_once(store: &dyn Store) {
    let chain = Chain::new("exactly-once", 4);
    let signing = Signing::new("node");
    assert_eq!(store.head(&chain.device).unwrap(), Head::EMPTY);

    let first = append(store, &chain.device, &chain.batch(1..=3), &signing, NOW);
    assert_eq!(
        (first.new, first.refusal, first.receipts.len()),
        (3, None, 3)
    );
    assert_eq!(store.head(&chain.device).unwrap(), chain.head(3));
    let sent: usize = (1..=3).map(|seq| chain.bytes(seq).len()).sum();
    assert_eq!(first.new_bytes, sent as u64);
    for (seq, receipt) in (1..=3).zip(&first.receipts) {
        assert_eq!(
            store.receipt(&chain.device, seq).unwrap().as_ref(),
            Some(receipt)
        );
        assert_eq!(
            store.record(&chain.device, seq).unwrap().as_deref(),
            Some(chain.bytes(seq))
        );
    }

    let repeat = append(
        store,
        &chain.device,
        &chain.batch(1..=3),
        &signing,
        NOW + 60,
    );
    assert_eq!(
        repeat,
        Appended {
            new: 0,
            new_bytes: 0,
            ..first.clone()
        }
    );
    let alone = append(store, &chain.device, &chain.batch([2]), &signing, NOW + 120);
    assert_eq!(alone.receipts, vec![first.receipts[1].clone()]);
    assert_eq!(signing.count(), 3, "a repeat is not signed again");
    assert_eq!(store.receipt(&chain.device, 4).unwrap(), None);
    assert_eq!(store.record(&chain.device, 4).unwrap(), None);

    // A record twice in one batch: stored by the first, held by the second.
    let twice = append(
        store,
        &chain.device,
        &chain.batch([4, 4]),
        &signing,
        NOW + 180,
    );
    assert_eq!((twice.new, twice.refusal), (1, None));
    assert_eq!(twice.receipts.len(), 2);
    assert_eq!(twice.receipts[0], twice.receipts[1]);
    assert_eq!(store.head(&chain.device).unwrap(), chain.head(4));

    let stats = store.stats().unwrap();
    assert_eq!(stats.records, 4);
    let bytes: u64 = (1..=4).map(|seq| chain.bytes(seq).len() as u64).sum();
    assert_eq!(stats.record_bytes, bytes);
    let arrivals: Vec<(u64, i64)> = store
        .unprocessed(10)
        .unwrap()
        .into_iter()
        .map(|arrival| (arrival.seq, arrival.received_at))
        .collect();
    assert_eq!(arrivals, vec![(1, NOW), (2, NOW), (3, NOW), (4, NOW + 180)]);
}

/// A record after a missing one is refused with the seq expected; nothing is stored, and a
/// device refused before its first record has no chain.
pub fn gaps_are_refused(store: &dyn Store) {
    let chain = Chain::new("gappy", 3);
    let signing = Signing::new("node");
    let early = append(store, &chain.device, &chain.batch([2]), &signing, NOW);
    assert_eq!(early.refusal, Some((2, ChainRefusal::Gap { expected: 1 })));
    assert_eq!((early.new, early.receipts.len()), (0, 0));
    assert_eq!(store.head(&chain.device).unwrap(), Head::EMPTY);
    assert!(
        store.stats().unwrap().chains.is_empty(),
        "a refused device has no chain"
    );

    append(store, &chain.device, &chain.batch([1]), &signing, NOW);
    let gap = append(store, &chain.device, &chain.batch([3]), &signing, NOW);
    assert_eq!(gap.refusal, Some((3, ChainRefusal::Gap { expected: 2 })));
    assert_eq!(store.head(&chain.device).unwrap(), chain.head(1));
    assert_eq!(store.record(&chain.device, 3).unwrap(), None);
}

/// Other bytes for a held seq, and a record that does not link to the head, are refused.
pub fn forks_and_other_bytes_are_refused(store: &dyn Store) {
    let chain = Chain::new("forked", 2);
    let other = Chain::with_salt("forked", 3, 1);
    assert_eq!(chain.device, other.device);
    let signing = Signing::new("node");
    append(store, &chain.device, &chain.batch(1..=2), &signing, NOW);

    let replaced = append(store, &chain.device, &other.batch([1]), &signing, NOW);
    assert_eq!(replaced.refusal, Some((1, ChainRefusal::OtherBytes)));
    assert_eq!(
        store.record(&chain.device, 1).unwrap().as_deref(),
        Some(chain.bytes(1))
    );

    let fork = append(store, &chain.device, &other.batch([3]), &signing, NOW);
    assert_eq!(fork.refusal, Some((3, ChainRefusal::Fork { head: 2 })));
    assert_eq!(store.head(&chain.device).unwrap(), chain.head(2));
    assert_eq!(signing.count(), 2);
}

/// A batch keeps every record before its first refusal and does not look past it.
pub fn batches_stop_at_the_first_refusal(store: &dyn Store) {
    let chain = Chain::new("batched", 5);
    let other = Chain::with_salt("batched", 5, 1);
    let signing = Signing::new("node");
    let mixed = [
        chain.checked(1),
        chain.checked(2),
        chain.checked(4),
        chain.checked(3),
    ];
    let first = append(store, &chain.device, &mixed, &signing, NOW);
    assert_eq!((first.new, first.receipts.len()), (2, 2));
    assert_eq!(first.refusal, Some((4, ChainRefusal::Gap { expected: 3 })));
    assert_eq!(
        store.record(&chain.device, 3).unwrap(),
        None,
        "not looked at"
    );

    let forked = [
        chain.checked(3),
        chain.checked(1),
        other.checked(4),
        chain.checked(4),
    ];
    let second = append(store, &chain.device, &forked, &signing, NOW);
    assert_eq!((second.new, second.receipts.len()), (1, 2));
    assert_eq!(second.receipts[1], first.receipts[0]);
    assert_eq!(second.refusal, Some((4, ChainRefusal::Fork { head: 3 })));
    assert_eq!(store.head(&chain.device).unwrap(), chain.head(3));
    assert_eq!(store.record(&chain.device, 4).unwrap(), None);
}

/// Parts build a record only from where the held bytes end; too many bytes drop the upload;
/// appending the record drops its parts.
pub fn parts_are_assembled(store: &dyn Store) {
    let chain = Chain::new("parted", 1);
    let device = chain.device.as_str();
    let whole = chain.bytes(1);
    let total = whole.len() as u64;
    assert_eq!(store.part_len(device, 1).unwrap(), 0);
    assert_eq!(
        store.put_part(device, 1, 0, &whole[..100], total).unwrap(),
        PartOutcome::Progress(100)
    );
    assert_eq!(
        store
            .put_part(device, 1, 50, &whole[50..120], total)
            .unwrap(),
        PartOutcome::Mismatch { held: 100 }
    );
    assert_eq!(store.part_len(device, 1).unwrap(), 100);
    assert_eq!(
        store
            .put_part(device, 1, 100, &whole[100..], total)
            .unwrap(),
        PartOutcome::Complete(whole.to_vec())
    );
    assert_eq!(
        store.part_len(device, 1).unwrap(),
        total,
        "held until appended"
    );
    assert_eq!(store.stats().unwrap().uploads_in_progress, 1);
    append(store, device, &chain.batch([1]), &Signing::new("node"), NOW);
    assert_eq!(store.part_len(device, 1).unwrap(), 0);
    assert_eq!(store.stats().unwrap().uploads_in_progress, 0);

    assert_eq!(
        store.put_part(device, 2, 0, b"12345", 8).unwrap(),
        PartOutcome::Progress(5)
    );
    assert_eq!(
        store.put_part(device, 2, 5, b"67890", 8).unwrap(),
        PartOutcome::Overlong
    );
    assert_eq!(store.part_len(device, 2).unwrap(), 0);

    assert_eq!(
        store.put_part(device, 3, 3, b"late", 10).unwrap(),
        PartOutcome::Mismatch { held: 0 }
    );
    assert_eq!(
        store.stats().unwrap().uploads_in_progress,
        0,
        "a mismatch holds nothing"
    );
}

fn refusal(at: i64, device: &str, seq: Option<u64>) -> Incident {
    Incident {
        at,
        device: device.to_string(),
        seq,
        code: "chain_gap".into(),
        message: format!("refusal at {at}"),
    }
}

/// Refusals are kept in order, the latest 20 shown newest last, and pruned by age.
pub fn incidents_are_kept_and_pruned(store: &dyn Store) {
    for at in 0..25 {
        let seq = (at % 2 == 0).then_some(at as u64);
        store.incident(&refusal(NOW + at, "DEVICE01", seq)).unwrap();
    }
    let stats = store.stats().unwrap();
    assert_eq!(stats.incidents, 25);
    let expected: Vec<Incident> = (5..25)
        .map(|at| refusal(NOW + at, "DEVICE01", (at % 2 == 0).then_some(at as u64)))
        .collect();
    assert_eq!(stats.recent_incidents, expected);

    assert_eq!(store.prune_incidents(NOW + 10).unwrap(), 10);
    assert_eq!(store.prune_incidents(NOW + 10).unwrap(), 0);
    let stats = store.stats().unwrap();
    assert_eq!(stats.incidents, 15);
    assert_eq!(
        stats.recent_incidents.first(),
        Some(&refusal(NOW + 10, "DEVICE01", Some(10)))
    );
}

/// The back office gets records oldest arrival first; its flags are stored with the record
/// marked processed, and a document seen before is flagged, naming the first record only.
pub fn processing_flags_duplicate_documents(store: &dyn Store) {
    let first = Chain::new("first-office", 2);
    let second = Chain::new("second-office", 1);
    let signing = Signing::new("node");
    append(
        store,
        &second.device,
        &second.batch([1]),
        &signing,
        NOW - 50,
    );
    append(store, &first.device, &first.batch(1..=2), &signing, NOW);

    let order: Vec<(String, u64)> = store
        .unprocessed(10)
        .unwrap()
        .into_iter()
        .map(|arrival| (arrival.device, arrival.seq))
        .collect();
    assert_eq!(
        order,
        vec![
            (second.device.clone(), 1),
            (first.device.clone(), 1),
            (first.device.clone(), 2)
        ]
    );
    let limited = store.unprocessed(1).unwrap();
    assert_eq!(limited.len(), 1);
    assert_eq!(limited[0].bytes, second.bytes(1));
    assert_eq!(limited[0].received_at, NOW - 50);

    let key = "document-key-1".to_string();
    let rule = super::Flag {
        device: first.device.clone(),
        seq: 1,
        code: "form_rule".into(),
        detail: "a rule failed".into(),
        at: NOW + 1,
    };
    let stored = store
        .processed(&Processed {
            device: &first.device,
            seq: 1,
            flags: vec![rule.clone()],
            amends: None,
            document_key: Some(key.clone()),
            at: NOW + 1,
        })
        .unwrap();
    assert_eq!(stored, vec![rule.clone()]);

    let duplicate = store
        .processed(&Processed {
            device: &second.device,
            seq: 1,
            flags: Vec::new(),
            amends: None,
            document_key: Some(key.clone()),
            at: NOW + 2,
        })
        .unwrap();
    assert_eq!(duplicate.len(), 1);
    let flag = &duplicate[0];
    assert_eq!(
        (flag.device.as_str(), flag.seq),
        (second.device.as_str(), 1)
    );
    assert_eq!(
        (flag.code.as_str(), flag.at),
        ("duplicate_document", NOW + 2)
    );
    assert!(
        flag.detail.contains(&first.device),
        "names the first: {}",
        flag.detail
    );
    assert!(
        !flag.detail.contains(&key),
        "no document data in words: {}",
        flag.detail
    );

    let plain = store
        .processed(&Processed {
            device: &first.device,
            seq: 2,
            flags: Vec::new(),
            amends: None,
            document_key: Some("document-key-2".into()),
            at: NOW + 3,
        })
        .unwrap();
    assert!(plain.is_empty());

    assert!(store.unprocessed(10).unwrap().is_empty());
    assert_eq!(store.flags().unwrap(), vec![rule, flag.clone()]);
    let stats = store.stats().unwrap();
    assert_eq!(
        (stats.records, stats.records_processed, stats.flags),
        (3, 3, 2)
    );
}

/// Chains appended through the store are whole and linked, per device in id order.
pub fn stats_count_complete_chains(store: &dyn Store) {
    let long = Chain::new("long", 5);
    let short = Chain::new("short", 2);
    let signing = Signing::new("node");
    append(store, &long.device, &long.batch(1..=3), &signing, NOW);
    append(store, &long.device, &long.batch(4..=5), &signing, NOW);
    append(store, &short.device, &short.batch(1..=2), &signing, NOW);
    let mut expected = vec![
        ChainStats {
            device: long.device.clone(),
            head: 5,
            records: 5,
            complete: true,
        },
        ChainStats {
            device: short.device.clone(),
            head: 2,
            records: 2,
            complete: true,
        },
    ];
    expected.sort_by(|a, b| a.device.cmp(&b.device));
    let stats = store.stats().unwrap();
    assert_eq!(stats.chains, expected);
    assert_eq!(stats.records, 7);
    assert_eq!(stats.records_processed, 0);
}

/// Records are counted by the UTC day the registry received them, empty days as 0.
pub fn records_are_counted_per_day(store: &dyn Store) {
    let chain = Chain::new("daily", 4);
    let signing = Signing::new("node");
    let today = day_of(NOW);
    append(
        store,
        &chain.device,
        &chain.batch([1]),
        &signing,
        today - 10 * 86_400,
    );
    append(
        store,
        &chain.device,
        &chain.batch(2..=3),
        &signing,
        today - 2 * 86_400 + 5,
    );
    append(store, &chain.device, &chain.batch([4]), &signing, NOW);
    assert_eq!(
        store.per_day(3, NOW).unwrap(),
        vec![(today - 2 * 86_400, 2), (today - 86_400, 0), (today, 1)]
    );
    assert_eq!(store.per_day(1, NOW).unwrap(), vec![(today, 1)]);
}

/// The operators' page: each provisioned device with its last call, head, waiting records,
/// refusals and certificate expiry, in id order.
pub fn devices_are_listed_for_operators(store: &dyn Store) {
    let busy = Chain::new("busy", 2);
    let quiet = Chain::new("quiet", 0);
    for (chain, text) in [(&busy, "busy"), (&quiet, "quiet")] {
        let hash = token_hash(text);
        store.add_token(&hash, &token(None)).unwrap();
        store
            .provision(&chain.provision(Some(&hash), NOW))
            .unwrap()
            .unwrap();
    }
    append(
        store,
        &busy.device,
        &busy.batch(1..=2),
        &Signing::new("node"),
        NOW,
    );
    store.seen(&busy.device, NOW + 5, Some(7)).unwrap();
    store
        .incident(&refusal(NOW, &busy.device, Some(3)))
        .unwrap();
    store.incident(&refusal(NOW, &busy.device, None)).unwrap();
    store.incident(&refusal(NOW, "STRANGER", None)).unwrap();

    let mut expected = vec![
        DeviceOverview {
            device: busy.device.clone(),
            provisioned_at: NOW,
            last_seen: Some(NOW + 5),
            head: 2,
            waiting: Some(7),
            refusals: 2,
            certificate_not_after: Some(NOW + 365 * 86_400),
        },
        DeviceOverview {
            device: quiet.device.clone(),
            provisioned_at: NOW,
            last_seen: None,
            head: 0,
            waiting: None,
            refusals: 0,
            certificate_not_after: Some(NOW + 365 * 86_400),
        },
    ];
    expected.sort_by(|a, b| a.device.cmp(&b.device));
    assert_eq!(store.devices().unwrap(), expected);

    store.seen(&busy.device, NOW + 9, None).unwrap();
    let busy_now = store
        .devices()
        .unwrap()
        .into_iter()
        .find(|overview| overview.device == busy.device)
        .unwrap();
    assert_eq!(
        (busy_now.last_seen, busy_now.waiting),
        (Some(NOW + 9), None)
    );
}

/// A staff member of `centre` (`None`: every centre), enabled.
pub fn staff_member(number: &str, role: Role, centre: Option<&str>) -> StaffMember {
    StaffMember {
        number: number.to_string(),
        role,
        centre: centre.map(str::to_string),
        pin_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA${number}"),
        disabled: false,
        changed_at: NOW,
    }
}

/// A centre called `id`, with settings other than the defaults (so they are seen stored).
pub fn centre(id: &str, kind: CentreKind) -> CentreEntry {
    CentreEntry {
        id: id.to_string(),
        name: format!("{id} centre"),
        kind,
        settings: Settings {
            idle_timeout_s: 45,
            languages: vec!["sw".into(), "en".into()],
            ..Settings::default()
        },
    }
}

/// Provisions `chain` with a new token of `centre`; returns the token's hash.
fn provision_at(store: &dyn Store, chain: &Chain, centre: Option<&str>) -> String {
    let hash = token_hash(&format!("token of {}", chain.device));
    let entry = TokenEntry {
        centre: centre.map(str::to_string),
        ..token(None)
    };
    store.add_token(&hash, &entry).unwrap();
    store
        .provision(&chain.provision(Some(&hash), NOW))
        .unwrap()
        .unwrap();
    hash
}

/// Every roster, centre and assignment change raises the fleet version by one and returns
/// it; a change to nothing (an unknown number or device) raises nothing.
pub fn fleet_changes_raise_the_version(store: &dyn Store) {
    assert_eq!(
        store.fleet_snapshot(None).unwrap().version,
        0,
        "nothing set yet"
    );
    let kibera = centre("NRB-KIBERA", CentreKind::PublicOffice);
    assert_eq!(store.put_centre(&kibera).unwrap(), 1);
    let amina = staff_member("S-0002", Role::Operator, Some("NRB-KIBERA"));
    assert_eq!(store.put_staff(&amina).unwrap(), 2);
    let baraka = staff_member("S-0001", Role::Supervisor, None);
    assert_eq!(store.put_staff(&baraka).unwrap(), 3);
    assert_eq!(
        store.set_staff_disabled("S-0002", true, NOW + 5).unwrap(),
        Some(4)
    );
    assert_eq!(
        store.set_staff_disabled("S-9999", true, NOW + 5).unwrap(),
        None,
        "no such number"
    );
    assert_eq!(store.fleet_snapshot(None).unwrap().version, 4);

    // The whole roster, disabled staff included, by number.
    let disabled = StaffMember {
        disabled: true,
        changed_at: NOW + 5,
        ..amina.clone()
    };
    assert_eq!(store.staff().unwrap(), vec![baraka.clone(), disabled]);
    // Put again, the number comes back enabled.
    let moved = StaffMember {
        role: Role::Supervisor,
        changed_at: NOW + 6,
        ..amina.clone()
    };
    assert_eq!(store.put_staff(&moved).unwrap(), 5);
    assert_eq!(store.staff().unwrap(), vec![baraka, moved]);

    let changed = CentreEntry {
        name: "Kibera Huduma".into(),
        kind: CentreKind::Hospital,
        ..kibera
    };
    assert_eq!(store.put_centre(&changed).unwrap(), 6);
    let mathare = centre("NRB-MATHARE", CentreKind::Prison);
    assert_eq!(store.put_centre(&mathare).unwrap(), 7);
    assert_eq!(store.centres().unwrap(), vec![changed, mathare]);

    assert_eq!(
        store.assign_device("UNKNOWN0", "NRB-MATHARE").unwrap(),
        None,
        "no such device"
    );
    let kiosk = Chain::new("assigned", 0);
    provision_at(store, &kiosk, None);
    assert_eq!(
        store.assign_device(&kiosk.device, "NRB-MATHARE").unwrap(),
        Some(8)
    );
    let entry = store.device(&kiosk.device).unwrap().unwrap();
    assert_eq!(entry.centre.as_deref(), Some("NRB-MATHARE"));
    assert_eq!(
        store.fleet_snapshot(Some("NRB-MATHARE")).unwrap().version,
        8
    );
}

/// A snapshot holds the centre asked for and its enabled staff with the staff of no centre,
/// by number; without a centre, the staff of no centre only.
pub fn fleet_snapshots_filter_staff(store: &dyn Store) {
    let kibera = centre("NRB-KIBERA", CentreKind::PublicOffice);
    store.put_centre(&kibera).unwrap();
    let here = staff_member("S-0030", Role::Operator, Some("NRB-KIBERA"));
    let roaming = staff_member("S-0010", Role::Supervisor, None);
    let elsewhere = staff_member("S-0020", Role::Operator, Some("NRB-MATHARE"));
    let gone = staff_member("S-0005", Role::Operator, Some("NRB-KIBERA"));
    let gone_roaming = staff_member("S-0001", Role::Supervisor, None);
    for member in [&here, &roaming, &elsewhere, &gone, &gone_roaming] {
        store.put_staff(member).unwrap();
    }
    store.set_staff_disabled("S-0005", true, NOW + 1).unwrap();
    let last = store.set_staff_disabled("S-0001", true, NOW + 1).unwrap();
    assert_eq!(last, Some(8));

    let snapshot = store.fleet_snapshot(Some("NRB-KIBERA")).unwrap();
    assert_eq!(snapshot.version, 8);
    assert_eq!(snapshot.centre, Some(kibera));
    assert_eq!(snapshot.staff, vec![roaming.clone(), here]);

    // A centre not (yet) made: no entry, but its staff and the roaming ones.
    let mathare = store.fleet_snapshot(Some("NRB-MATHARE")).unwrap();
    assert_eq!(mathare.centre, None);
    assert_eq!(mathare.staff, vec![roaming.clone(), elsewhere]);

    let nowhere = store.fleet_snapshot(None).unwrap();
    assert_eq!((nowhere.version, nowhere.centre), (8, None));
    assert_eq!(nowhere.staff, vec![roaming]);

    // Enabled again, a member is back in the snapshots.
    store.set_staff_disabled("S-0005", false, NOW + 2).unwrap();
    let numbers: Vec<String> = store
        .fleet_snapshot(Some("NRB-KIBERA"))
        .unwrap()
        .staff
        .into_iter()
        .map(|member| member.number)
        .collect();
    assert_eq!(numbers, vec!["S-0005", "S-0010", "S-0030"]);
}

/// A token of a centre makes its new device serve there; a re-issue keeps the centre the
/// device has (it may have been moved since); a token of no centre leaves it without.
pub fn centre_tokens_set_the_device_centre(store: &dyn Store) {
    let placed = Chain::new("placed", 0);
    let hash = provision_at(store, &placed, Some("NRB-KIBERA"));
    let entry = store.device(&placed.device).unwrap().unwrap();
    assert_eq!(entry.centre.as_deref(), Some("NRB-KIBERA"));
    assert_eq!(entry.withdrawn, None);

    store.assign_device(&placed.device, "NRB-MATHARE").unwrap();
    let again = store
        .provision(&placed.provision(Some(&hash), NOW + 10))
        .unwrap()
        .unwrap();
    assert_eq!(again.certificates, 2);
    assert_eq!(
        again.centre.as_deref(),
        Some("NRB-MATHARE"),
        "a re-issue keeps the centre it was moved to"
    );

    let unplaced = Chain::new("unplaced", 0);
    provision_at(store, &unplaced, None);
    assert_eq!(
        store.device(&unplaced.device).unwrap().unwrap().centre,
        None
    );
}

/// A withdrawn device is refused every certificate again (its own token, no token, a new
/// token) and writes nothing; it is listed with its latest withdrawal, by device id.
pub fn withdrawn_devices_cannot_provision(store: &dyn Store) {
    let first = Chain::new("withdrawn-first", 0);
    let second = Chain::new("withdrawn-second", 0);
    let hash = provision_at(store, &first, Some("NRB-KIBERA"));
    provision_at(store, &second, None);
    let withdrawal = Withdrawal {
        reason: "stolen from the centre".into(),
        at: NOW + 100,
        accept_until: Some(12),
    };
    assert!(!store.withdraw("UNKNOWN0", &withdrawal).unwrap());
    assert!(store.withdraw(&first.device, &withdrawal).unwrap());

    let entry = store.device(&first.device).unwrap().unwrap();
    assert_eq!(entry.withdrawn.as_ref(), Some(&withdrawal));
    assert_eq!(entry.centre.as_deref(), Some("NRB-KIBERA"));
    assert_eq!(entry.certificates, 1);

    assert_eq!(
        store
            .provision(&first.provision(Some(&hash), NOW + 200))
            .unwrap(),
        Err(ProvisionRefusal::Withdrawn),
        "the same key with its own token"
    );
    assert_eq!(
        store.provision(&first.provision(None, NOW + 200)).unwrap(),
        Err(ProvisionRefusal::Withdrawn)
    );
    let fresh = token_hash("fresh for a withdrawn device");
    store.add_token(&fresh, &token(None)).unwrap();
    assert_eq!(
        store
            .provision(&first.provision(Some(&fresh), NOW + 200))
            .unwrap(),
        Err(ProvisionRefusal::Withdrawn)
    );
    let stats = store.stats().unwrap();
    assert_eq!(
        (stats.tokens, stats.tokens_used),
        (3, 2),
        "the fresh token stays unused"
    );
    assert_eq!(store.device(&first.device).unwrap(), Some(entry));

    // Withdrawn again: the reason and accept_until are replaced.
    let later = Withdrawal {
        reason: "not found after the audit".into(),
        at: NOW + 300,
        accept_until: None,
    };
    assert!(store.withdraw(&first.device, &later).unwrap());
    assert!(store.withdraw(&second.device, &withdrawal).unwrap());
    let mut expected = vec![
        WithdrawnDevice {
            device: first.device.clone(),
            withdrawal: later.clone(),
        },
        WithdrawnDevice {
            device: second.device.clone(),
            withdrawal: withdrawal.clone(),
        },
    ];
    expected.sort_by(|a, b| a.device.cmp(&b.device));
    assert_eq!(store.withdrawn().unwrap(), expected);
    assert_eq!(store.stats().unwrap().withdrawn, expected);
    assert_eq!(
        store.device(&first.device).unwrap().unwrap().withdrawn,
        Some(later)
    );
}

fn audit_event(number: u64, action: &str) -> AuditEntry {
    AuditEntry {
        number,
        at: NOW + number as i64,
        actor: "S-0001".into(),
        action: action.to_string(),
        subject: format!("event {number}"),
        received_at: NOW + 1_000,
    }
}

/// Audit events are kept once per (device, number): one sent again is skipped, not
/// replaced; the head is the highest number held; a device's events come oldest first.
pub fn audit_events_are_kept_once(store: &dyn Store) {
    let device = "AUDITED1";
    assert_eq!(store.audit_head(device).unwrap(), 0);
    assert_eq!(store.add_audit(device, &[]).unwrap(), 0);
    let first: Vec<AuditEntry> = [2, 1, 3]
        .into_iter()
        .map(|n| audit_event(n, "staff.sign_in"))
        .collect();
    assert_eq!(store.add_audit(device, &first).unwrap(), 3);

    // 2 and 3 again with other words (their acknowledgement was lost), then 4 and 5.
    let second: Vec<AuditEntry> = [2, 3, 5, 4]
        .into_iter()
        .map(|n| audit_event(n, "record.sealed"))
        .collect();
    assert_eq!(store.add_audit(device, &second).unwrap(), 5);
    assert_eq!(store.add_audit(device, &second[..1]).unwrap(), 5);
    assert_eq!(store.audit_head(device).unwrap(), 5);
    let actions: Vec<(u64, String)> = store
        .audit(device)
        .unwrap()
        .into_iter()
        .map(|event| (event.number, event.action))
        .collect();
    assert_eq!(
        actions,
        vec![
            (1, "staff.sign_in".to_string()),
            (2, "staff.sign_in".to_string()),
            (3, "staff.sign_in".to_string()),
            (4, "record.sealed".to_string()),
            (5, "record.sealed".to_string()),
        ]
    );
    assert_eq!(
        store.audit(device).unwrap()[0],
        audit_event(1, "staff.sign_in")
    );

    // Another device numbers its own events.
    assert_eq!(store.audit_head("AUDITED2").unwrap(), 0);
    assert!(store.audit("AUDITED2").unwrap().is_empty());
    assert_eq!(
        store
            .add_audit("AUDITED2", &[audit_event(1, "system.start")])
            .unwrap(),
        1
    );
    assert_eq!(store.audit_head(device).unwrap(), 5);
}

/// A signed policy is kept per centre (and one for no centre), replaced only by a higher
/// version; storing one does not raise the fleet version.
pub fn policies_keep_the_highest_version(store: &dyn Store) {
    assert_eq!(store.policy(None).unwrap(), None);
    assert!(store.put_policy(None, 3, b"none-3").unwrap());
    assert!(!store.put_policy(None, 3, b"none-3 again").unwrap(), "same");
    assert!(!store.put_policy(None, 2, b"none-2").unwrap(), "older");
    assert_eq!(store.policy(None).unwrap(), Some((3, b"none-3".to_vec())));

    assert_eq!(store.policy(Some("NRB-KIBERA")).unwrap(), None);
    assert!(
        store
            .put_policy(Some("NRB-KIBERA"), 1, b"kibera-1")
            .unwrap()
    );
    assert!(
        store
            .put_policy(Some("NRB-KIBERA"), 4, b"kibera-4")
            .unwrap()
    );
    assert_eq!(
        store.policy(Some("NRB-KIBERA")).unwrap(),
        Some((4, b"kibera-4".to_vec()))
    );
    assert_eq!(store.policy(None).unwrap(), Some((3, b"none-3".to_vec())));
    assert_eq!(store.policy(Some("NRB-MATHARE")).unwrap(), None);
    assert_eq!(store.fleet_snapshot(None).unwrap().version, 0);
}

/// Fleet changes from several threads at once (several connections, for PostgreSQL) each
/// get their own version, rising in the order each thread made them, none lost.
pub fn concurrent_fleet_changes_get_distinct_versions(store: &dyn Store) {
    const THREADS: usize = 4;
    const EACH: usize = 10;
    let per_thread: Vec<Vec<u64>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|thread| {
                scope.spawn(move || {
                    (0..EACH)
                        .map(|n| {
                            let number = format!("T{thread}-{n:02}");
                            store
                                .put_staff(&staff_member(&number, Role::Operator, None))
                                .unwrap()
                        })
                        .collect::<Vec<u64>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().unwrap())
            .collect()
    });
    for versions in &per_thread {
        assert!(
            versions.windows(2).all(|pair| pair[0] < pair[1]),
            "a thread's versions rise: {versions:?}"
        );
    }
    let mut all: Vec<u64> = per_thread.into_iter().flatten().collect();
    all.sort_unstable();
    let expected: Vec<u64> = (1..=(THREADS * EACH) as u64).collect();
    assert_eq!(all, expected, "every version once");
    let snapshot = store.fleet_snapshot(None).unwrap();
    assert_eq!(snapshot.version, (THREADS * EACH) as u64);
    assert_eq!(snapshot.staff.len(), THREADS * EACH);
}

/// A publication of the bundle called `name` (its SHA-256 is the name's) to `target` at `at`.
pub fn published(name: &str, target: UpdateTarget, at: i64) -> PublishedUpdate {
    PublishedUpdate {
        version: format!("0.1.{}", name.len()),
        sha256: hex(&sha256(name.as_bytes())),
        size: 1_000 + name.len() as u64,
        target,
        published_at: at,
    }
}

/// Publications come oldest first, those of the same second in the order they were first
/// made; the same bundle to the same target again replaces its publication (a new time, its
/// place among the same second kept); unpublishing says how many went. None of it raises the
/// fleet version.
pub fn updates_are_published_replaced_and_unpublished(store: &dyn Store) {
    assert!(store.updates().unwrap().is_empty());
    let bundle = published("bundle-a", UpdateTarget::All, NOW);
    assert_eq!(store.unpublish_update(&bundle.sha256).unwrap(), 0);

    let earlier = published(
        "bundle-b",
        UpdateTarget::Centre("NRB-KIBERA".into()),
        NOW - 10,
    );
    let same_second = published("bundle-c", UpdateTarget::Device("KIOSK001".into()), NOW);
    store.publish_update(&bundle).unwrap();
    store.publish_update(&earlier).unwrap();
    store.publish_update(&same_second).unwrap();
    assert_eq!(
        store.updates().unwrap(),
        vec![earlier.clone(), bundle.clone(), same_second.clone()],
        "by time, then in the order published"
    );

    // Published again later: replaced, not added, and listed at its new time.
    let again = PublishedUpdate {
        published_at: NOW + 20,
        ..bundle.clone()
    };
    store.publish_update(&again).unwrap();
    assert_eq!(
        store.updates().unwrap(),
        vec![earlier.clone(), same_second.clone(), again.clone()]
    );

    // A replacement keeps its place among publications of its new second: `earlier` was
    // first published before `later`, so it still comes first when both share a time.
    let later = published("bundle-d", UpdateTarget::All, NOW + 5);
    store.publish_update(&later).unwrap();
    let earlier_again = PublishedUpdate {
        published_at: NOW + 5,
        ..earlier.clone()
    };
    store.publish_update(&earlier_again).unwrap();
    assert_eq!(
        store.updates().unwrap(),
        vec![
            same_second.clone(),
            earlier_again.clone(),
            later.clone(),
            again.clone()
        ]
    );

    assert_eq!(store.unpublish_update(&bundle.sha256).unwrap(), 1);
    assert_eq!(store.unpublish_update(&bundle.sha256).unwrap(), 0, "gone");
    assert_eq!(
        store.updates().unwrap(),
        vec![same_second, earlier_again, later]
    );
    assert_eq!(store.fleet_snapshot(None).unwrap().version, 0);
}

/// The same bundle to other targets is another publication each (a centre and a device of
/// the same id are different targets); replacing one leaves the others; unpublishing the
/// bundle withdraws them all and counts them, and leaves other bundles alone.
pub fn a_bundle_to_two_targets_is_two_publications(store: &dyn Store) {
    let to_centre = published("bundle-a", UpdateTarget::Centre("NRB-KIBERA".into()), NOW);
    let to_device = published(
        "bundle-a",
        UpdateTarget::Device("NRB-KIBERA".into()),
        NOW + 1,
    );
    let to_all = published("bundle-a", UpdateTarget::All, NOW + 2);
    let other = published(
        "bundle-b",
        UpdateTarget::Centre("NRB-KIBERA".into()),
        NOW + 3,
    );
    for update in [&to_centre, &to_device, &to_all, &other] {
        store.publish_update(update).unwrap();
    }
    assert_eq!(
        store.updates().unwrap(),
        vec![
            to_centre.clone(),
            to_device.clone(),
            to_all.clone(),
            other.clone()
        ]
    );

    let centre_again = PublishedUpdate {
        published_at: NOW + 10,
        ..to_centre.clone()
    };
    store.publish_update(&centre_again).unwrap();
    assert_eq!(
        store.updates().unwrap(),
        vec![to_device, to_all, other.clone(), centre_again]
    );

    assert_eq!(store.unpublish_update(&to_centre.sha256).unwrap(), 3);
    assert_eq!(store.updates().unwrap(), vec![other]);
    assert_eq!(store.fleet_snapshot(None).unwrap().version, 0);
}

/// An amendment's link is stored with its processing and read both ways; the document it
/// shares with the records it corrects (directly or through an earlier amendment) is not a
/// duplicate, while another record's is; processing again keeps one link.
pub fn amendments_are_linked_both_ways(store: &dyn Store) {
    let chain = Chain::new("amending-office", 4);
    let signing = Signing::new("node");
    append(store, &chain.device, &chain.batch(1..=4), &signing, NOW);
    let device = chain.device.as_str();
    let key = Some("same-document".to_string());
    let outcome = |seq: u64, amends: Option<u64>| Processed {
        device,
        seq,
        flags: Vec::new(),
        document_key: key.clone(),
        amends: amends.map(|of| (device.to_owned(), of)),
        at: NOW + seq as i64,
    };
    assert!(store.processed(&outcome(1, None)).unwrap().is_empty());
    // 2 amends 1, 3 amends 2: the same document, no duplicate.
    assert!(store.processed(&outcome(2, Some(1))).unwrap().is_empty());
    assert!(store.processed(&outcome(3, Some(2))).unwrap().is_empty());
    assert!(
        store.processed(&outcome(3, Some(2))).unwrap().is_empty(),
        "processed again"
    );
    // 4 is no amendment: the same document is a duplicate of 1.
    let flags = store.processed(&outcome(4, None)).unwrap();
    assert_eq!(flags.len(), 1);
    assert_eq!(flags[0].code, "duplicate_document");

    let of = |seq: u64| store.amendments(device, seq).unwrap();
    let link = |seq: u64| (device.to_owned(), seq);
    assert_eq!(of(1).amends, None);
    assert_eq!(of(1).amended_by, vec![link(2)]);
    assert_eq!(of(2).amends, Some(link(1)));
    assert_eq!(of(2).amended_by, vec![link(3)]);
    assert_eq!(of(3).amends, Some(link(2)));
    assert!(of(3).amended_by.is_empty());
    assert_eq!(of(4), super::Amendments::default());
    assert_eq!(
        store.amendments("no-such-device", 1).unwrap(),
        super::Amendments::default()
    );
}
