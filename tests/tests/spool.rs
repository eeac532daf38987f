//! The spool attacked from the uplink's side: whatever a compromised uplink plants in
//! `spool/` (a FIFO, a link to /dev/zero, a 2 GB sparse file, a link to another directory),
//! `sajili enrol`, `sajili status` (each runs the kiosk's hand-off) and `sajili verify` finish
//! promptly, keep working (nothing stored lost, later enrolments sealed and counted) and say
//! what was wrong.
//!
//! Each command runs under a deadline (liveness, not speed: 30 s where a healthy one takes
//! well under a second) and with its address space capped, so the old behaviour (reading
//! /dev/zero or 2 GB into memory) fails here instead of taking the machine's memory.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sajili_tests::registry::write_enrolments;
use sajili_tests::{TestDevice, sajili_bin};

/// Past this a command is taken to hang: it is killed and the test fails.
const DEADLINE: Duration = Duration::from_secs(30);

/// The address space a command may use: far more than the kiosk's commands need, far less than
/// /dev/zero or a 2 GB receipt read into memory.
const ADDRESS_SPACE_KB: u64 = 1536 * 1024;

/// What one command did.
struct Run {
    success: bool,
    /// stdout then stderr.
    said: String,
}

/// Runs `sajili --data DATA args` with a deadline and a memory cap; fails the test if it does
/// not finish in time.
fn run(device: &TestDevice, args: &[&str]) -> Run {
    let out_path = device.dir.path().join("out.txt");
    let err_path = device.dir.path().join("err.txt");
    let out = std::fs::File::create(&out_path).unwrap();
    let err = std::fs::File::create(&err_path).unwrap();
    // The shell sets the limit, then becomes sajili.
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v {ADDRESS_SPACE_KB} && exec \"$0\" \"$@\""
        ))
        .arg(sajili_bin())
        .arg("--data")
        .arg(&device.data)
        .args(args)
        .env_remove("SAJILI_DATA")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`sajili {}` still running after {DEADLINE:?}: it hangs",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let said = format!(
        "{}{}",
        std::fs::read_to_string(&out_path).unwrap(),
        std::fs::read_to_string(&err_path).unwrap()
    );
    println!(
        "sajili {} ({:?}): {said}",
        args.join(" "),
        started.elapsed()
    );
    Run {
        success: status.success(),
        said,
    }
}

fn receipt(device: &TestDevice, seq: u64) -> PathBuf {
    device.data.join(format!("spool/receipts/{seq:020}.sjr"))
}

fn status_json(device: &TestDevice) -> serde_json::Value {
    let status = run(device, &["status", "--json"]);
    assert!(status.success, "{}", status.said);
    let line = status.said.lines().next().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {}", status.said))
}

/// Seals one record, lets `plant` attack the spool, then checks that enrol, status and verify
/// finish, succeed, keep every record, and that a later enrolment is sealed and counted.
/// Returns the device and what enrol and status said after the attack.
fn attack(plant: impl FnOnce(&TestDevice)) -> (TestDevice, String) {
    let device = TestDevice::init();
    let (files, _) = write_enrolments(&device.dir.path().join("enrolments"), 2);
    let first = run(&device, &["enrol", "--json", files[0].to_str().unwrap()]);
    assert!(first.success, "{}", first.said);

    plant(&device);

    let mut said = String::new();
    let enrol = run(&device, &["enrol", "--json", files[1].to_str().unwrap()]);
    assert!(enrol.success, "enrol after the attack: {}", enrol.said);
    said += &enrol.said;
    let status = run(&device, &["status"]);
    assert!(status.success, "status after the attack: {}", status.said);
    said += &status.said;
    assert!(
        !status.said.contains("Hand-off        FAILED"),
        "the hand-off must not stop at one bad file: {}",
        status.said
    );
    let verify = run(&device, &["verify"]);
    assert!(verify.success, "verify after the attack: {}", verify.said);
    assert!(verify.said.contains("OK: 2 record(s)"), "{}", verify.said);

    // Still working: a third record is sealed, all three are counted and queued.
    let (more, _) = write_enrolments(&device.dir.path().join("more"), 1);
    let third = run(&device, &["enrol", "--json", more[0].to_str().unwrap()]);
    assert!(third.success, "{}", third.said);
    let status = status_json(&device);
    assert_eq!(status["records_sealed"], 3, "{status}");
    assert_eq!(status["queue_depth"], 3, "{status}");
    assert!(status["handoff_error"].is_null(), "{status}");
    for seq in 1..=3 {
        assert!(
            device
                .data
                .join(format!("spool/outbox/{seq:020}.sje"))
                .is_file(),
            "record {seq} not in the outbox"
        );
    }
    (device, said)
}

