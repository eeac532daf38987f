//! `sajili`: the kiosk's command line. Parses arguments, calls the library, and decides exit
//! codes and messages in one place: 0 done, 1 failed (or verification found a fault),
//! 2 the input was wrong (nothing was stored).

mod bio_cli;
mod bundle_cli;
mod kiosk_cli;
mod update_cli;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sajili::clock::{self, Clock, SystemClock};
use sajili::device::{self, DataDir, DeviceError};
use sajili::kiosk::{self, EnrolError, ImportError};
use sajili::record::hex;
use sajili::store::{StoreError, VerifyFailure};

/// Sajili: national biometric identity enrolment kiosk.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// The device's data dir (store, keys, pinned trust bundle).
    #[arg(
        long,
        global = true,
        env = "SAJILI_DATA",
        default_value = "/var/lib/sajili"
    )]
    data: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Make this device's keys (here, never copied in), pin the registry's trust bundle, and
    /// create the store. Refuses a data dir that is already initialised.
    Init {
        /// The provisioning bundle: a trust bundle (JSON from `sajili-registry init
        /// --bundle-out`), signed with `sajili bundle sign` when the device has a provisioning key.
        #[arg(long)]
        bundle: PathBuf,
        /// The provisioning key's public half (hex; the image's is
        /// /usr/lib/sajili/provisioning-key.pub): a bundle it did not sign is refused.
        #[arg(long)]
        provisioning_key: Option<PathBuf>,
    },
    /// Seal one enrolment given as JSON (see docs/enrolment-json.md) and print its
    /// registration number. Exits 2, listing every problem, if the enrolment is not valid.
    Enrol {
        /// The enrolment; image paths in it are relative to this file. Give it more than once
        /// to seal several, in order (one registration number per line).
        #[arg(long, required = true)]
        json: Vec<PathBuf>,
    },
    /// Show the device id, records sealed, queue waiting for the registry, and chain head.
    Status {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Get this device's TLS certificate from the registry: makes the TLS key here, sends a
    /// certificate request with a one-time enrolment token. Safe to run again after a cut.
    Provision {
        /// The registry, `https://host:port` (default: the pinned trust bundle's).
        #[arg(long)]
        registry: Option<String>,
        /// The one-time enrolment token (default: the trust bundle's, if it has one).
        #[arg(long)]
        token: Option<String>,
    },
    /// Send sealed records to the registry over mutual TLS, for ever (waiting for connectivity
    /// and new records, backing off with jitter), or until the outbox is drained (`--once`).
    /// Reads only the spool and its own directory: never plaintext or the signing key.
    Uplink {
        /// Drain the outbox and exit: 0 when every record has a receipt, 1 saying why not.
        #[arg(long)]
        once: bool,
        /// The longest wait between tries after failures, seconds.
        #[arg(long, default_value_t = 300)]
        max_backoff: u64,
        /// How often to look for new records when idle, milliseconds.
        #[arg(long, default_value_t = 2000)]
        poll_ms: u64,
        /// How often an idle uplink asks the registry for a newer fleet policy (and sends
        /// audit events), seconds.
        #[arg(long, default_value_t = 60)]
        fleet_every: u64,
    },
    /// Check every stored envelope's signature and the hash chain from seq 1 to the head.
    /// Exits 1 naming the first bad seq and why.
    Verify,
    /// Self-test for field staff: find every camera, fingerprint sensor, receipt printer
    /// (SAJILI_PRINTER, else every /dev/usb/lp*) and input device, check each one, and print a
    /// verdict per device. Exits 1 if any needs attention.
    Doctor {
        /// Check the simulated twins instead of real devices.
        #[arg(long)]
        simulate: bool,
    },
    /// Run a simulated device for other programs to talk to.
    #[command(subcommand)]
    Twin(TwinCommand),
    /// Biometric tools for field engineers and ABIS integrators.
    #[command(subcommand)]
    Bio(bio_cli::BioCommand),
    /// The touchscreen kiosk: full screen on the device (linuxkms), a window on a desktop.
    Kiosk {
        /// Use the simulated camera and fingerprint sensor instead of real ones.
        #[arg(long)]
        simulate: bool,
        /// The camera: `auto` (the first one found) or `twin` (the simulated camera, for a
        /// demonstration unit or a device whose camera has not arrived yet).
        #[arg(long, env = "SAJILI_CAMERA", default_value = "auto", value_parser = ["auto", "twin"])]
        camera: String,
    },
    /// The kiosk on simulated devices with a throwaway data dir: in a window where there is a
    /// display, otherwise headless, writing a PNG of every screen.
    Demo {
        /// Run headless and write every screen, in both languages at 1280x800 and 800x480,
        /// into this folder.
        #[arg(long)]
        screenshots: Option<PathBuf>,
    },
    /// Operators and supervisors who may sign in on this device.
    #[command(subcommand)]
    Staff(kiosk_cli::StaffCommand),
    /// Signed software updates: make a bundle, install one into the inactive slot.
    #[command(subcommand)]
    Update(update_cli::UpdateCommand),
    /// Provisioning bundles: sign one with the ministry's provisioning key, or check one.
    #[command(subcommand)]
    Bundle(bundle_cli::BundleCommand),
}

