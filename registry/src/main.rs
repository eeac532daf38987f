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

fn run(command: Command) -> Result<()> {
    match command {
        Command::Init {
            keys,
            db,
            bundle_out,
            identity_out,
            urls,
            with_token,
        } => commands::init(
            store::open(&db.db)?.as_ref(),
            &InitOptions {
                keys: &RegistryDir { root: keys },
                bundle_out: &bundle_out,
                identity_out: &identity_out,
                urls: &urls,
                with_token,
            },
        ),
        Command::Token { db, expires } => {
            let token = commands::new_token(store::open(&db.db)?.as_ref(), expires)?;
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
        } => node::run(
            store::open(&db.db)?,
            NodeOptions {
                keys: RegistryDir { root: keys },
                listen,
                ops_listen,
                device_cert_days,
                max_connections,
                incident_days,
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
