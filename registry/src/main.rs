//! `sajili-registry`: the command line of Sajili's registry (see the library's documentation).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use sajili_registry::commands::{self, Exports, InitOptions};
use sajili_registry::keys::{self, RegistryDir};
use sajili_registry::node::{self, NodeOptions};
use sajili_registry::{process, store};

/// Sajili's registry.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// Log level: error, warn, info or debug.
    #[arg(long, global = true, default_value = "info", env = "SAJILI_LOG")]
    log: log::LevelFilter,
    #[command(subcommand)]
    command: Command,
}

/// Where the registry's records are.
#[derive(Debug, clap::Args)]
struct Db {
    /// The records: a directory (embedded redb, one node) or a `postgres://` URL (several
    /// nodes on one database).
    #[arg(long, env = "SAJILI_REGISTRY_DB")]
    db: String,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Make a new registry: keys (CA, server certificate, receipt key) in --keys, the age
    /// identity in --identity-out (for the back office, offline), the database's public facts,
    /// and the trust bundle devices take with `sajili init --bundle`.
    Init {
        /// The key directory every ingest node reads.
        #[arg(long)]
        keys: PathBuf,
        #[command(flatten)]
        db: Db,
        /// Where to write the trust bundle.
        #[arg(long)]
        bundle_out: PathBuf,
        /// Where to write the age identity that decrypts records (kept off the ingest nodes).
        #[arg(long)]
        identity_out: PathBuf,
        /// Where to write the policy key that signs fleet policies (kept off the ingest nodes);
        /// default: `policy.key` beside the identity.
        #[arg(long)]
        policy_key_out: Option<PathBuf>,
        /// The URL devices reach a node at; repeat for several nodes (the first is tried
        /// first). Each host goes into the server certificate.
        #[arg(long = "url", default_value = "https://127.0.0.1:8443")]
        urls: Vec<String>,
        /// Also put a new one-time enrolment token into the bundle (for first-boot provisioning).
        #[arg(long)]
        with_token: bool,
    },
    /// Print a new one-time device enrolment token.
    Token {
        #[command(flatten)]
        db: Db,
        /// The centre a device provisioned with it serves.
        #[arg(long)]
        centre: Option<String>,
        /// How long a device may take to use it: a number and s, m, h or d (`30s`, `12h`,
        /// `7d`).
        #[arg(long, default_value = "7d", value_parser = commands::parse_lifetime)]
        expires: i64,
    },
    /// Withdraw an enrolment token that no device has used yet.
    RevokeToken {
        #[command(flatten)]
        db: Db,
        /// The token's text.
        token: String,
    },
    /// The staff roster: who may sign in on which centre's kiosks.
    #[command(subcommand)]
    Staff(StaffCommand),
    /// Centres and their kiosks' settings.
    #[command(subcommand)]
    Centre(CentreCommand),
    /// Devices: move one to a centre, or withdraw one.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Fleet policies: sign again, or write a provisioning bundle carrying one.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Signed software updates: publish a bundle to devices, list, withdraw.
    #[command(subcommand)]
    Update(UpdateCommand),
    /// A device's audit events (sign-ins, failures, lockouts, sign-offs, policy changes).
    Audit {
        #[command(flatten)]
        db: Db,
        /// The device id.
        #[arg(long)]
        device: String,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Serve the device API (HTTPS, mutual TLS) and the operators' page.
    Serve {
        /// The key directory (no identity: a node never decrypts).
        #[arg(long)]
        keys: PathBuf,
        #[command(flatten)]
        db: Db,
        /// The device API's address.
        #[arg(long, default_value = "127.0.0.1:8443")]
        listen: SocketAddr,
        /// The operators' page (plain HTTP: keep it on a private address).
        #[arg(long, default_value = "127.0.0.1:9464")]
        ops_listen: SocketAddr,
        /// Validity of the certificates issued to devices, days.
        #[arg(long, default_value_t = 365)]
        device_cert_days: i64,
        /// Connections served at once; the rest wait.
        #[arg(long, default_value_t = 10_000)]
        max_connections: usize,
        /// Days refusals are kept for operators.
        #[arg(long, default_value_t = 90)]
        incident_days: i64,
        /// Where update bundles are (`update publish --updates`): offered to devices.
        #[arg(long, env = "SAJILI_UPDATES")]
        updates: Option<PathBuf>,
    },
    /// Decrypt and check what arrived (the back office, with the identity): form rules again,
    /// the payload against its envelope, and documents seen twice. Flags what it finds.
    Process {
        #[command(flatten)]
        db: Db,
        /// The age identity written by `init --identity-out`.
        #[arg(long)]
        identity: PathBuf,
    },
    /// Counts: devices, tokens, records, chains, refusals, flags.
    Stats {
        #[command(flatten)]
        db: Db,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Decrypt and print records of a device as JSON (one line each): the enrolment, with each
    /// image's size and SHA-256 in place of its bytes, and its flags.
    Show {
        #[command(flatten)]
        db: Db,
        /// The age identity written by `init --identity-out`.
        #[arg(long)]
        identity: PathBuf,
        /// The device id.
        #[arg(long)]
        device: String,
        /// One record (default: all, in chain order).
        #[arg(long)]
        seq: Option<u64>,
        /// Also write the record (with --seq) as an ANSI/NIST-ITL 1-2011 transaction here.
        #[arg(long, requires = "seq")]
        ansi_nist: Option<PathBuf>,
        /// Also write the record (with --seq) as ISO/IEC 19794 records in this folder:
        /// fingers.fir (part 4, WSQ) and face.fac (part 5, JPEG).
        #[arg(long, requires = "seq")]
        iso: Option<PathBuf>,
    },
}

/// The back office's policy key.
#[derive(Debug, clap::Args)]
struct PolicyKey {
    /// The policy key written by `init` (default name `policy.key`, beside the identity).
    #[arg(long, env = "SAJILI_POLICY_KEY")]
    policy_key: PathBuf,
}

#[derive(Debug, Subcommand)]
enum StaffCommand {
    /// Add a staff member, or give one a new PIN and enable them again. The PIN (6-12
    /// digits) is read from standard input.
    Add {
        #[command(flatten)]
        db: Db,
        #[command(flatten)]
        key: PolicyKey,
        /// The staff number.
        #[arg(long)]
        number: String,
        /// operator or supervisor.
        #[arg(long)]
        role: sajili_record::policy::Role,
        /// The centre they work at (default: every centre).
        #[arg(long)]
        centre: Option<String>,
    },
    /// Disable a staff member: every kiosk drops them at its next contact.
    Disable {
        #[command(flatten)]
        db: Db,
        #[command(flatten)]
        key: PolicyKey,
        /// The staff number.
        number: String,
    },
    /// List the roster.
    List {
        #[command(flatten)]
        db: Db,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum CentreCommand {
    /// Make a centre, or change it (every setting given again).
    Set {
        #[command(flatten)]
        db: Db,
        #[command(flatten)]
        key: PolicyKey,
        /// Its id (`NRB-KIBERA`).
        id: String,
        /// Its name.
        #[arg(long)]
        name: String,
        /// public-office, prison or hospital.
        #[arg(long, default_value = "public-office")]
        kind: sajili_record::policy::CentreKind,
        /// Seconds without a touch before a self-service session is wiped.
        #[arg(long, default_value_t = 90)]
        idle_timeout: u32,
        /// Seconds without a touch before an assisted enrolment locks.
        #[arg(long, default_value_t = 300)]
        assisted_lock: u32,
        /// Languages offered, the default first.
        #[arg(long, value_delimiter = ',', default_value = "en,sw")]
        languages: Vec<String>,
        /// The consent text version applicants are shown.
        #[arg(long, default_value = "niims-consent-2026-2")]
        consent_version: String,
    },
    /// List the centres.
    List {
        #[command(flatten)]
        db: Db,
    },
}

#[derive(Debug, Subcommand)]
enum DeviceCommand {
    /// Move a device to a centre: it takes that centre's staff and settings at its next contact.
    Assign {
        #[command(flatten)]
        db: Db,
        #[command(flatten)]
        key: PolicyKey,
        /// The device id.
        device: String,
        /// The centre.
        #[arg(long)]
        centre: String,
    },
    /// Withdraw a device (lost, stolen, retired): refused at the handshake and at renewal,
    /// never issued a certificate again.
    Withdraw {
        #[command(flatten)]
        db: Db,
        /// The device id.
        device: String,
        /// Why, for the record.
        #[arg(long)]
        reason: String,
        /// Still take its records up to this seq (sealed before it was withdrawn).
        #[arg(long)]
        accept_until: Option<u64>,
    },
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Sign again and store the policy of a centre (or of devices of no centre).
    Publish {
        #[command(flatten)]
        db: Db,
        #[command(flatten)]
        key: PolicyKey,
        /// The centre (default: devices of no centre).
        #[arg(long)]
        centre: Option<String>,
    },
    /// Write a provisioning bundle for a device of a centre: the trust bundle, the centre's
    /// signed policy and (with --token) a one-time token assigning the device there.
    Bundle {
        #[command(flatten)]
        db: Db,
        #[command(flatten)]
        key: PolicyKey,
        /// The trust bundle written by `init`.
        #[arg(long)]
        trust_bundle: PathBuf,
        /// The centre.
        #[arg(long)]
        centre: String,
        /// Add a new enrolment token living this long (`12h`, `7d`).
        #[arg(long, value_parser = commands::parse_lifetime)]
        token: Option<i64>,
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum UpdateCommand {
    /// Check a bundle against the update key and offer it to devices.
    Publish {
        #[command(flatten)]
        db: Db,
        /// The bundle (`sajili-VERSION.sju`, from image-build).
        bundle: PathBuf,
        /// Who gets it: all, centre:ID or device:ID.
        #[arg(long, value_parser = sajili_registry::updates::parse_target)]
        to: sajili_registry::store::UpdateTarget,
        /// The update key's public half (`update-key.pub`, from image-build).
        #[arg(long, env = "SAJILI_UPDATE_KEY_PUB")]
        update_key: PathBuf,
        /// The nodes' update directory (`serve --updates`).
        #[arg(long, env = "SAJILI_UPDATES")]
        updates: PathBuf,
    },
    /// List what is published.
    List {
        #[command(flatten)]
        db: Db,
    },
    /// Stop offering a bundle (by its SHA-256).
    Withdraw {
        #[command(flatten)]
        db: Db,
        /// The bundle's SHA-256.
        sha256: String,
    },
}

fn run_fleet(command: Command) -> Result<()> {
    use sajili_registry::fleet;
    let key = |key: &PolicyKey| keys::load_policy_key(&key.policy_key);
    match command {
        Command::Staff(StaffCommand::Add {
            db,
            key: policy_key,
            number,
            role,
            centre,
        }) => {
            let pin = fleet::read_pin(&mut std::io::stdin().lock())?;
            let signing = key(&policy_key)?;
            let version = fleet::staff_add(
                store::open(&db.db)?.as_ref(),
                &signing,
                &number,
                role,
                centre.as_deref(),
                &pin,
            )?;
            println!("Staff {number} ({role}) added; fleet policy version {version}.");
        }
        Command::Staff(StaffCommand::Disable {
            db,
            key: policy_key,
            number,
        }) => {
            let version =
                fleet::staff_disable(store::open(&db.db)?.as_ref(), &key(&policy_key)?, &number)?;
            println!("Staff {number} disabled; fleet policy version {version}.");
        }
        Command::Staff(StaffCommand::List { db, json }) => {
            fleet::staff_list(store::open(&db.db)?.as_ref(), json)?;
        }
        Command::Centre(CentreCommand::Set {
            db,
            key: policy_key,
            id,
            name,
            kind,
            idle_timeout,
            assisted_lock,
            languages,
            consent_version,
        }) => {
            let version = fleet::centre_set(
                store::open(&db.db)?.as_ref(),
                &key(&policy_key)?,
                &store::CentreEntry {
                    id: id.clone(),
                    name,
                    kind,
                    settings: sajili_record::policy::Settings {
                        idle_timeout_s: idle_timeout,
                        assisted_lock_s: assisted_lock,
                        languages,
                        consent_version,
                    },
                },
            )?;
            println!("Centre {id} set; fleet policy version {version}.");
        }
        Command::Centre(CentreCommand::List { db }) => {
            fleet::centre_list(store::open(&db.db)?.as_ref())?;
        }
        Command::Device(DeviceCommand::Assign {
            db,
            key: policy_key,
            device,
            centre,
        }) => {
            let version = fleet::device_assign(
                store::open(&db.db)?.as_ref(),
                &key(&policy_key)?,
                &device,
                &centre,
            )?;
            println!("Device {device} moved to {centre}; fleet policy version {version}.");
        }
        Command::Device(DeviceCommand::Withdraw {
            db,
            device,
            reason,
            accept_until,
        }) => fleet::device_withdraw(
            store::open(&db.db)?.as_ref(),
            &device,
            &reason,
            accept_until,
        )?,
        Command::Policy(PolicyCommand::Publish {
            db,
            key: policy_key,
            centre,
        }) => {
            let (version, size) = fleet::publish(
                store::open(&db.db)?.as_ref(),
                &key(&policy_key)?,
                centre.as_deref(),
            )?;
            println!(
                "Policy for {} signed: version {version}, {size} bytes.",
                centre.as_deref().unwrap_or("devices of no centre")
            );
        }
        Command::Policy(PolicyCommand::Bundle {
            db,
            key: policy_key,
            trust_bundle,
            centre,
            token,
            out,
        }) => fleet::provisioning_bundle(
            store::open(&db.db)?.as_ref(),
            &key(&policy_key)?,
            &trust_bundle,
            &centre,
            token,
            &out,
        )?,
        Command::Update(UpdateCommand::Publish {
            db,
            bundle,
            to,
            update_key,
            updates,
        }) => {
            let key = sajili_registry::updates::read_update_key(&update_key)?;
            let published = sajili_registry::updates::publish(
                store::open(&db.db)?.as_ref(),
                &key,
                &bundle,
                &updates,
                to,
            )?;
            println!(
                "Update {} published ({:.1} MiB, {}).",
                published.version,
                published.size as f64 / 1048576.0,
                published.sha256
            );
        }
        Command::Update(UpdateCommand::List { db }) => {
            sajili_registry::updates::list(store::open(&db.db)?.as_ref())?;
        }
        Command::Update(UpdateCommand::Withdraw { db, sha256 }) => {
            let count = store::open(&db.db)?.unpublish_update(&sha256)?;
            println!("{count} publication(s) of {sha256} withdrawn.");
        }
        Command::Audit { db, device, json } => {
            fleet::audit(store::open(&db.db)?.as_ref(), &device, json)?;
        }
        _ => anyhow::bail!("not a fleet command"),
    }
    Ok(())
}

fn run(command: Command) -> Result<()> {
    match command {
        command @ (Command::Staff(_)
        | Command::Centre(_)
        | Command::Device(_)
        | Command::Policy(_)
        | Command::Update(_)
        | Command::Audit { .. }) => run_fleet(command),
        Command::Init {
            keys,
            db,
            bundle_out,
            identity_out,
            policy_key_out,
            urls,
            with_token,
        } => commands::init(
            store::open(&db.db)?.as_ref(),
            &InitOptions {
                keys: &RegistryDir { root: keys },
                bundle_out: &bundle_out,
                identity_out: &identity_out,
                policy_key_out: &policy_key_out
                    .unwrap_or_else(|| identity_out.with_file_name("policy.key")),
                urls: &urls,
                with_token,
            },
        ),
        Command::Token {
            db,
            expires,
            centre,
        } => {
            let token =
                commands::new_token(store::open(&db.db)?.as_ref(), expires, centre.as_deref())?;
            println!("{token}");
            Ok(())
        }
        Command::RevokeToken { db, token } => {
            commands::revoke_token(store::open(&db.db)?.as_ref(), &token)
        }
        Command::Serve {
            keys,
            db,
            listen,
            ops_listen,
            device_cert_days,
            max_connections,
            incident_days,
            updates,
        } => node::run(
            store::open(&db.db)?,
            NodeOptions {
                keys: RegistryDir { root: keys },
                listen,
                ops_listen,
                device_cert_days,
                max_connections,
                incident_days,
                updates,
            },
        ),
        Command::Process { db, identity } => {
            let identity = keys::load_identity(&identity)?;
            let store = store::open(&db.db)?;
            let report = process::run(store.as_ref(), &identity, 200, |so_far| {
                log::info!("processed {} record(s) so far", so_far.records);
            })?;
            println!(
                "Processed {} record(s): {} flagged ({} flag(s)).",
                report.records, report.flagged, report.flags
            );
            Ok(())
        }
        Command::Stats { db, json } => commands::stats(store::open(&db.db)?.as_ref(), json),
        Command::Show {
            db,
            identity,
            device,
            seq,
            ansi_nist,
            iso,
        } => commands::show(
            store::open(&db.db)?.as_ref(),
            &keys::load_identity(&identity)?,
            &device,
            seq,
            &Exports { ansi_nist, iso },
        ),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    sajili_record::logging::init_at("registry", cli.log);
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // The one place the registry writes to standard error itself: the command failed.
            eprintln!("sajili-registry: {error:#}");
            ExitCode::FAILURE
        }
    }
}
