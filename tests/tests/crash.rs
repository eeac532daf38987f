//! Crash consistency: a child seals records in a loop and is killed with SIGKILL at random
//! moments, 100 times. After every kill the store opens, verifies end to end, holds every
//! registration number the child printed (it prints only after the commit returned), and
//! no record is half-written.
//!
//! A kill that lands before the child has opened the store shows nothing, so the test counts
//! the kills that came after the child had printed at least one number, that is, while it was
//! in its loop of sealing and committing, and requires a quarter of them to be so. The child
//! spends its loop sealing and committing, so those kills land in or between commits; a
//! test-only pause inside the commit (in the store) would pin one exactly, and is not there.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use sajili::device::{self, DataDir};
use sajili::record::RegistrationNumber;
use sajili_tests::{TestDevice, write_example};

const KILLS: usize = 100;

fn random_below(limit: u64) -> u64 {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).unwrap();
    u64::from_le_bytes(bytes) % limit
}

#[test]
fn sigkill_at_random_moments_never_loses_or_tears_a_record() {
    let device = TestDevice::init();
    let json = write_example(&device.dir.path().join("example"));
    let child_bin = env!("CARGO_BIN_EXE_seal-loop");
    let mut printed: Vec<RegistrationNumber> = Vec::new();
    let mut killed_mid_work = 0;
    let mut killed_while_sealing = 0;
    let mut committed_not_printed = 0;
    let mut unprinted_before = 0;

    for round in 0..KILLS {
        let mut child = Command::new(child_bin)
            .arg(&device.data)
            .arg(&json)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stdout.read_to_string(&mut text);
            text
        });
        // From the first instant (still opening the store) to well into a run of seals.
        std::thread::sleep(Duration::from_millis(random_below(400)));
        child.kill().unwrap();
        let status = child.wait().unwrap();
        if status.code().is_none() {
            killed_mid_work += 1;
        }
        let text = reader.join().unwrap();
        // Only whole lines: a number cut off mid-write was never fully printed.
        let mut printed_now = 0;
        for line in text.split_inclusive('\n').filter(|l| l.ends_with('\n')) {
            printed.push(RegistrationNumber::parse(line.trim()).expect("a registration number"));
            printed_now += 1;
        }
        if printed_now > 0 {
            killed_while_sealing += 1;
        }

        let opened = device::open(&DataDir::new(&device.data))
            .unwrap_or_else(|e| panic!("round {round}: store does not open after SIGKILL: {e}"));
        let report = opened
            .store
            .verify(
                &opened.sealer.verifying_key(),
                opened.sealer.device_id(),
                &opened.bundle.receipt_key().unwrap(),
            )
            .unwrap_or_else(|e| panic!("round {round}: verify failed after SIGKILL: {e}"));
        for number in &printed {
            assert_eq!(number.device, opened.sealer.device_id());
            assert!(
                opened.store.has_record(number.seq).unwrap(),
                "round {round}: printed {number} is not in the store"
            );
            assert!(number.seq <= report.head.seq);
        }
        let unprinted = report.head.seq.saturating_sub(printed.len() as u64);
        if unprinted > unprinted_before {
            // A commit returned but its number was never printed: this kill landed between the
            // commit and the print.
            committed_not_printed += 1;
        }
        unprinted_before = unprinted;
        let status = opened.store.status().unwrap();
        assert_eq!(
            status.queue_depth, report.head.seq,
            "round {round}: every record whole in the outbox"
        );
        assert!(
            status.in_progress <= round as u64 + 1,
            "round {round}: at most one draft per kill may be left in the journal"
        );
    }
    let head = {
        let opened = device::open(&DataDir::new(&device.data)).unwrap();
        opened.store.head().unwrap().seq
    };
    println!(
        "{KILLS} kills ({killed_mid_work} by signal, {killed_while_sealing} after the child's \
         first seal, {committed_not_printed} rounds ending with a commit not yet printed), \
         {} numbers printed, {head} records in the store",
        printed.len()
    );
    assert!(
        killed_while_sealing >= KILLS / 4,
        "only {killed_while_sealing} of {KILLS} kills came while the child was sealing"
    );
    assert_eq!(
        killed_mid_work, KILLS,
        "every child must have been killed, not exited"
    );
    assert!(head >= printed.len() as u64);
    assert!(
        printed.len() >= 20,
        "too few seals to mean anything: {}",
        printed.len()
    );
}
