use super::*;

fn event(action: &str) -> AuditEvent {
    AuditEvent {
        at: 1_800_000_000,
        actor: "OP-1".into(),
        action: action.into(),
        subject: String::new(),
    }
}

fn sealed(seq_seed: u8, created_at: i64) -> SealedBytes {
    let bytes = vec![seq_seed; 100];
    SealedBytes {
        hash: crate::record::sha256(&bytes),
        bytes,
        created_at,
    }
}

fn new_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::create(&dir.path().join("kiosk.redb")).expect("create");
    (dir, store)
}

#[test]
fn create_refuses_an_existing_file_and_open_a_missing_one() {
    let (dir, store) = new_store();
    drop(store);
    let path = dir.path().join("kiosk.redb");
    assert!(matches!(
        Store::create(&path),
        Err(StoreError::AlreadyExists { .. })
    ));
    let missing = dir.path().join("missing.redb");
    assert!(matches!(
        Store::open(&missing),
        Err(StoreError::NotInitialised { .. })
    ));
    assert!(!missing.exists());
}

#[test]
fn sealing_moves_the_head_drops_the_draft_and_audits_in_one_step() {
    let (_dir, store) = new_store();
    store.journal_put(7, b"draft").expect("journal");
    let (slot, _) = store
        .seal(Some(7), &event("record.sealed"), |context| {
            assert_eq!(context.slot, ChainSlot::FIRST);
            Ok::<_, ()>(sealed(1, 1_800_000_000))
        })
        .expect("seal");
    assert_eq!(slot.seq, 1);
    assert_eq!(store.journal_get(7).expect("read"), None);
    assert_eq!(store.head().expect("head").hash, sealed(1, 0).hash);
    assert!(store.has_record(1).expect("has"));
    let log = store.audit_log().expect("audit");
    assert_eq!(log.last().map(|e| e.subject.as_str()), Some("seq 1"));

    let (slot, _) = store
        .seal(None, &event("record.sealed"), |context| {
            assert_eq!(context.slot.prev_hash, sealed(1, 0).hash);
            Ok::<_, ()>(sealed(2, 1_800_000_001))
        })
        .expect("seal");
    assert_eq!(slot.seq, 2);
}

#[test]
fn a_failed_build_writes_nothing_and_keeps_the_draft() {
    let (_dir, store) = new_store();
    store.journal_put(9, b"draft").expect("journal");
    let result = store.seal(Some(9), &event("record.sealed"), |_| {
        Err::<SealedBytes, _>("no")
    });
    assert!(matches!(result, Err(SealFailure::Build("no"))));
    assert_eq!(
        store.journal_get(9).expect("read").as_deref(),
        Some(&b"draft"[..])
    );
    assert_eq!(store.head().expect("head"), ChainHead::EMPTY);
    assert_eq!(store.audit_log().expect("audit"), vec![]);
    assert_eq!(store.status().expect("status").in_progress, 1);
}

#[test]
fn the_clock_floor_only_moves_forward() {
    let (_dir, store) = new_store();
    store
        .seal(None, &event("record.sealed"), |_| {
            Ok::<_, ()>(sealed(1, 1_900_000_000))
        })
        .expect("seal");
    // A clock that went back to 1970 cannot drag the floor back.
    store
        .seal(None, &event("record.sealed"), |context| {
            assert_eq!(context.clock_floor, 1_900_000_000);
            Ok::<_, ()>(sealed(2, 10))
        })
        .expect("seal");
    assert_eq!(store.clock_floor().expect("floor"), Some(1_900_000_000));
}

#[test]
fn drafts_survive_closing_and_reopening() {
    let (dir, store) = new_store();
    store.journal_put(1, b"one").expect("journal");
    store.journal_put(2, b"two").expect("journal");
    store
        .journal_discard(1, &event("session.wiped"))
        .expect("discard");
    drop(store);
    let store = Store::open(&dir.path().join("kiosk.redb")).expect("reopen");
    assert_eq!(store.journal_sessions().expect("sessions"), vec![2]);
    assert_eq!(
        store.journal_get(2).expect("read").as_deref(),
        Some(&b"two"[..])
    );
    assert_eq!(store.audit_log().expect("audit")[0].action, "session.wiped");
}

#[test]
fn a_second_process_handle_is_refused_as_in_use() {
    let (dir, _store) = new_store();
    let second = Store::open(&dir.path().join("kiosk.redb"));
    assert!(
        matches!(second, Err(StoreError::InUse { .. })),
        "{second:?}"
    );
}

#[test]
fn bytes_waiting_is_the_sum_of_the_outbox() {
    let (_dir, store) = new_store();
    for seed in 1..=3u8 {
        store
            .seal(None, &event("record.sealed"), |_| {
                Ok::<_, ()>(sealed(seed, 1_800_000_000))
            })
            .expect("seal");
    }
    let status = store.status().expect("status");
    let mut sum = 0;
    for seq in 1..=3 {
        sum += store
            .envelope(seq)
            .expect("read")
            .map_or(0, |e| e.len() as u64);
    }
    assert_eq!((status.queue_depth, status.bytes_waiting), (3, sum));
    assert_eq!(sum, 300);
}

#[test]
fn acknowledging_drops_envelopes_keeps_receipts_and_raises_the_floor() {
    use crate::record::{DeviceId, Receipt, ReceiptKind, RefusalReason};
    let (_dir, mut store) = new_store();
    for seed in 1..=3u8 {
        store
            .seal(None, &event("record.sealed"), |_| {
                Ok::<_, ()>(sealed(seed, 1_800_000_000))
            })
            .expect("seal");
    }
    assert_eq!(store.unacknowledged().expect("range"), 1..=3);
    let key = ed25519_dalek::SigningKey::from_bytes(&[8; 32]);
    let device = DeviceId::from_digest(&[1; 32]);
    let receipt = |seq: u64, kind, reason| Acknowledgement {
        seq,
        receipt: Receipt::sign(
            &key,
            kind,
            device,
            seq,
            sealed(seq as u8, 0).hash,
            1_900_000_000,
            reason,
        )
        .to_bytes(),
        registry_time: 1_900_000_000,
    };
    let acks = [
        receipt(1, ReceiptKind::Accepted, None),
        receipt(2, ReceiptKind::Refused, Some(RefusalReason::Undecryptable)),
    ];
    assert_eq!(store.acknowledge(&acks, 1).expect("ack"), 2);
    // Twice is harmless.
    assert_eq!(store.acknowledge(&acks, 1).expect("ack again"), 0);
    let status = store.status().expect("status");
    assert_eq!(status.queue_depth, 1);
    assert_eq!(status.bytes_waiting, 100);
    assert_eq!(status.receipts, 2);
    assert_eq!(status.records_refused, 1);
    assert_eq!(status.clock_floor, Some(1_900_000_000));
    assert_eq!(store.unacknowledged().expect("range"), 3..=3);
    assert_eq!(store.envelope(1).expect("read"), None);
    assert!(store.compact().is_ok());
    assert_eq!(store.chain_hash(2).expect("hash"), Some(sealed(2, 0).hash));
}
