//! `sajili-boot-test IMAGE OUT_DIR`: boots the appliance image in QEMU, as a device in the field
//! would start, and runs it from the back office: an assisted enrolment by touch, a signed
//! update over the network, a withdrawal.
//!
//! The guest has what a kiosk has: a display (virtio-gpu, read back with QMP `screendump`), a
//! touchscreen (virtio-multitouch, driven with QMP `input-send-event`), the fingerprint sensor
//! (the twin, on the host, behind an emulated FTDI USB serial port), the camera (the kiosk's
//! camera twin; the kernel's vivid camera is loaded too, opened by the self-test through the
//! real V4L2 driver),
//! and a network (QEMU's user networking) on which the reference registry, on the host's
//! 127.0.0.1, is 10.0.2.2.
//!
//! The back office makes a centre with an operator and a supervisor, and a provisioning bundle
//! carrying that centre's signed policy and a one-time token; the field step
//! (`image-build/provision`) puts it on the image, so the kiosk has its staff before it ever
//! reaches the network. The walk is an assisted enrolment: the operator signs in on the
//! on-screen keys, one finger is recorded as missing, the supervisor signs it off. The power is
//! cut twice: in the middle of the form (the enrolment resumes where it was) and just after
//! sealing with the network unplugged (the record is not lost: it reaches the registry once the
//! network is back after the reboot, and the registry decrypts it).
//!
//! Then updates, published at the registry and fetched by the device itself: a bundle signed
//! by another key is downloaded and refused by the installer (the registry hears it, and the
//! back office withdraws it); a downgrade published to the device is never offered to it, and
//! on a USB stick its installer refuses it; a newer bundle made from the image's own parts is
//! downloaded, installed into slot B, booted and kept. The registry withdraws the device, and
//! its screen says so. Last, the A/B fallback: a root whose kiosk does not come up is abandoned
//! after its tries.
//!
//! Where to touch comes from the same screens drawn on the host at the guest's resolution with
//! Slint's testing backend, on a device with the same staff and policy: each touch is the
//! centre of the element a person would touch, found by its accessible label, and is sent only
//! once the guest's journal (forwarded to the serial console) says it shows the same screen.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use sajili::ui::{demo, twins};
use sajili_tests::driver::KioskDriver;
use sajili_tests::registry::{RegistryProcess, wait_until};
use sajili_tests::workspace_root;
use serde_json::{Value, json};

/// The panel the guest draws on, and the host's copy of the screens.
const WIDTH: u32 = 1280;
const HEIGHT: u32 = 800;
/// Between touches: the guest redraws after each under software emulation.
const TAP_GAP: Duration = Duration::from_millis(450);
/// The centre the image is provisioned for, and its staff at the registry: (number, PIN).
const CENTRE: &str = "KSM-AWASI";
const OPERATOR: (&str, &str) = ("OP-4401", "27182818");
const SUPERVISOR: (&str, &str) = ("SUP-4402", "31415926");
/// The registry's count of update checks it answered with nothing to offer.
const NOTHING_OFFERED: &str = "sajili_registry_requests_total{route=\"update\",status=\"204\"}";

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(image), Some(out)) = (args.next(), args.next()) else {
        eprintln!("usage: sajili-boot-test IMAGE OUT_DIR");
        std::process::exit(2);
    };
    if let Err(error) = run(Path::new(&image), Path::new(&out)) {
        eprintln!("boot test FAILED: {error:#}");
        std::process::exit(1);
    }
}

fn run(image: &Path, out: &Path) -> Result<()> {
    std::fs::create_dir_all(out)?;
    let parts = ImageParts::beside(image)?;
    let work = tempfile::tempdir()?;
    let disk = work.path().join("disk.img");
    println!("copying {} (sparse)", image.display());
    let copied = Command::new("cp")
        .arg("--sparse=always")
        .arg(image)
        .arg(&disk)
        .status()?;
    if !copied.success() {
        bail!("cannot copy the image");
    }

    // The registry on the host, named as the guest reaches it, serving updates.
    let mut registry = RegistryProcess::init_for_host("10.0.2.2");
    let published = work.path().join("published");
    registry.set_env("SAJILI_UPDATES", &published.to_string_lossy());
    registry.serve();
    println!(
        "registry on 127.0.0.1:{} (10.0.2.2 in the guest)",
        registry.port
    );
    let centre_bundle = set_up_centre(&registry, work.path())?;

    // This copy's boot entry: the journal on the serial console for the test to follow, and
    // vivid as the self-test's camera: one HDMI input and one HDMI output (the only pair it
    // loops), its capture side scaling to the kiosk's 640x480. The kiosk photographs with its
    // camera twin until the test rig's feed (`sajili.camera_loop`) gets a face through vivid's
    // loop: vivid starts its output only with two buffers queued, which the feed cannot do yet.
    set_boot_options(
        &disk,
        "console=ttyS0 systemd.journald.forward_to_console=1 modules-load=vivid \
         vivid.n_devs=1 vivid.node_types=0x101 vivid.num_inputs=1 vivid.input_types=0x3 \
         vivid.num_outputs=1 vivid.output_types=0x1 vivid.ccs_cap_mode=4 \
         systemd.setenv=SAJILI_CAMERA=twin",
    )?;

    // Flashed, but the field step forgotten: the kiosk says so on the screen.
    let mut guest = Guest::start(work.path(), &disk, out, "unprovisioned")?;
    let result = guest
        .wait_for("the kiosk's word", Duration::from_secs(600), |line| {
            line.contains("not set up: no keys")
        })
        .and_then(|_| {
            // Ready (READY=1) once its window is shown.
            guest.wait_for("the kiosk to be up", Duration::from_secs(120), |line| {
                line.contains("Started sajili-kiosk.service")
            })
        });
    let unprovisioned_frame = guest.started.elapsed();
    let result = result.and_then(|_| guest.shot("not-set-up"));
    power_off(guest, result, &registry, out, "the unprovisioned guest")?;
    println!(
        "first power-on, no bundle: the kiosk says it is not set up ({:.1} s to its window; 01-not-set-up.png)",
        unprovisioned_frame.as_secs_f64()
    );

    // The field step, exactly as field staff run it: the centre's bundle carries its own
    // one-time token, so none is given.
    let provision = Command::new(workspace_root().join("image-build/provision"))
        .arg("--bundle")
        .arg(&centre_bundle)
        .arg(&disk)
        .output()?;
    if !provision.status.success() {
        bail!(
            "image-build/provision failed: {}",
            String::from_utf8_lossy(&provision.stderr)
        );
    }
    print!("{}", String::from_utf8_lossy(&provision.stdout));
    let mut guest = Guest::start(work.path(), &disk, out, "enrol")?;
    let result = walk(&mut guest, &registry, &centre_bundle, out).and_then(|device| {
        let at = Updates {
            image: &parts,
            published: &published,
            work: work.path(),
        };
        update_over_the_network(&mut guest, &registry, &at, &device)?;
        withdraw(&mut guest, &registry, &device)
    });
    // The power button: the appliance shuts down cleanly (and its journal is complete).
    power_off(guest, result, &registry, out, "the guest")?;
    check_journal(work.path(), &disk)?;
    let entries = boot_entries(&disk)?;
    if !entries.iter().any(|e| e == "sajili-b.conf") {
        bail!("slot B was not marked good: the entries are {entries:?}");
    }
    println!("the update in slot B came up healthy and was kept: {entries:?}");

    // A/B: a new root whose kiosk does not come up is abandoned after its tries, and the
    // device goes back to the root it had.
    let mut guest = bad_update(work.path(), &disk, out)?;
    let result = walk_back(&mut guest);
    report_failure(&mut guest, &result, &registry, out);
    guest.stop();
    result?;
    let entries = boot_entries(&disk)?;
    if !entries.iter().any(|e| e == "sajili-a+0-2.conf") {
        bail!("the unhealthy root's entry did not run out of tries: {entries:?}");
    }
    println!("an unhealthy root in slot A used its 2 tries and was abandoned: {entries:?}");
    Ok(())
}

