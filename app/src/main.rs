//! `sajili`: the kiosk's command line. Parses arguments, calls the library, and decides exit
//! codes and messages in one place: 0 done, 1 failed (or verification found a fault),
//! 2 the input was wrong (nothing was stored).

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
        /// The registry's trust bundle (JSON from `sajili-registry init --bundle-out`).
        #[arg(long)]
        bundle: PathBuf,
    },
    /// Seal one enrolment given as JSON (see docs/enrolment-json.md) and print its
    /// registration number. Exits 2, listing every problem, if the enrolment is not valid.
    Enrol {
        /// The enrolment; image paths in it are relative to this file.
        #[arg(long)]
        json: PathBuf,
    },
    /// Show the device id, records sealed, queue waiting for the registry, and chain head.
    Status {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check every stored envelope's signature and the hash chain from seq 1 to the head.
    /// Exits 1 naming the first bad seq and why.
    Verify,
    /// Self-test for field staff: find every camera, fingerprint sensor and input device,
    /// check each one, and print a verdict per device. Exits 1 if any needs attention.
    Doctor {
        /// Check the simulated twins instead of real devices.
        #[arg(long)]
        simulate: bool,
    },
    /// Run a simulated device for other programs to talk to.
    #[command(subcommand)]
    Twin(TwinCommand),
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
    },
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
            DeviceError::Bundle { .. } | DeviceError::ReadBundle { .. } => {
                Self::Input(error.to_string())
            }
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
    let data = DataDir::new(cli.data);
    let result = match cli.command {
        Command::Init { bundle } => init(&data, &bundle),
        Command::Enrol { json } => enrol(&data, &json),
        Command::Status { json } => status(&data, json),
        Command::Verify => verify(&data),
        Command::Doctor { simulate } => doctor(simulate),
        Command::Twin(TwinCommand::Sensor {
            link,
            images,
            fault,
            pace,
        }) => twin_sensor(sajili::simulate::SensorTwinOptions {
            link,
            images,
            fault,
            pace,
        }),
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

fn init(data: &DataDir, bundle: &std::path::Path) -> Result<(), Failure> {
    let report = device::init(data, bundle, &SystemClock)?;
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

fn enrol(data: &DataDir, json: &std::path::Path) -> Result<(), Failure> {
    let device = device::open(data)?;
    let now = clock::floored(SystemClock.now(), device.store.clock_floor()?);
    let enrolment = kiosk::load(json, clock::kenyan_date(now)).map_err(|error| match error {
        ImportError::Read { .. } | ImportError::Json { .. } | ImportError::Invalid(_) => {
            Failure::Input(error.to_string())
        }
        other => Failure::Failed(other.to_string()),
    })?;
    let sealed = kiosk::enrol(&device, enrolment, now).map_err(|error| match error {
        EnrolError::Invalid(_) => Failure::Input(error.to_string()),
        other => Failure::Failed(other.to_string()),
    })?;
    println!("{}", sealed.registration_number);
    Ok(())
}

fn format_time(at: Option<i64>) -> String {
    let Some(at) = at else {
        return "never".into();
    };
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .map(|t| t.to_offset(clock::EAST_AFRICA_TIME))
        .and_then(|t| t.format(&format).ok())
        .map_or_else(|| at.to_string(), |text| format!("{text} EAT"))
}

fn status(data: &DataDir, json: bool) -> Result<(), Failure> {
    let device = device::open(data)?;
    let status = device.store.status()?;
    let device_id = device.sealer.device_id();
    if json {
        let mut value =
            serde_json::to_value(&status).map_err(|e| Failure::Failed(e.to_string()))?;
        if let Some(object) = value.as_object_mut() {
            object.insert("device_id".into(), device_id.as_str().into());
            object.insert(
                "registry_url".into(),
                device.bundle.registry_url.clone().into(),
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
    println!("In progress     {}", status.in_progress);
    println!(
        "Chain head      seq {} {}",
        status.records_sealed,
        &status.chain_head[..16]
    );
    println!("Last sealed     {}", format_time(status.last_sealed_at));
    Ok(())
}

fn verify(data: &DataDir) -> Result<(), Failure> {
    let device = device::open(data)?;
    let key = device.sealer.verifying_key();
    match device.store.verify(&key, device.sealer.device_id()) {
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

fn doctor(simulate: bool) -> Result<(), Failure> {
    let checks = if simulate {
        sajili::doctor::check_twins()
    } else {
        sajili::doctor::check_devices()
    };
    for check in &checks {
        let verdict = if check.ok { "OK  " } else { "FAIL" };
        println!(
            "{verdict} {:<8} {:<28} {}",
            check.kind, check.device, check.detail
        );
    }
    let failing = checks.iter().filter(|c| !c.ok).count();
    if failing == 0 {
        println!("Verdict: all {} device(s) working", checks.len());
        Ok(())
    } else {
        Err(Failure::Failed(format!(
            "{failing} device(s) need attention"
        )))
    }
}