#[derive(Debug, Subcommand)]
enum TwinCommand {
    /// A fingerprint sensor (R30x protocol) on a pseudo-terminal: prints the device path, then
    /// answers on it until stopped. Any R30x client can use it as it would /dev/ttyUSB0.
    Sensor {
        /// Also make a symlink to the device here.
        #[arg(long)]
        link: Option<PathBuf>,
        /// Serve these 8-bit grey 256x288 PNG prints in turn (default: built-in test patterns).
        #[arg(long)]
        images: Option<PathBuf>,
        /// Inject a fault.
        #[arg(long, value_enum)]
        fault: Option<sajili::simulate::SensorFault>,
        /// Answer only as fast as a real wire at the current baud rate.
        #[arg(long)]
        pace: bool,
        /// Serve on this Unix socket instead of a pty, connecting to it: a virtual machine's
        /// USB serial port (QEMU: `-device usb-serial,chardev=C -chardev socket,id=C,path=..,server=on`).
        #[arg(long, conflicts_with = "link")]
        socket: Option<PathBuf>,
    },
    /// A USB receipt printer (ESC/POS) on a pseudo-terminal, its device node a link at LINK:
    /// answers status requests as a real one does and prints each slip it is sent as a PNG
    /// page. Point the kiosk or `sajili doctor` at it with SAJILI_PRINTER=LINK.
    Printer {
        /// Where its device node appears.
        #[arg(long)]
        link: PathBuf,
        /// Start out of paper, with the cover open, or unplugged (no device node).
        #[arg(long, value_enum)]
        fault: Option<sajili::simulate::PrinterFault>,
        /// Write each slip printed into this folder as slip-N.png.
        #[arg(long)]
        pages: Option<PathBuf>,
    },
    /// The kernel's vivid test driver as a camera showing the demo face: turns its video loop
    /// on and writes the face to its HDMI output until stopped, so `sajili kiosk` captures it
    /// through the real V4L2 driver (vivid loaded with num_inputs=1 input_types=0x3
    /// num_outputs=1 output_types=0x1 ccs_cap_mode=4; the boot test's guest).
    Vivid,
}

impl Command {
    /// The name its log lines go under.
    fn component(&self) -> &'static str {
        match self {
            Self::Init { .. } => "init",
            Self::Enrol { .. } => "enrol",
            Self::Status { .. } => "status",
            Self::Provision { .. } => "provision",
            Self::Uplink { .. } => "uplink",
            Self::Verify => "verify",
            Self::Doctor { .. } => "doctor",
            Self::Twin(_) => "twin",
            Self::Bio(_) => "bio",
            Self::Kiosk { .. } | Self::Demo { .. } => "kiosk",
            Self::Staff(_) => "staff",
            Self::Update(_) => "update",
            Self::Bundle(_) => "bundle",
        }
    }
}

/// A failure, sorted by exit code.
enum Failure {
    /// The input was wrong; nothing was stored. Exit 2.
    Input(String),
    /// Anything else. Exit 1.
    Failed(String),
}