/// Reads the guest's journal from its data partition: structured fields are there, and
/// nothing the applicant typed is.
fn check_journal(work: &Path, disk: &Path) -> Result<()> {
    let (start, _) = partition(disk, "sajili-data")?;
    let dump = work.join("journal");
    std::fs::create_dir_all(&dump)?;
    let output = Command::new(debugfs()?)
        .arg("-R")
        .arg(format!("rdump /log/journal {}", dump.display()))
        .arg(format!("{}?offset={start}", disk.display()))
        .output()?;
    if !output.status.success() {
        bail!("debugfs: {}", String::from_utf8_lossy(&output.stderr));
    }
    let output = Command::new("journalctl")
        .arg(format!("--directory={}", dump.join("journal").display()))
        .args(["-o", "json", "--no-pager"])
        .output()
        .context("journalctl")?;
    let entries: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let ours: Vec<&Value> = entries
        .iter()
        .filter(|e| {
            e["SYSLOG_IDENTIFIER"]
                .as_str()
                .is_some_and(|id| id.starts_with("sajili-"))
        })
        .collect();
    let sent = ours
        .iter()
        .find(|e| e["SYSLOG_IDENTIFIER"] == "sajili-uplink" && e["SEQ"] == "1")
        .ok_or_else(|| {
            anyhow!(
                "no uplink entry with SEQ=1 among {} of Sajili's",
                ours.len()
            )
        })?;
    if sent["DEVICE"].as_str().is_none_or(str::is_empty) {
        bail!("the uplink's entry has no DEVICE field: {sent}");
    }
    let screens = ours.iter().filter(|e| e["SCREEN"].is_string()).count();
    let text = String::from_utf8_lossy(&output.stdout);
    for typed in ["OTIENO", "JOSEPH", "23456789", "AWASI", "03041985"] {
        if text.contains(typed) {
            bail!("the journal holds {typed:?}, which the applicant typed");
        }
    }
    for pin in [OPERATOR.1, SUPERVISOR.1] {
        if text.contains(pin) {
            bail!("the journal holds a PIN typed on the kiosk");
        }
    }
    println!(
        "journal on the data partition: {} entries, {} of Sajili's ({screens} with SCREEN=, the uplink's with DEVICE={} SEQ=1); nothing the applicant typed, no PIN",
        entries.len(),
        ours.len(),
        sent["DEVICE"].as_str().unwrap_or_default()
    );
    Ok(())
}

/// Ends a boot whose steps gave `result`: on failure what the guest showed and said, then the
/// power button (a clean shutdown within 3 minutes is itself checked).
fn power_off(
    mut guest: Guest,
    result: Result<()>,
    registry: &RegistryProcess,
    out: &Path,
    who: &str,
) -> Result<()> {
    report_failure(&mut guest, &result, registry, out);
    let powered_off = guest.power_button(Duration::from_secs(180));
    guest.stop();
    result?;
    if !powered_off {
        bail!("{who} did not power off within 3 minutes of the power button");
    }
    Ok(())
}

fn report_failure<T>(
    guest: &mut Guest,
    result: &Result<T>,
    registry: &RegistryProcess,
    out: &Path,
) {
    if result.is_err() {
        let _ = guest.screendump(&out.join("failure.png"));
        eprintln!("--- the guest's last console lines ---");
        for line in guest.tail(60) {
            eprintln!("{line}");
        }
        eprintln!("--- the registry's log ---\n{}", registry.log());
    }
}

/// Where partition `name` of `disk` is: (first byte, bytes).
fn partition(disk: &Path, name: &str) -> Result<(u64, u64)> {
    let output = Command::new("sfdisk").arg("--json").arg(disk).output()?;
    let table: Value = serde_json::from_slice(&output.stdout)?;
    let sector = table["partitiontable"]["sectorsize"]
        .as_u64()
        .unwrap_or(512);
    table["partitiontable"]["partitions"]
        .as_array()
        .and_then(|parts| parts.iter().find(|p| p["name"] == name))
        .and_then(|p| Some((p["start"].as_u64()? * sector, p["size"].as_u64()? * sector)))
        .ok_or_else(|| anyhow!("no partition {name} on {}", disk.display()))
}

