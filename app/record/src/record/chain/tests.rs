use age::x25519::Identity;
use ed25519_dalek::SigningKey;

use super::*;
use crate::fixtures::adult_enrolment;
use crate::record::{ChainSlot, Sealer, unseal};

fn sealer() -> (Sealer, Identity) {
    let identity = Identity::generate();
    (
        Sealer::new(SigningKey::from_bytes(&[5; 32]), identity.to_public()),
        identity,
    )
}

fn chain(sealer: &Sealer, count: u64) -> Vec<Vec<u8>> {
    let enrolment = adult_enrolment(1);
    let mut slot = ChainSlot::FIRST;
    let mut out = Vec::new();
    for index in 0..count {
        let envelope = match sealer.seal(&enrolment, slot, 1_780_000_000 + index as i64) {
            Ok(envelope) => envelope,
            Err(error) => panic!("{error}"),
        };
        slot = ChainSlot {
            seq: slot.seq + 1,
            prev_hash: envelope.hash(),
        };
        out.push(envelope.to_bytes());
    }
    out
}

fn verify(sealer: &Sealer, envelopes: &[Vec<u8>]) -> Result<ChainHead, ChainError> {
    verify_chain(
        envelopes.iter().map(Vec::as_slice),
        &sealer.verifying_key(),
        sealer.device_id(),
    )
}

#[test]
fn a_sealed_record_opens_to_what_was_sealed() {
    let (sealer, identity) = sealer();
    let enrolment = adult_enrolment(3);
    let envelope = sealer.seal(&enrolment, ChainSlot::FIRST, 1_780_000_000);
    let envelope = match envelope {
        Ok(envelope) => envelope,
        Err(error) => panic!("{error}"),
    };
    let payload = match unseal(&envelope, &identity) {
        Ok(payload) => payload,
        Err(error) => panic!("{error}"),
    };
    assert_eq!(payload.enrolment, enrolment);
    assert_eq!(
        payload.registration_number,
        sealer.registration_number(ChainSlot::FIRST).to_string()
    );
    assert!(
        unseal(&envelope, &Identity::generate()).is_err(),
        "another registry cannot open it"
    );
}

#[test]
fn an_intact_chain_verifies_to_its_head() {
    let (sealer, _) = sealer();
    let envelopes = chain(&sealer, 4);
    let head = verify(&sealer, &envelopes);
    assert_eq!(
        head,
        Ok(ChainHead {
            seq: 4,
            hash: crate::record::sha256(&envelopes[3])
        })
    );
}

#[test]
fn tampering_with_any_byte_of_any_envelope_is_caught_at_its_seq() {
    let (sealer, _) = sealer();
    let envelopes = chain(&sealer, 3);
    for (index, envelope) in envelopes.iter().enumerate() {
        // Every byte of the header and signature, and a sample through the ciphertext.
        let positions: Vec<usize> = (0..96)
            .chain((96..envelope.len() - 64).step_by((envelope.len() - 160) / 40))
            .chain(envelope.len() - 64..envelope.len())
            .collect();
        for position in positions {
            let mut tampered = envelopes.clone();
            tampered[index][position] ^= 0x20;
            let result = verify(&sealer, &tampered);
            assert!(
                matches!(&result, Err(ChainError { seq, .. }) if *seq == index as u64 + 1),
                "envelope {index} byte {position}: {result:?}"
            );
        }
    }
}

#[test]
fn removing_inserting_or_reordering_is_caught() {
    let (sealer, _) = sealer();
    let envelopes = chain(&sealer, 4);

    let mut removed = envelopes.clone();
    removed.remove(1);
    assert_eq!(
        verify(&sealer, &removed).map_err(|e| (e.seq, e.fault)),
        Err((2, ChainFault::UnexpectedSeq { found: 3 }))
    );

    let mut inserted = envelopes.clone();
    inserted.insert(2, envelopes[1].clone());
    assert!(matches!(
        verify(&sealer, &inserted),
        Err(ChainError {
            seq: 3,
            fault: ChainFault::UnexpectedSeq { found: 2 }
        })
    ));

    let mut reordered = envelopes.clone();
    reordered.swap(2, 3);
    assert!(matches!(
        verify(&sealer, &reordered),
        Err(ChainError { seq: 3, .. })
    ));

    // A record re-signed by an attacker's key with the right seq and link is still foreign.
    let (other, _) = sealer_with_key(6);
    let mut forged = envelopes.clone();
    let slot = ChainSlot {
        seq: 4,
        prev_hash: crate::record::sha256(&envelopes[2]),
    };
    if let Ok(envelope) = other.seal(&adult_enrolment(9), slot, 1_780_000_100) {
        forged[3] = envelope.to_bytes();
    }
    assert!(matches!(
        verify(&sealer, &forged),
        Err(ChainError {
            seq: 4,
            fault: ChainFault::BadSignature
        })
    ));
}

#[test]
fn a_different_device_in_a_chain_is_named() {
    let (sealer, _) = sealer();
    let (other, _) = sealer_with_key(6);
    let mut envelopes = chain(&sealer, 1);
    envelopes.extend(chain(&other, 1));
    let result = verify_chain(
        envelopes.iter().map(Vec::as_slice),
        &other.verifying_key(),
        sealer.device_id(),
    );
    assert!(matches!(
        result,
        Err(ChainError {
            seq: 1,
            fault: ChainFault::BadSignature
        })
    ));
}

fn sealer_with_key(byte: u8) -> (Sealer, Identity) {
    let identity = Identity::generate();
    (
        Sealer::new(SigningKey::from_bytes(&[byte; 32]), identity.to_public()),
        identity,
    )
}