impl From<DeviceError> for Failure {
    fn from(error: DeviceError) -> Self {
        match error {
            DeviceError::Bundle { .. }
            | DeviceError::ReadBundle { .. }
            | DeviceError::Provisioning { .. } => Self::Input(error.to_string()),
            other => Self::Failed(other.to_string()),
        }
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Self::Failed(error.to_string())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    sajili::logging::init(cli.command.component());
    let data = DataDir::new(cli.data);
    let result = match cli.command {
        Command::Init {
            bundle,
            provisioning_key,
        } => init(&data, &bundle, provisioning_key.as_deref()),
        Command::Enrol { json } => enrol(&data, &json),
        Command::Status { json } => status(&data, json),
        Command::Verify => verify(&data),
        Command::Provision { registry, token } => provision(&data, registry, token),
        Command::Bio(command) => bio_cli::run(command),
        Command::Uplink {
            once,
            max_backoff,
            poll_ms,
            fleet_every,
        } => uplink(
            &data,
            sajili::uplink::sync::RunOptions {
                once,
                max_backoff: std::time::Duration::from_secs(max_backoff.max(1)),
                poll: std::time::Duration::from_millis(poll_ms.max(10)),
                fleet_every: std::time::Duration::from_secs(fleet_every.max(1)),
            },
        ),
        Command::Doctor { simulate } => doctor(simulate),
        Command::Kiosk { simulate, camera } => kiosk_cli::kiosk(&data, simulate, camera == "twin"),
        Command::Demo { screenshots } => kiosk_cli::demo(screenshots),
        Command::Staff(command) => kiosk_cli::staff(&data, command),
        Command::Update(command) => update_cli::run(command),
        Command::Bundle(command) => bundle_cli::run(command),
        Command::Twin(TwinCommand::Sensor {
            link,
            images,
            fault,
            pace,
            socket,
        }) => twin_sensor(sajili::simulate::SensorTwinOptions {
            link,
            images,
            fault,
            pace,
            socket,
        }),
        Command::Twin(TwinCommand::Printer { link, fault, pages }) => {
            twin_printer(&sajili::simulate::PrinterTwinOptions { link, fault, pages })
        }
        Command::Twin(TwinCommand::Vivid) => {
            sajili::simulate::vivid_twin().map_err(|e| Failure::Failed(format!("vivid: {e}")))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(message)) => {
            eprintln!("sajili: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Failed(message)) => {
            eprintln!("sajili: {message}");
            ExitCode::FAILURE
        }
    }
}

fn init(
    data: &DataDir,
    bundle: &std::path::Path,
    provisioning_key: Option<&std::path::Path>,
) -> Result<(), Failure> {
    let key = provisioning_key.map(bundle_cli::public_key).transpose()?;
    let report = device::init_provisioned(data, bundle, key.as_ref(), &SystemClock)?;
    println!(
        "Initialised device {} in {}",
        report.device_id,
        data.root().display()
    );
    println!(
        "Record-signing key: {} (0600, never leaves this device)",
        data.signing_key_path().display()
    );
    println!("Public key: {}", report.verifying_key);
    Ok(())
}

fn enrol(data: &DataDir, files: &[PathBuf]) -> Result<(), Failure> {
    let mut device = device::open(data)?;
    let mut result = Ok(());
    for json in files {
        let now = clock::floored(SystemClock.now(), device.store.clock_floor()?);
        let sealed = kiosk::load(json, clock::kenyan_date(now))
            .map_err(|error| match error {
                ImportError::Read { .. } | ImportError::Json { .. } | ImportError::Invalid(_) => {
                    Failure::Input(error.to_string())
                }
                other => Failure::Failed(other.to_string()),
            })
            .and_then(|enrolment| {
                kiosk::enrol(&device, enrolment, now).map_err(|error| match error {
                    EnrolError::Invalid(_) => Failure::Input(error.to_string()),
                    other => Failure::Failed(other.to_string()),
                })
            });
        match sealed {
            Ok(sealed) => println!("{}", sealed.registration_number),
            Err(failure) => {
                result = Err(failure);
                break;
            }
        }
    }
    // Hand the new records to the uplink. Sealed records are safe in the store whatever
    // happens here; a failed copy is made again on the next hand-off.
    // (A receipt it sets aside is logged by the hand-off itself.)
    if let Err(error) = kiosk::handoff(&mut device, SystemClock.now()) {
        eprintln!("sajili: warning: records sealed, not yet handed to the uplink: {error}");
    }
    result
}

fn provision(
    data: &DataDir,
    registry: Option<String>,
    token: Option<String>,
) -> Result<(), Failure> {
    use sajili::uplink::identity::{IdentityError, provision};
    use sajili::uplink::tls::TrustedTime;
    let keys = device::open_keys(data)?;
    // The kiosk holds its store from boot on (redb admits one process), so provisioning takes
    // the store only when it is free: for the clock floor and the audit entry. Without it,
    // the build time is the floor and the journal has the entry.
    let store = sajili::store::Store::open(&data.store_path())
        .inspect_err(|error| log::info!("provisioning without the store: {error}"))
        .ok();
    let floor = store
        .as_ref()
        .and_then(|store| store.clock_floor().ok().flatten())
        .unwrap_or(clock::BUILD_TIME);
    let report = provision(
        &keys,
        registry.as_deref(),
        token.as_deref(),
        TrustedTime { floor },
    )
    .map_err(|error| match error {
        IdentityError::Call(ref call) if call.code().is_some() => Failure::Input(error.to_string()),
        other => Failure::Failed(other.to_string()),
    })?;
    log::info!(
        "device {} provisioned: certificate valid until {}",
        report.device_id,
        format_time(Some(report.not_after))
    );
    if let Some(store) = &store {
        store.audit(&sajili::store::AuditEvent {
            at: SystemClock.now(),
            actor: "system".into(),
            action: "device.provisioned".into(),
            subject: report.device_id.clone(),
        })?;
    }
    println!(
        "Provisioned device {}: certificate valid until {}{}",
        report.device_id,
        format_time(Some(report.not_after)),
        if report.new_key {
            ""
        } else {
            " (existing TLS key kept)"
        }
    );
    Ok(())
}

fn uplink(data: &DataDir, options: sajili::uplink::sync::RunOptions) -> Result<(), Failure> {
    use sajili::uplink::sync::{PassOutcome, RunEnd, Uplink, run};
    // Run for ever: a device not yet provisioned (first boot, before its bundle's token is
    // used) is waited for rather than given up on.
    let mut attempt = 0;
    let mut uplink = loop {
        match Uplink::open(data.root()) {
            Ok(uplink) => break uplink,
            Err(error) if options.once => return Err(Failure::Failed(error.to_string())),
            Err(error) => {
                attempt += 1;
                let wait = sajili::uplink::sync::backoff(attempt, options.max_backoff);
                log::warn!("{error}; looking again in {:.0} s", wait.as_secs_f64());
                std::thread::sleep(wait);
            }
        }
    };
    sajili::logging::set_device(uplink.device_id().as_str());
    let end = run(&mut uplink, options).map_err(|e| Failure::Failed(e.to_string()))?;
    match end {
        RunEnd::Drained => {
            println!(
                "Outbox drained: the registry holds every record up to seq {}",
                uplink.state.registry_seq.unwrap_or(0)
            );
            Ok(())
        }
        RunEnd::Stopped(PassOutcome::Blocked { seq, reason }) => Err(Failure::Failed(format!(
            "record {seq} is quarantined: {reason}; the records after it wait for it"
        ))),
        RunEnd::Stopped(PassOutcome::Waiting { seq }) => Err(Failure::Failed(format!(
            "record {seq} is not in the outbox yet; run `sajili status` to hand it over"
        ))),
        RunEnd::Stopped(PassOutcome::Drained) => Ok(()),
    }
}

fn format_time(at: Option<i64>) -> String {
    at.map_or_else(|| "never".into(), clock::format_eat)
}

fn status(data: &DataDir, json: bool) -> Result<(), Failure> {
    let mut device = device::open(data)?;
    let handoff = kiosk::handoff(&mut device, SystemClock.now());
    let status = device.store.status()?;
    let device_id = device.sealer.device_id();
    let spool = sajili::spool::Spool::new(data.root());
    let uplink = sajili::uplink::state::UplinkState::load(&spool);
    let provisioned = sajili::uplink::identity::UplinkDir::new(data.root())
        .certificate()
        .is_ok();
    let handoff_error = handoff.as_ref().err().map(ToString::to_string);
    let policy = sajili::fleet::running(&device.store)?;
    let withdrawn = sajili::fleet::withdrawal(&device.store)?;
    let rejected = handoff
        .as_ref()
        .map(|r| r.rejected.clone())
        .unwrap_or_default();
    let repaired = handoff
        .as_ref()
        .map(|r| r.repaired.clone())
        .unwrap_or_default();
    if json {
        let mut value =
            serde_json::to_value(&status).map_err(|e| Failure::Failed(e.to_string()))?;
        if let Some(object) = value.as_object_mut() {
            object.insert("device_id".into(), device_id.as_str().into());
            object.insert(
                "registry_url".into(),
                device.bundle.registry_url.clone().into(),
            );
            object.insert("provisioned".into(), provisioned.into());
            object.insert(
                "uplink".into(),
                serde_json::to_value(&uplink).unwrap_or_default(),
            );
            object.insert("handoff_error".into(), handoff_error.into());
            object.insert(
                "policy_version".into(),
                policy.as_ref().map(|p| p.version).into(),
            );
            object.insert(
                "policy_centre".into(),
                policy
                    .as_ref()
                    .and_then(|p| p.centre.as_ref())
                    .map(|c| c.id.clone())
                    .into(),
            );
            object.insert(
                "policy_staff".into(),
                policy.as_ref().map(|p| p.staff.len()).into(),
            );
            object.insert(
                "withdrawn".into(),
                serde_json::to_value(&withdrawn).unwrap_or_default(),
            );
        }
        println!("{value}");
        return Ok(());
    }
    println!("Device          {device_id}");
    println!("Registry        {}", device.bundle.registry_url);
    println!("Records sealed  {}", status.records_sealed);
    println!(
        "Waiting         {} record(s), {:.1} MB",
        status.queue_depth,
        status.bytes_waiting as f64 / 1e6
    );
    println!("Receipts        {}", status.receipts);
    if status.records_refused > 0 {
        println!(
            "Refused         {} record(s) held by the registry with their contents refused",
            status.records_refused
        );
    }
    println!("In progress     {}", status.in_progress);
    println!(
        "Chain head      seq {} {}",
        status.records_sealed,
        &status.chain_head[..16]
    );
    println!("Last sealed     {}", format_time(status.last_sealed_at));
    println!(
        "Provisioned     {}",
        if provisioned {
            format!(
                "yes, certificate until {}",
                format_time(uplink.certificate_expires)
            )
        } else {
            "no: run `sajili provision`".into()
        }
    );
    match &policy {
        Some(policy) => println!(
            "Fleet policy    version {}, {}, {} staff",
            policy.version,
            policy.centre.as_ref().map_or_else(
                || "no centre".to_string(),
                |c| format!("{} ({})", c.name, c.id)
            ),
            policy.staff.len()
        ),
        None => println!("Fleet policy    none (staff added on this device)"),
    }
    if let Some(withdrawn) = &withdrawn {
        println!(
            "WITHDRAWN       since {}: {}",
            format_time(Some(withdrawn.learnt_at)),
            withdrawn
                .detail
                .as_deref()
                .unwrap_or("refused by the registry")
        );
    }
    println!("Last attempt    {}", format_time(uplink.last_attempt));
    println!("Last success    {}", format_time(uplink.last_success));
    if let Some(error) = &uplink.last_error {
        println!("Last error      {error}");
    }
    for entry in &uplink.quarantined {
        println!(
            "Quarantined     record {}: {} ({})",
            entry.seq, entry.message, entry.code
        );
    }
    if let Some(error) = handoff_error {
        println!("Hand-off        FAILED: {error}");
    }
    for (seq, why) in rejected {
        println!("Receipt set aside  record {seq}: {why}");
    }
    for repair in repaired {
        println!("Spool repaired  {repair}");
    }
    Ok(())
}

fn verify(data: &DataDir) -> Result<(), Failure> {
    let device = device::open(data)?;
    let key = device.sealer.verifying_key();
    let receipt_key = device
        .bundle
        .receipt_key()
        .map_err(|e| Failure::Failed(e.to_string()))?;
    match device
        .store
        .verify(&key, device.sealer.device_id(), &receipt_key)
    {
        Ok(report) => {
            println!(
                "OK: {} record(s), chain intact to seq {} (head {}); {} envelope(s) checked, {} acknowledged",
                report.head.seq,
                report.head.seq,
                &hex(&report.head.hash)[..16],
                report.envelopes_checked,
                report.acknowledged
            );
            Ok(())
        }
        Err(VerifyFailure::Chain(error)) => {
            Err(Failure::Failed(format!("verification FAILED at {error}")))
        }
        Err(VerifyFailure::Store(error)) => Err(error.into()),
    }
}

fn twin_sensor(options: sajili::simulate::SensorTwinOptions) -> Result<(), Failure> {
    let (path, serve) =
        sajili::simulate::sensor_twin(&options).map_err(|e| Failure::Input(e.to_string()))?;
    println!("{}", path.display());
    serve().map_err(|e| Failure::Failed(format!("sensor twin stopped: {e}")))
}

fn twin_printer(options: &sajili::simulate::PrinterTwinOptions) -> Result<(), Failure> {
    let serve =
        sajili::simulate::printer_twin(options).map_err(|e| Failure::Input(e.to_string()))?;
    println!("{}", options.link.display());
    serve().map_err(|e| Failure::Failed(format!("printer twin stopped: {e}")))
}

fn doctor(simulate: bool) -> Result<(), Failure> {
    let checks = if simulate {
        sajili::doctor::check_twins()
    } else {
        sajili::doctor::check_devices()
    };
    for check in &checks {
        let verdict = match (check.fitted, check.ok) {
            (false, _) => "NONE",
            (true, true) => "OK  ",
            (true, false) => "FAIL",
        };
        println!(
            "{verdict} {:<8} {:<28} {}",
            check.kind, check.device, check.detail
        );
    }
    let failing = checks.iter().filter(|c| !c.ok).count();
    if failing == 0 {
        let fitted = checks.iter().filter(|c| c.fitted).count();
        println!("Verdict: all {fitted} device(s) working");
        Ok(())
    } else {
        Err(Failure::Failed(format!(
            "{failing} device(s) need attention"
        )))
    }
}