/// Runs mtools' `tool` on the disk's EFI partition.
fn mtools(disk: &Path, tool: &str, args: &[&str]) -> Result<String> {
    let (start, _) = partition(disk, "sajili-esp")?;
    let output = Command::new(tool)
        .arg("-i")
        .arg(format!("{}@@{start}", disk.display()))
        .args(args)
        .env("MTOOLS_SKIP_CHECK", "1")
        .output()
        .with_context(|| format!("{tool} (mtools)"))?;
    if !output.status.success() {
        bail!(
            "{tool} {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The boot entries' file names on the EFI partition.
fn boot_entries(disk: &Path) -> Result<Vec<String>> {
    let listing = mtools(disk, "mdir", &["-b", "::/loader/entries"])?;
    Ok(listing
        .lines()
        .filter_map(|line| line.rsplit('/').next())
        .filter(|name| name.ends_with(".conf"))
        .map(String::from)
        .collect())
}

/// Writes boot entry `name` on the EFI partition.
fn write_entry(disk: &Path, work: &Path, name: &str, text: &str) -> Result<()> {
    let local = work.join(name);
    std::fs::write(&local, text)?;
    mtools(
        disk,
        "mcopy",
        &[
            "-o",
            &local.to_string_lossy(),
            &format!("::/loader/entries/{name}"),
        ],
    )?;
    Ok(())
}

/// A bad update: slot A gets a newer entry with two tries whose kiosk never starts (masked
/// on its command line, as a broken program would fail). Boots it.
fn bad_update(work: &Path, disk: &Path, out: &Path) -> Result<Guest> {
    let entry_a = mtools(disk, "mtype", &["::/loader/entries/sajili-a.conf"])?;
    mtools(disk, "mdel", &["::/loader/entries/sajili-a.conf"])?;
    let bad = with_lines(&entry_a, |line| {
        if line.starts_with("version") {
            "version  0.1.2".to_string()
        } else if line.starts_with("options") {
            format!("{line} systemd.mask=sajili-kiosk.service")
        } else {
            line.to_string()
        }
    });
    write_entry(disk, work, "sajili-a+2.conf", &bad)?;
    println!(
        "update 0.1.2, whose kiosk does not start, installed in slot A (sajili-a+2.conf); booting it"
    );
    Guest::start(work, disk, out, "update-bad")
}

/// Follows the bad update: two boots of slot A that reboot themselves, then slot B's kiosk.
fn walk_back(guest: &mut Guest) -> Result<()> {
    for attempt in 1..=2 {
        guest.wait_for(
            "slot A's health check to fail",
            Duration::from_secs(300),
            |line| line.contains("sajili-healthy.service") && line.contains("Failed with result"),
        )?;
        println!("  try {attempt} of slot A: the kiosk did not come up, the device reboots");
    }
    guest.wait_for(
        "the kiosk starting on slot B again",
        Duration::from_secs(300),
        |line| line.contains("starting, root") && line.contains("sajili-root-b"),
    )?;
    guest.wait_for(
        "the kiosk back on slot B",
        Duration::from_secs(300),
        |line| line.contains("first frame drawn"),
    )?;
    println!("  then slot B again, and its kiosk");
    Ok(())
}

/// Runs a back-office command at the registry; its standard output.
fn office(registry: &RegistryProcess, args: &[&str], stdin: &str) -> Result<String> {
    let output = registry.back_office(args, stdin);
    if !output.status.success() {
        bail!(
            "sajili-registry {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The back office's part before the device exists: a centre, its operator and supervisor,
/// and a provisioning bundle carrying the centre's signed policy and a one-time token that
/// assigns the device to it. Returns the bundle's path.
fn set_up_centre(registry: &RegistryProcess, work: &Path) -> Result<PathBuf> {
    office(
        registry,
        &[
            "centre",
            "set",
            CENTRE,
            "--name",
            "Awasi Chief's Office",
            "--kind",
            "public-office",
        ],
        "",
    )?;
    for (staff, role) in [(OPERATOR, "operator"), (SUPERVISOR, "supervisor")] {
        office(
            registry,
            &[
                "staff", "add", "--number", staff.0, "--role", role, "--centre", CENTRE,
            ],
            &format!("{}\n", staff.1),
        )?;
    }
    let bundle = work.join("centre-bundle.json");
    let made = office(
        registry,
        &[
            "policy",
            "bundle",
            "--trust-bundle",
            &registry.bundle.to_string_lossy(),
            "--centre",
            CENTRE,
            "--token",
            "7d",
            "--out",
            &bundle.to_string_lossy(),
        ],
        "",
    )?;
    println!(
        "centre {CENTRE} at the registry with operator {} and supervisor {}; {}",
        OPERATOR.0,
        SUPERVISOR.0,
        made.trim()
    );
    Ok(bundle)
}

/// The device's audit events as the registry holds them: (action, subject).
fn audit_actions(registry: &RegistryProcess, device: &str) -> Result<Vec<(String, String)>> {
    let listed = office(registry, &["audit", "--device", device, "--json"], "")?;
    Ok(listed
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .map(|event| {
            (
                event["action"].as_str().unwrap_or_default().to_string(),
                event["subject"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect())
}

/// Waits until the registry holds an audit event `action` from `device` whose subject says
/// `saying` (the kiosk audits at a hand-off, the uplink sends at its next pass); its subject.
fn wait_for_audit(
    registry: &RegistryProcess,
    device: &str,
    action: &str,
    saying: &str,
) -> Result<String> {
    let start = Instant::now();
    loop {
        let heard = audit_actions(registry, device)?;
        let found = heard
            .into_iter()
            .find(|(a, subject)| a == action && subject.contains(saying));
        if let Some((_, subject)) = found {
            return Ok(subject);
        }
        if start.elapsed() > Duration::from_secs(600) {
            bail!("the registry heard no {action} from {device} in 10 minutes");
        }
        std::thread::sleep(Duration::from_secs(5));
    }
}

/// What image-build wrote beside the image: the parts of an update, and the development
/// update key whose public half the image pins.
struct ImageParts {
    /// Root (erofs), kernel, initrd.
    parts: [PathBuf; 3],
    /// The update key's seed.
    key: PathBuf,
    /// Its public half (hex), as the registry checks bundles against it.
    public: PathBuf,
}

impl ImageParts {
    fn beside(image: &Path) -> Result<Self> {
        let dir = image.parent().unwrap_or(Path::new("."));
        let stem = image
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(|name| name.strip_suffix(".img"))
            .ok_or_else(|| anyhow!("{} is not a sajili-VERSION.img", image.display()))?;
        let parts =
            ["root.erofs", "linux", "initrd"].map(|part| dir.join(format!("{stem}.{part}")));
        let found = Self {
            parts,
            key: dir.join("update-key"),
            public: dir.join("update-key.pub"),
        };
        for path in found.parts.iter().chain([&found.key, &found.public]) {
            if !path.is_file() {
                bail!(
                    "{} is missing: build the image again (scripts/image)",
                    path.display()
                );
            }
        }
        Ok(found)
    }
}

/// `sajili update make`: a bundle of `version` from `parts`, signed by the seed in `key`.
fn make_bundle(key: &Path, version: &str, parts: &[PathBuf; 3], out: &Path) -> Result<()> {
    let output = Command::new(sajili_tests::sajili_bin())
        .args(["update", "make", "--key"])
        .arg(key)
        .args(["--version", version, "--root"])
        .arg(&parts[0])
        .arg("--linux")
        .arg(&parts[1])
        .arg("--initrd")
        .arg(&parts[2])
        .arg("--out")
        .arg(out)
        .output()?;
    if !output.status.success() {
        bail!(
            "sajili update make {version}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// Small parts for bundles that must never be installed: the installer refuses them on their
/// signed manifest, before it reads a part.
fn small_parts(work: &Path) -> Result<[PathBuf; 3]> {
    let dir = work.join("small");
    std::fs::create_dir_all(&dir)?;
    let parts = ["root.erofs", "linux", "initrd"].map(|name| dir.join(name));
    let root: Vec<u8> = (0..1usize << 20).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&parts[0], root)?;
    std::fs::write(&parts[1], vec![1u8; 4096])?;
    std::fs::write(&parts[2], vec![2u8; 8192])?;
    Ok(parts)
}

/// Publishes `bundle` to `device` at the registry, checked against the update key `public`;
/// the bundle's SHA-256.
fn publish(
    registry: &RegistryProcess,
    bundle: &Path,
    device: &str,
    public: &Path,
    updates: &Path,
) -> Result<String> {
    let said = office(
        registry,
        &[
            "update",
            "publish",
            &bundle.to_string_lossy(),
            "--to",
            &format!("device:{device}"),
            "--update-key",
            &public.to_string_lossy(),
            "--updates",
            &updates.to_string_lossy(),
        ],
        "",
    )?;
    said.split_whitespace()
        .last()
        .map(|word| word.trim_end_matches(").").to_string())
        .filter(|sha| sha.len() == 64)
        .ok_or_else(|| anyhow!("no SHA-256 in the registry's answer: {said}"))
}

/// Where the updates of [`update_over_the_network`] come from and go.
struct Updates<'a> {
    /// The image's parts and update key.
    image: &'a ImageParts,
    /// The registry's update directory (`SAJILI_UPDATES`).
    published: &'a Path,
    /// Where bundles are made.
    work: &'a Path,
}

/// Updates published at the registry reach the running guest over the network: a bundle
/// signed by another key is downloaded, refused and withdrawn; a downgrade is never offered;
/// the image's own parts as a newer version are downloaded, installed into slot B, booted and
/// blessed. Prints the bundle's size, the download and the install time.
fn update_over_the_network(
    guest: &mut Guest,
    registry: &RegistryProcess,
    at: &Updates<'_>,
    device: &str,
) -> Result<()> {
    let (image, updates, work) = (at.image, at.published, at.work);
    let small = small_parts(work)?;

    // Signed by another key: the back office was handed that key's public half, so the
    // registry publishes it; the device's installer checks against the key pinned in its root.
    let foreign = ed25519_dalek::SigningKey::from_bytes(&[0x5a; 32]);
    let foreign_key = work.join("foreign-update-key");
    let foreign_public = work.join("foreign-update-key.pub");
    std::fs::write(&foreign_key, foreign.to_bytes())?;
    std::fs::write(
        &foreign_public,
        sajili::record::hex(foreign.verifying_key().as_bytes()),
    )?;
    let bundle = work.join("foreign-0.1.1.sju");
    make_bundle(&foreign_key, "0.1.1", &small, &bundle)?;
    let sha = publish(registry, &bundle, device, &foreign_public, updates)?;
    println!("update 0.1.1 signed by another key published to device {device}");
    let downloaded = guest.wait_for(
        "the foreign bundle's download",
        Duration::from_secs(600),
        |line| line.contains("sajili-uplink") && line.contains("update 0.1.1 downloaded"),
    )?;
    println!("  in the guest: {}", message_of(&downloaded));
    let verdict = guest.wait_for(
        "the installer's verdict",
        Duration::from_secs(300),
        installer_verdict,
    )?;
    if !verdict.contains("not signed by the update key") {
        bail!("the installer did not refuse the foreign bundle: {verdict}");
    }
    println!("  in the guest: {}", message_of(&verdict));
    let heard = wait_for_audit(registry, device, "update.refused", "not signed")?;
    println!("  the registry's audit of the device: update.refused ({heard})");
    let withdrawn = office(registry, &["update", "withdraw", &sha], "")?;
    println!("  at the registry: {}", withdrawn.trim());

    // A downgrade signed by the right key: the registry offers nothing older than what runs,
    // and the device's checks since it was published say so.
    let downgrade = work.join("published-0.0.1.sju");
    make_bundle(&image.key, "0.0.1", &small, &downgrade)?;
    let before = registry.metric(NOTHING_OFFERED).unwrap_or(0.0);
    publish(registry, &downgrade, device, &image.public, updates)?;
    let asked_twice = wait_until(Duration::from_secs(600), || {
        registry.metric(NOTHING_OFFERED).unwrap_or(0.0) >= before + 2.0
    });
    if !asked_twice {
        bail!("the device asked for no update in 10 minutes");
    }
    println!(
        "update 0.0.1 (a downgrade, signed by the update key) published to the device: its next two update checks were answered with nothing to offer"
    );
    // The same downgrade on a USB stick, as a site without a network gets its updates: the
    // installer itself refuses it.
    let stick = work.join("stick.img");
    let mut written = std::fs::read(&downgrade)?;
    written.resize(written.len().next_multiple_of(1 << 20), 0);
    std::fs::write(&stick, written)?;
    guest.plug_stick(&stick)?;
    let verdict = guest.wait_for(
        "the installer's verdict on the stick",
        Duration::from_secs(300),
        installer_verdict,
    )?;
    if !verdict.contains("no downgrade") {
        bail!("the installer did not refuse the downgrade on the stick: {verdict}");
    }
    println!(
        "  on a USB stick, the installer in the guest: {}",
        message_of(&verdict)
    );
    let heard = wait_for_audit(registry, device, "update.refused", "no downgrade")?;
    println!("  the registry's audit of the device: update.refused ({heard})");
    guest.unplug_stick()?;

    // The update: the image's own parts as 0.1.1, signed by the development update key.
    let bundle = work.join("sajili-0.1.1.sju");
    make_bundle(&image.key, "0.1.1", &image.parts, &bundle)?;
    let size = std::fs::metadata(&bundle)?.len();
    let published = Instant::now();
    publish(registry, &bundle, device, &image.public, updates)?;
    println!(
        "update 0.1.1 ({size} bytes, {:.1} MiB: the image's root, kernel and initrd) published to the device",
        size as f64 / 1048576.0
    );
    let downloaded =
        guest.wait_for("the update's download", Duration::from_secs(1200), |line| {
            line.contains("sajili-uplink") && line.contains("update 0.1.1 downloaded")
        })?;
    let download_time = published.elapsed();
    println!("  in the guest: {}", message_of(&downloaded));
    let verdict = guest.wait_for(
        "the installer's verdict",
        Duration::from_secs(1200),
        installer_verdict,
    )?;
    if !verdict.contains("update 0.1.1 installed into slot B") {
        bail!("the installer did not install the update: {verdict}");
    }
    let install_seconds = message_of(&verdict)
        .split(" in ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or("?")
        .to_string();
    println!("  in the guest: {}", message_of(&verdict));
    // The installer's unit reboots once it has installed (SuccessAction=reboot).
    let reboot = guest.wait_for("the reboot", Duration::from_secs(300), |line| {
        line.contains("Reached target reboot.target") || line.contains("reboot: Restarting system")
    })?;
    println!("  in the guest: {}", message_of(&reboot));
    guest.screen = None;
    guest.wait_for(
        "the kiosk starting on slot B",
        Duration::from_secs(600),
        |line| line.contains("starting, root") && line.contains("sajili-root-b"),
    )?;
    guest.wait_for("the kiosk on slot B", Duration::from_secs(300), |line| {
        line.contains("first frame drawn")
    })?;
    guest.wait_for("the boot to be blessed", Duration::from_secs(300), |line| {
        line.contains("Finished") && line.contains("systemd-bless-boot")
    })?;
    let heard = wait_for_audit(registry, device, "update.installed", "0.1.1")?;
    println!(
        "  slot B booted, its kiosk came up, the boot was blessed; the registry's audit: update.installed ({heard})"
    );
    println!(
        "update figures: bundle {size} bytes ({:.1} MiB); published to downloaded {:.0} s; install in the guest {install_seconds} s (under TCG)",
        size as f64 / 1048576.0,
        download_time.as_secs_f64()
    );
    Ok(())
}

/// Whether `line` is the installer's verdict, from its journal logger (its failure is also
/// printed on its standard error, a second line that must not count as the next verdict).
fn installer_verdict(line: &str) -> bool {
    line.contains("sajili-update[")
        && (line.contains("update refused") || line.contains("installed into slot"))
}

/// The registry withdraws the device: its kiosk says so on its screen.
fn withdraw(guest: &mut Guest, registry: &RegistryProcess, device: &str) -> Result<()> {
    guest.wait_screen("language", Duration::from_secs(120))?;
    office(
        registry,
        &[
            "device",
            "withdraw",
            device,
            "--reason",
            "reported stolen from the Awasi office",
        ],
        "",
    )?;
    let withdrawn = Instant::now();
    guest.wait_screen("withdrawn", Duration::from_secs(600))?;
    println!(
        "device {device} withdrawn at the registry: its kiosk shows the withdrawn screen {:.0} s later",
        withdrawn.elapsed().as_secs_f64()
    );
    guest.shot("withdrawn")
}

/// e2fsprogs' debugfs, wherever this host keeps it.
fn debugfs() -> Result<&'static str> {
    ["debugfs", "/usr/sbin/debugfs", "/sbin/debugfs"]
        .into_iter()
        .find(|p| Command::new(p).arg("-V").output().is_ok())
        .ok_or_else(|| anyhow!("debugfs (e2fsprogs) is missing"))
}

/// The boot-time self-test (`sajili-selftest.service`, `sajili doctor`) ran before the kiosk:
/// its camera check opened the guest's vivid camera through `V4lSource`, so V4L2's ioctls and
/// mmap streaming ran for real, as no test on the host can.
fn check_selftest(guest: &mut Guest) -> Result<()> {
    let start = Instant::now();
    loop {
        guest.poll();
        let camera = guest
            .lines
            .iter()
            .find(|l| l.contains("camera") && l.contains("/dev/video") && l.contains("frame"));
        if let Some(line) = camera {
            let message = message_of(line);
            if !message.starts_with("OK") {
                bail!("the self-test's camera check failed in the guest: {message}");
            }
            println!("self-test in the guest, real V4L2 driver on vivid: {message}");
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(120) {
            bail!("the self-test never reported the guest's camera");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The enrolment, on a running guest provisioned with `centre_bundle`: an assisted enrolment
/// with one missing finger, through two power cuts, to the registry. Returns the device's id.
fn walk(
    guest: &mut Guest,
    registry: &RegistryProcess,
    centre_bundle: &Path,
    out: &Path,
) -> Result<String> {
    let booted = guest.wait_for(
        "the kiosk's first frame",
        Duration::from_secs(600),
        |line| line.contains("first frame drawn"),
    )?;
    let power_on_to_frame = guest.started.elapsed();
    println!(
        "power-on to the kiosk's first frame: {:.1} s ({})",
        power_on_to_frame.as_secs_f64(),
        message_of(&booted)
    );
    // The staff come with the bundle, before any network: the first hand-off takes them.
    let policy = guest.wait_for_any(
        "the kiosk to take the bundle's policy",
        Duration::from_secs(120),
        |line| {
            line.contains("fleet policy")
                && line.contains("the provisioning bundle")
                && line.contains("sajili-kiosk")
        },
    )?;
    if !message_of(&policy).starts_with("took") {
        bail!("the kiosk did not take the bundle's policy: {policy}");
    }
    println!("in the guest: {}", message_of(&policy));
    guest.wait_screen("language", Duration::from_secs(60))?;
    guest.shot("language")?;
    check_selftest(guest)?;

    let planner = Planner::open(&std::fs::read_to_string(centre_bundle)?)?;
    let mut touch = |label: &str, guest: &mut Guest| -> Result<()> {
        let screen = planner.screen().id();
        let (x, y) = planner.locate(label)?;
        guest.wait_screen(screen, Duration::from_secs(120))?;
        guest.touch(x, y)?;
        planner.press(label)?;
        std::thread::sleep(TAP_GAP);
        Ok(())
    };
    let keys = |text: &str,
                guest: &mut Guest,
                touch: &mut dyn FnMut(&str, &mut Guest) -> Result<()>|
     -> Result<()> {
        for c in text.chars() {
            match c {
                ' ' => touch("Space", guest)?,
                c => touch(&c.to_string(), guest)?,
            }
        }
        Ok(())
    };
    let fill = |field: &str,
                text: &str,
                guest: &mut Guest,
                touch: &mut dyn FnMut(&str, &mut Guest) -> Result<()>|
     -> Result<()> {
        // A person puts the keyboard away to reach another box: on the host every box can be
        // found, but under the keyboard a touch lands on the keyboard.
        if planner.shows("Hide keyboard") {
            touch("Hide keyboard", guest)?;
        }
        touch(field, guest)?;
        keys(text, guest, touch)
    };
    // A staff member signs in on the on-screen keys; `who` names them in the journal
    // (`staff sign-in for Operator: …`), which says whether the kiosk let them in.
    let sign_in = |staff: (&str, &str),
                   who: &str,
                   guest: &mut Guest,
                   touch: &mut dyn FnMut(&str, &mut Guest) -> Result<()>|
     -> Result<()> {
        touch("Staff number", guest)?;
        keys(staff.0, guest, touch)?;
        touch("PIN", guest)?;
        keys(staff.1, guest, touch)?;
        guest.shot(&format!("{}-sign-in", who.to_lowercase()))?;
        touch("Sign in", guest)?;
        let said = guest.wait_for(
            "the sign-in to be checked",
            Duration::from_secs(120),
            |line| line.contains(&format!("staff sign-in for {who}:")),
        )?;
        if !message_of(&said).ends_with(": staff.login") {
            bail!("{} was not let in: {}", staff.0, message_of(&said));
        }
        Ok(())
    };

    touch("English", guest)?;
    touch("I agree", guest)?;
    touch("With an operator: a member of staff will help me", guest)?;
    guest.wait_screen("login", Duration::from_secs(60))?;
    sign_in(OPERATOR, "Operator", guest, &mut touch)?;
    println!(
        "operator {} signed in on the on-screen keys (staff from the bundle's policy)",
        OPERATOR.0
    );
    touch("Kenyan citizen", guest)?;
    touch("National ID card", guest)?;
    fill("Document number", "23456789", guest, &mut touch)?;
    guest.shot("document")?;
    touch("Next ›", guest)?;
    fill("Surname", "OTIENO", guest, &mut touch)?;
    fill("First name", "JOSEPH", guest, &mut touch)?;
    touch("Next ›", guest)?;

    // The power goes in the middle of the form: the enrolment comes back where it was.
    guest.wait_screen("birth", Duration::from_secs(60))?;
    guest.shot("birth-before-power-cut")?;
    std::thread::sleep(Duration::from_secs(2));
    println!("power cut on the birth page (QMP system_reset)");
    guest.power_cut()?;
    guest.wait_for(
        "the kiosk after the cut",
        Duration::from_secs(600),
        |line| line.contains("first frame drawn"),
    )?;
    guest.wait_screen("birth", Duration::from_secs(60))?;
    println!("after the cut the kiosk resumed on the birth page");
    guest.shot("birth-resumed")?;

    fill(
        "Date of birth (day/month/year)",
        "03041985",
        guest,
        &mut touch,
    )?;
    touch("Male", guest)?;
    // The place of birth, below the keyboard: hidden first, as a person would.
    touch("Hide keyboard", guest)?;
    touch("Born in Kenya: county  ▾", guest)?;
    touch("Kisumu", guest)?;
    touch("Next ›", guest)?;
    touch("Married", guest)?;
    touch("None", guest)?;
    touch("Next ›", guest)?;
    touch("Secondary", guest)?;
    touch("Self-employed", guest)?;
    touch("Next ›", guest)?;
    fill("Ethnic group", "LUO", guest, &mut touch)?;
    touch("Choose the county  ▾", guest)?;
    touch("Kisumu", guest)?;
    touch("Choose the sub-county  ▾", guest)?;
    touch("Nyando", guest)?;
    fill("Location", "AWASI", guest, &mut touch)?;
    guest.shot("residence")?;
    touch("Next ›", guest)?;
    touch("Next ›", guest)?;

    // The photo takes itself once the face has been steady.
    guest.wait_screen("photo", Duration::from_secs(60))?;
    let taken = guest.wait_for("the photo", Duration::from_secs(240), |line| {
        line.contains("photo taken")
    });
    if let Err(error) = taken {
        // What the camera showed and which check held the photo back.
        guest.shot("photo-not-taken")?;
        return Err(error);
    }
    guest.shot("photo")?;
    planner.wait("the host's photo", |app| {
        app.session().draft().photo.is_some()
    })?;
    touch("Next ›", guest)?;

    // The right ring finger is missing: recorded on the hand diagram with its reason, then
    // every other finger, as often as the guest's kiosk asks; the host's copy follows its own
    // twin.
    guest.wait_screen("fingers", Duration::from_secs(60))?;
    // The choices open over the diagram: each is drawn before the next touch.
    touch("Right ring finger", guest)?;
    std::thread::sleep(Duration::from_secs(1));
    touch("This finger cannot be printed", guest)?;
    std::thread::sleep(Duration::from_secs(1));
    touch("Amputated", guest)?;
    guest.shot("finger-missing")?;
    touch("Right thumb", guest)?;
    let take = planner.locate("Take print")?;
    let mut prints = 0;
    loop {
        let left = guest.fingers_left.unwrap_or(9);
        if left == 0 {
            break;
        }
        if prints >= 40 {
            bail!("nine fingers took more than 40 prints in the guest");
        }
        let seen = guest.prints;
        guest.touch(take.0, take.1)?;
        prints += 1;
        guest.wait_for("a print", Duration::from_secs(120), |line| {
            line.contains("print taken") || line.contains("sensor")
        })?;
        if guest.prints == seen {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    println!("{prints} print(s) taken in the guest for nine fingers, one recorded as amputated");
    guest.shot("fingers")?;
    planner.fingers("Take print")?;
    // An assisted enrolment, and a finger exception: a supervisor signs it off.
    touch("Next ›", guest)?;
    guest.wait_screen("login", Duration::from_secs(60))?;
    sign_in(SUPERVISOR, "Supervisor", guest, &mut touch)?;
    println!("supervisor {} signed the enrolment off", SUPERVISOR.0);
    guest.wait_screen("review", Duration::from_secs(120))?;
    guest.shot("review")?;
    // The network cable comes out before sealing: the record must wait on the device, through
    // the power cut below, and leave when the cable is back.
    guest
        .qmp
        .command("set_link", json!({"name": "nic0", "up": false}))?;
    println!("network unplugged (QMP set_link) before sealing");
    touch("Save my enrolment", guest)?;
    let sealed = guest.wait_for("sealing", Duration::from_secs(300), |line| {
        line.contains("enrolment sealed")
    })?;
    println!("in the guest: {}", message_of(&sealed));
    guest.wait_screen("done", Duration::from_secs(60))?;
    guest.shot("done")?;
    // The number the applicant was shown (the journal line names it: device and seq, nothing
    // about the person).
    let sealed_number = message_of(&sealed)
        .strip_prefix("enrolment sealed: ")
        .and_then(|rest| rest.split(',').next())
        .unwrap_or_default()
        .to_string();

    // The power goes again at once: what was sealed is on the data partition, and the uplink
    // sends it once the network is back after the reboot.
    println!("power cut just after sealing (QMP system_reset)");
    guest.power_cut()?;
    guest.wait_for(
        "the kiosk after the second cut",
        Duration::from_secs(600),
        |line| line.contains("first frame drawn"),
    )?;
    guest.wait_screen("language", Duration::from_secs(60))?;
    guest.shot("language-after-second-cut")?;
    std::thread::sleep(Duration::from_secs(15));
    let held = registry.stats()["records"].as_u64().unwrap_or(0);
    if held != 0 {
        bail!("the registry has {held} record(s) although the network was unplugged");
    }
    guest
        .qmp
        .command("set_link", json!({"name": "nic0", "up": true}))?;
    println!("network plugged back in; the registry held nothing until now");

    let arrived = wait_until(Duration::from_secs(600), || {
        registry.stats()["records"].as_u64().unwrap_or(0) >= 1
    });
    if !arrived {
        bail!(
            "the registry has no record after 10 minutes: {}",
            registry.stats()
        );
    }
    let stats = registry.stats();
    let device = stats["chains"][0]["device"]
        .as_str()
        .ok_or_else(|| anyhow!("no device chain in {stats}"))?
        .to_string();
    let records = registry.show(&device);
    let record = records
        .first()
        .ok_or_else(|| anyhow!("registry show gave nothing"))?;
    let names = &record["enrolment"]["demographics"]["names"];
    if names["surname"] != "OTIENO" || names["first_name"] != "JOSEPH" {
        bail!("the registry decrypted something else: {record}");
    }
    let fingers = record["enrolment"]["fingerprints"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let printed = fingers.iter().filter(|f| f.get("image").is_some()).count();
    let missing: Vec<&Value> = fingers
        .iter()
        .filter(|f| f.get("exception").is_some())
        .collect();
    let photo_bytes = record["enrolment"]["photo"]["bytes"].as_u64().unwrap_or(0);
    if printed != 9 || photo_bytes == 0 {
        bail!("the record lacks biometrics: {printed} print(s), photo {photo_bytes} bytes");
    }
    if missing.len() != 1 || missing[0]["position"] != "right_ring" {
        bail!("the record does not hold the right ring finger as missing: {missing:?}");
    }
    let staff = &record["enrolment"]["staff"];
    if staff["operator"] != OPERATOR.0 || staff["supervisor"] != SUPERVISOR.0 {
        bail!("the record names other staff: {staff}");
    }
    if record["registration_number"] != sealed_number {
        bail!(
            "the registry holds {} but the kiosk showed {sealed_number}",
            record["registration_number"]
        );
    }
    println!(
        "the registry received and decrypted record {} of device {device}: OTIENO JOSEPH, 9 prints and the right ring finger {} ({}), operator {}, signed off by {}, a {photo_bytes}-byte photo",
        record["registration_number"],
        missing[0]["exception"],
        missing[0]["position"],
        OPERATOR.0,
        SUPERVISOR.0
    );
    println!(
        "kiosk memory in the guest (VmRSS): {} MB at the first frame, {} MB just after sealing",
        megabytes_in(&booted),
        megabytes_in(&sealed)
    );
    println!("screenshots in {}", out.display());
    Ok(device)
}

/// Appends `options` to the boot entry's kernel command line on the image's EFI partition.
fn set_boot_options(disk: &Path, options: &str) -> Result<()> {
    let entry = mtools(disk, "mtype", &["::/loader/entries/sajili-a.conf"])?;
    let entry = with_lines(&entry, |line| {
        if line.starts_with("options") {
            format!("{line} {options}")
        } else {
            line.to_string()
        }
    });
    let work = disk.parent().unwrap_or(Path::new("."));
    write_entry(disk, work, "sajili-a.conf", &entry)
}

/// `text` with each line replaced by `edit(line)`, newline-terminated (a boot entry).
fn with_lines(text: &str, edit: impl Fn(&str) -> String) -> String {
    text.lines().map(edit).collect::<Vec<_>>().join("\n") + "\n"
}

/// The "N MB resident" figure in a kiosk's log line.
fn megabytes_in(line: &str) -> String {
    line.split(" MB resident")
        .next()
        .and_then(|head| head.rsplit(' ').next())
        .unwrap_or("?")
        .to_string()
}

/// The text after `unit[pid]: ` in a console line.
fn message_of(line: &str) -> &str {
    line.split_once("]: ").map_or(line, |(_, message)| message)
}

/// The QEMU guest: its process, its QMP socket, its serial console (a file).
struct Guest {
    qemu: Child,
    twin: Option<Child>,
    qmp: Qmp,
    serial: PathBuf,
    read: usize,
    lines: Vec<String>,
    /// Lines before this one have been matched by a wait (or passed by it).
    cursor: usize,
    started: Instant,
    out: PathBuf,
    shots: usize,
    /// The guest kiosk's screen, by its journal.
    screen: Option<String>,
    fingers_left: Option<usize>,
    prints: usize,
}

impl Guest {
    /// Powers on a guest on `disk`; its console and QEMU's messages go to files named after
    /// `phase` in `out`.
    fn start(work: &Path, disk: &Path, out: &Path, phase: &str) -> Result<Self> {
        let vars = work.join("OVMF_VARS.fd");
        std::fs::copy("/usr/share/OVMF/OVMF_VARS_4M.fd", &vars)
            .context("OVMF (apt-get install ovmf)")?;
        let qmp_path = work.join("qmp.sock");
        let sensor = work.join("sensor.sock");
        // A previous boot's sockets would look like this one's.
        let _ = std::fs::remove_file(&qmp_path);
        let _ = std::fs::remove_file(&sensor);
        let serial = out.join(format!("console-{phase}.log"));
        let _ = std::fs::remove_file(&serial);
        let accel = std::env::var("SAJILI_QEMU_ACCEL").unwrap_or_else(|_| "tcg".into());
        let qemu = Command::new("qemu-system-x86_64")
            .args([
                "-accel", &accel, "-machine", "q35", "-cpu", "max", "-smp", "2", "-m", "2048",
            ])
            .args([
                "-drive",
                "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd",
            ])
            .arg("-drive")
            .arg(format!("if=pflash,format=raw,file={}", vars.display()))
            .arg("-drive")
            .arg(format!("if=virtio,format=raw,file={}", disk.display()))
            .args([
                "-device",
                &format!("virtio-gpu-pci,id=gpu0,xres={WIDTH},yres={HEIGHT}"),
            ])
            .args(["-device", "virtio-multitouch-pci,display=gpu0"])
            .args(["-device", "qemu-xhci,id=xhci"])
            .arg("-chardev")
            .arg(format!(
                "socket,id=sensor,path={},server=on,wait=off",
                sensor.display()
            ))
            .args(["-device", "usb-serial,chardev=sensor,always-plugged=on"])
            .args([
                "-netdev",
                "user,id=net0",
                "-device",
                "virtio-net-pci,netdev=net0,id=nic0",
            ])
            .arg("-serial")
            .arg(format!("file:{}", serial.display()))
            .arg("-qmp")
            .arg(format!("unix:{},server=on,wait=off", qmp_path.display()))
            .args([
                "-display",
                "none",
                "-no-user-config",
                "-nodefaults",
                "-vga",
                "none",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(
                out.join(format!("qemu-{phase}.log")),
            )?)
            .spawn()
            .context(
                "qemu-system-x86_64 (apt-get install -t bookworm-backports qemu-system-x86)",
            )?;
        let started = Instant::now();
        if !wait_until(Duration::from_secs(20), || {
            qmp_path.exists() && sensor.exists()
        }) {
            bail!(
                "QEMU did not start: {}",
                std::fs::read_to_string(out.join(format!("qemu-{phase}.log"))).unwrap_or_default()
            );
        }
        let qmp = Qmp::connect(&qmp_path)?;
        let twin = Command::new(sajili_tests::sajili_bin())
            .args(["twin", "sensor", "--socket"])
            .arg(&sensor)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(
                out.join(format!("sensor-twin-{phase}.log")),
            )?)
            .spawn()
            .context("the sensor twin")?;
        Ok(Self {
            qemu,
            twin: Some(twin),
            qmp,
            serial,
            read: 0,
            lines: Vec::new(),
            cursor: 0,
            started,
            out: out.to_path_buf(),
            shots: 0,
            screen: None,
            fingers_left: None,
            prints: 0,
        })
    }

    /// Reads what the console printed since the last look; returns the new lines.
    fn poll(&mut self) -> Vec<String> {
        let Ok(mut file) = std::fs::File::open(&self.serial) else {
            return Vec::new();
        };
        let mut bytes = Vec::new();
        if file.read_to_end(&mut bytes).is_err() || bytes.len() <= self.read {
            return Vec::new();
        }
        let Some(end) = bytes[self.read..].iter().rposition(|b| *b == b'\n') else {
            return Vec::new();
        };
        let text = String::from_utf8_lossy(&bytes[self.read..self.read + end + 1]).into_owned();
        self.read += end + 1;
        let new: Vec<String> = text
            .lines()
            .map(|l| l.trim_end_matches('\r').to_string())
            .collect();
        for line in &new {
            if !line.contains("sajili-kiosk") {
                continue;
            }
            let message = message_of(line);
            if let Some(screen) = message.strip_prefix("screen ") {
                self.screen = Some(screen.trim().to_string());
            }
            if let Some(left) = message.strip_prefix("print taken, fingers left ") {
                self.prints += 1;
                self.fingers_left = left.trim().parse().ok();
            }
        }
        self.lines.extend(new.iter().cloned());
        new
    }

    /// Waits up to `timeout` for a new console line that satisfies `test`; returns it.
    fn wait_for(
        &mut self,
        what: &str,
        timeout: Duration,
        test: impl Fn(&str) -> bool,
    ) -> Result<String> {
        let start = Instant::now();
        loop {
            self.poll();
            // In order: a line another wait went past is still there for this one.
            if let Some(at) = self.lines[self.cursor..].iter().position(|l| test(l)) {
                self.cursor += at + 1;
                return Ok(self.lines[self.cursor - 1].clone());
            }
            if let Ok(Some(status)) = self.qemu.try_wait() {
                bail!("QEMU exited ({status}) waiting for {what}");
            }
            if start.elapsed() > timeout {
                bail!("waited {} s for {what}", timeout.as_secs());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// As [`Guest::wait_for`], but a line from before the cursor counts too: for what comes in
    /// its own time beside the steps being followed.
    fn wait_for_any(
        &mut self,
        what: &str,
        timeout: Duration,
        test: impl Fn(&str) -> bool,
    ) -> Result<String> {
        self.poll();
        if let Some(line) = self.lines.iter().find(|l| test(l)) {
            return Ok(line.clone());
        }
        self.wait_for(what, timeout, test)
    }

    /// Waits until the guest's kiosk says it shows `screen`.
    fn wait_screen(&mut self, screen: &str, timeout: Duration) -> Result<()> {
        let start = Instant::now();
        loop {
            self.poll();
            if self.screen.as_deref() == Some(screen) {
                return Ok(());
            }
            if start.elapsed() > timeout {
                bail!(
                    "the guest shows {:?}, not {screen}, after {} s",
                    self.screen,
                    timeout.as_secs()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A touch and release at panel pixel (x, y).
    fn touch(&mut self, x: f32, y: f32) -> Result<()> {
        let ax = ((x / (WIDTH - 1) as f32) * 32767.0).round() as i64;
        let ay = ((y / (HEIGHT - 1) as f32) * 32767.0).round() as i64;
        let mtt = |kind: &str, tracking: i64, axis: &str, value: i64| json!({"type": "mtt", "data": {"type": kind, "slot": 0, "tracking-id": tracking, "axis": axis, "value": value}});
        self.qmp.command(
            "input-send-event",
            json!({"device": "gpu0", "events": [mtt("begin", 1, "x", ax), mtt("data", 1, "x", ax), mtt("data", 1, "y", ay)]}),
        )?;
        std::thread::sleep(Duration::from_millis(60));
        self.qmp.command(
            "input-send-event",
            json!({"device": "gpu0", "events": [mtt("end", -1, "x", ax)]}),
        )?;
        Ok(())
    }

    fn screendump(&mut self, path: &Path) -> Result<()> {
        self.qmp.command(
            "screendump",
            json!({"filename": path.to_string_lossy(), "device": "gpu0", "format": "png"}),
        )?;
        Ok(())
    }

    /// Saves what the panel shows as NN-name.png.
    fn shot(&mut self, name: &str) -> Result<()> {
        // Lets the last touch's frame reach the panel.
        std::thread::sleep(Duration::from_millis(800));
        self.shots += 1;
        let path = self.out.join(format!("{:02}-{name}.png", self.shots));
        self.screendump(&path)
    }

    /// Presses the power button (ACPI); whether QEMU exits within `patience`.
    fn power_button(&mut self, patience: Duration) -> bool {
        if self.qmp.command("system_powerdown", json!({})).is_err() {
            return false;
        }
        wait_until(patience, || matches!(self.qemu.try_wait(), Ok(Some(_))))
    }

    /// Plugs a USB stick holding `image` (its raw bytes) into the running guest.
    fn plug_stick(&mut self, image: &Path) -> Result<()> {
        self.qmp.command(
            "blockdev-add",
            json!({"driver": "raw", "node-name": "stick", "file": {"driver": "file", "filename": image.to_string_lossy()}}),
        )?;
        self.qmp.command(
            "device_add",
            json!({"driver": "usb-storage", "id": "stick0", "drive": "stick", "bus": "xhci.0"}),
        )?;
        Ok(())
    }

    /// Pulls the stick out.
    fn unplug_stick(&mut self) -> Result<()> {
        self.qmp.command("device_del", json!({"id": "stick0"}))?;
        Ok(())
    }

    fn power_cut(&mut self) -> Result<()> {
        self.qmp.command("system_reset", json!({}))?;
        self.screen = None;
        Ok(())
    }

    fn tail(&mut self, n: usize) -> Vec<String> {
        self.poll();
        self.lines[self.lines.len().saturating_sub(n)..].to_vec()
    }

    fn stop(&mut self) {
        let _ = self.qmp.command("quit", json!({}));
        if !wait_until(Duration::from_secs(10), || {
            matches!(self.qemu.try_wait(), Ok(Some(_)))
        }) {
            let _ = self.qemu.kill();
        }
        let _ = self.qemu.wait();
        if let Some(mut twin) = self.twin.take() {
            let _ = twin.kill();
            let _ = twin.wait();
        }
    }
}

/// A QMP connection: one command at a time, events skipped.
struct Qmp {
    writer: UnixStream,
    reader: BufReader<UnixStream>,
}

impl Qmp {
    fn connect(path: &Path) -> Result<Self> {
        let stream = UnixStream::connect(path).context("QMP socket")?;
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        let mut qmp = Self {
            writer: stream.try_clone()?,
            reader: BufReader::new(stream),
        };
        qmp.read_value()?; // the greeting
        qmp.command("qmp_capabilities", json!({}))?;
        Ok(qmp)
    }

    fn read_value(&mut self) -> Result<Value> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            bail!("QMP closed");
        }
        Ok(serde_json::from_str(&line)?)
    }

    fn command(&mut self, name: &str, arguments: Value) -> Result<Value> {
        let message = json!({"execute": name, "arguments": arguments});
        self.writer.write_all(format!("{message}\n").as_bytes())?;
        loop {
            let value = self.read_value()?;
            if let Some(result) = value.get("return") {
                return Ok(result.clone());
            }
            if let Some(error) = value.get("error") {
                bail!("QMP {name}: {error}");
            }
        }
    }
}

/// The kiosk's screens on the host, at the guest's size, kept in step with the guest: where a
/// label is, and the screen after a touch.
struct Planner {
    driver: KioskDriver,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for Planner {
    type Target = KioskDriver;
    fn deref(&self) -> &KioskDriver {
        &self.driver
    }
}

impl Planner {
    /// The screens of a device provisioned with `bundle_json` (the guest's own bundle), running
    /// the policy it carries: the same staff, settings and languages as the guest.
    fn open(bundle_json: &str) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let device = demo::device_with_bundle(dir.path(), bundle_json)?;
        let policy = device
            .bundle
            .policy_bytes()
            .ok_or_else(|| anyhow!("the centre's bundle carries no policy"))?;
        let key = device.bundle.policy_key().map_err(|e| anyhow!("{e}"))?;
        let now = sajili::clock::Clock::now(&sajili::clock::SystemClock);
        sajili::fleet::take(&device.store, &policy, Some(&key), now)
            .map_err(|e| anyhow!("the host's copy refused the centre's policy: {e}"))?;
        let devices = twins::devices(4).map_err(|e| anyhow!(e))?;
        Ok(Self {
            driver: KioskDriver::open(device, devices, WIDTH, HEIGHT)?,
            _dir: dir,
        })
    }

    /// The centre of what is labelled `label`, in panel pixels.
    fn locate(&self, label: &str) -> Result<(f32, f32)> {
        let element = self.element(label)?;
        let (at, size) = (element.absolute_position(), element.size());
        let (x, y) = (at.x + size.width / 2.0, at.y + size.height / 2.0);
        if !(0.0..WIDTH as f32).contains(&x) || !(0.0..HEIGHT as f32).contains(&y) {
            bail!("{label:?} is off the panel at ({x}, {y})");
        }
        Ok((x, y))
    }
}