#[test]
fn a_fifo_in_place_of_a_receipt_is_set_aside_without_blocking() {
    let (device, said) = attack(|device| {
        let made = Command::new("mkfifo")
            .arg(receipt(device, 1))
            .status()
            .unwrap();
        assert!(made.success());
    });
    assert!(
        said.contains("record 1") && said.contains("not a regular file"),
        "{said}"
    );
    set_aside(&device, 1);
}

/// A socket cannot even be opened (ENXIO): a read error of another kind than a bad file's,
/// which once stopped the whole hand-off. Any receipt that cannot be read is set aside.
#[test]
fn a_socket_in_place_of_a_receipt_is_set_aside_and_the_hand_off_goes_on() {
    let (device, said) = attack(|device| {
        let listener = std::os::unix::net::UnixListener::bind(receipt(device, 1)).unwrap();
        // The socket file stays after the listener closes.
        drop(listener);
    });
    assert!(said.contains("record 1"), "{said}");
    set_aside(&device, 1);
}

#[test]
fn uplink_state_linked_to_dev_zero_reads_as_unknown() {
    let (_device, said) = attack(|device| {
        std::os::unix::fs::symlink("/dev/zero", device.data.join("spool/uplink-state.json"))
            .unwrap();
    });
    assert!(
        said.contains("the uplink's state is unknown") && said.contains("symbolic link"),
        "{said}"
    );
}

#[test]
fn a_two_gigabyte_sparse_receipt_is_refused_by_its_size() {
    let (device, said) = attack(|device| {
        let file = std::fs::File::create(receipt(device, 1)).unwrap();
        file.set_len(2 << 30).unwrap();
    });
    assert!(
        said.contains("record 1") && said.contains("2147483648 bytes, more than"),
        "{said}"
    );
    set_aside(&device, 1);
}

/// The receipt file of `seq` was set aside (renamed for an engineer), not left to be read
/// again at every hand-off.
fn set_aside(device: &TestDevice, seq: u64) {
    assert!(!receipt(device, seq).exists());
    let aside = device
        .data
        .join(format!("spool/receipts/{seq:020}.rejected"));
    assert!(
        aside.symlink_metadata().is_ok(),
        "{} missing",
        aside.display()
    );
}

#[test]
fn a_receipt_linked_to_a_directory_is_set_aside() {
    let (device, said) = attack(|device| {
        std::os::unix::fs::symlink(device.dir.path(), receipt(device, 1)).unwrap();
    });
    assert!(
        said.contains("record 1") && said.contains("symbolic link, not followed"),
        "{said}"
    );
    set_aside(&device, 1);
}

#[test]
fn receipts_replaced_by_a_link_to_the_keys_opens_nothing_up() {
    let (device, said) = attack(|device| {
        let keys = device.data.join("keys");
        let receipts = device.data.join("spool/receipts");
        std::fs::remove_dir_all(&receipts).unwrap();
        std::os::unix::fs::symlink(&keys, &receipts).unwrap();
    });
    assert!(
        said.contains("spool/receipts was a symbolic link"),
        "{said}"
    );
    let keys = device.data.join("keys");
    assert_eq!(
        mode(&keys),
        0o700,
        "the keys' mode was changed through the link"
    );
    assert!(
        device
            .data
            .join("spool/receipts")
            .symlink_metadata()
            .unwrap()
            .is_dir()
    );
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}
