//! `sajili-registry`: Sajili's reference registry. It provisions devices (a certificate for a
//! CSR and a one-time token), takes their sealed records over mutual TLS, checks signature and
//! chain, stores them durably and answers each with a signed receipt. The peer of every sync
//! test, and what a ministry can stand up for a pilot. Protocol: docs/registry-protocol.md.

mod api;
mod db;
mod keys;
mod server;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use sajili_record::bundle::{BUNDLE_FORMAT, TrustBundle};
use sajili_record::files::write_atomic;
use sajili_record::record::{Envelope, Receipt, ReceiptKind, decode_payload, hex, sha256};

use crate::keys::RegistryDir;

/// Sajili's reference registry.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Make a new registry in DIR (CA, server certificate, receipt key, age identity) and write
    /// the trust bundle devices take with `sajili init --bundle`.
    Init {
        /// The registry's data dir.
        #[arg(long)]
        data: PathBuf,
        /// Where to write the trust bundle.
        #[arg(long)]
        bundle_out: PathBuf,
        /// The URL devices reach the registry at (its host goes into the server certificate).
        #[arg(long, default_value = "https://127.0.0.1:8443")]
        url: String,
        /// Also put a new one-time enrolment token into the bundle (for first-boot provisioning).
        #[arg(long)]
        with_token: bool,
    },
    /// Print a new one-time device enrolment token.
    Token {
        /// The registry's data dir.
        #[arg(long)]
        data: PathBuf,
        /// How long a device may take to use it: a number and s, m, h or d (`30s`, `12h`,
        /// `7d`). Default: 7d.
        #[arg(long, default_value = "7d", value_parser = parse_lifetime)]
        expires: i64,
    },
    /// Serve HTTPS with mutual TLS.
    Serve {
        /// The registry's data dir.
        #[arg(long)]
        data: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8443")]
        listen: SocketAddr,
        /// Validity of the certificates issued to devices, days.
        #[arg(long, default_value_t = 365)]
        device_cert_days: i64,
    },
    /// Counts: devices, tokens, records, chains, refusals.
    Stats {
        /// The registry's data dir.
        #[arg(long)]
        data: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Decrypt and print records of a device as JSON (one line each): the enrolment, with each
    /// image's size and SHA-256 in place of its bytes.
    Show {
        /// The registry's data dir.
        #[arg(long)]
        data: PathBuf,
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Init {
            data,
            bundle_out,
            url,
            with_token,
        } => init(&RegistryDir { root: data }, &bundle_out, &url, with_token),
        Command::Token { data, expires } => {
            new_token(&RegistryDir { root: data }, expires).map(|token| println!("{token}"))
        }
        Command::Serve {
            data,
            listen,
            device_cert_days,
        } => serve(RegistryDir { root: data }, listen, device_cert_days),
        Command::Stats { data, json } => stats(&RegistryDir { root: data }, json),
        Command::Show {
            data,
            device,
            seq,
            ansi_nist,
            iso,
        } => show(
            &RegistryDir { root: data },
            &device,
            seq,
            &Exports { ansi_nist, iso },
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sajili-registry: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init(
    dir: &RegistryDir,
    bundle_out: &std::path::Path,
    url: &str,
    with_token: bool,
) -> Result<()> {
    let Some(rest) = url.strip_prefix("https://") else {
        bail!("--url must start with https://");
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    keys::create(dir, host)?;
    let keys = keys::load(dir)?;
    db::open(&dir.db())?;
    let token = if with_token {
        Some(new_token(dir, TOKEN_LIFETIME_S)?)
    } else {
        None
    };
    let bundle = TrustBundle {
        format: BUNDLE_FORMAT,
        registry_url: url.trim_end_matches('/').to_string(),
        age_recipient: keys.identity.to_public().to_string(),
        receipt_signing_key: hex(keys.receipt_key.verifying_key().as_bytes()),
        ca_certificate: std::fs::read_to_string(dir.ca_cert())?,
        enrolment_token: token,
    };
    let json = serde_json::to_string_pretty(&bundle)? + "\n";
    // 0600: with a token in it, the bundle is a secret until the device uses it.
    write_atomic(bundle_out, json.as_bytes(), 0o600)?;
    println!(
        "Registry made in {}; trust bundle written to {}",
        dir.root.display(),
        bundle_out.display()
    );
    Ok(())
}

/// The default life of an enrolment token, seconds: long enough to flash, ship and switch on a
/// kiosk, short enough that a lost bundle stops being a key to the registry.
const TOKEN_LIFETIME_S: i64 = 7 * 24 * 60 * 60;

/// Parses a token's life: digits then `s`, `m`, `h` or `d`, at most a year.
fn parse_lifetime(text: &str) -> std::result::Result<i64, String> {
    let text = text.trim();
    let (digits, unit) = text.split_at(text.len().saturating_sub(1));
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 60 * 60,
        "d" => 24 * 60 * 60,
        _ => {
            return Err(format!(
                "{text:?}: give a number and s, m, h or d, e.g. 12h or 7d"
            ));
        }
    };
    let count: i64 = digits
        .parse()
        .map_err(|_| format!("{text:?}: give a number and s, m, h or d, e.g. 12h or 7d"))?;
    let seconds = count.saturating_mul(scale);
    if !(1..=366 * 24 * 60 * 60).contains(&seconds) {
        return Err(format!("{text:?}: a token lives between 1 s and a year"));
    }
    Ok(seconds)
}

fn new_token(dir: &RegistryDir, lifetime_s: i64) -> Result<String> {
    let db = db::open(&dir.db())?;
    let mut bytes = [0u8; 20];
    getrandom::fill(&mut bytes).context("randomness")?;
    let token = hex(&bytes);
    let txn = db::write(&db)?;
    {
        let mut tokens = txn.open_table(db::TOKENS)?;
        let created_at = time::OffsetDateTime::now_utc().unix_timestamp();
        let entry = db::TokenEntry {
            created_at,
            used_by: None,
            expires_at: Some(created_at.saturating_add(lifetime_s)),
        };
        tokens.insert(
            hex(&sha256(token.as_bytes())).as_str(),
            serde_json::to_vec(&entry)?.as_slice(),
        )?;
    }
    txn.commit()?;
    Ok(token)
}

fn parse_faults() -> Result<Vec<(u16, u64)>> {
    let Ok(text) = std::env::var("SAJILI_REGISTRY_FAULTS") else {
        return Ok(Vec::new());
    };
    text.split(',')
        .filter(|part| !part.trim().is_empty())
        .map(|part| {
            let (status, count) = part
                .trim()
                .split_once(':')
                .context("SAJILI_REGISTRY_FAULTS: STATUS:COUNT,...")?;
            Ok((status.parse()?, count.parse()?))
        })
        .collect()
}

fn serve(dir: RegistryDir, listen: SocketAddr, device_cert_days: i64) -> Result<()> {
    let keys = keys::load(&dir)?;
    let db = db::open(&dir.db())?;
    let faults = parse_faults()?;
    if !faults.is_empty() {
        eprintln!("sajili-registry: injecting faults {faults:?} (SAJILI_REGISTRY_FAULTS)");
    }
    let state = Arc::new(api::AppState {
        db,
        keys,
        device_cert_days,
        faults,
        calls: AtomicU64::new(0),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(server::serve(&dir, listen, state))
}

fn stats(dir: &RegistryDir, json: bool) -> Result<()> {
    let db = db::open(&dir.db())?;
    let stats = db::stats(&db)?;
    if json {
        println!("{}", serde_json::to_string(&stats)?);
        return Ok(());
    }
    println!("Devices      {}", stats.devices);
    println!("Tokens       {} ({} used)", stats.tokens, stats.tokens_used);
    println!(
        "Records      {} ({} with contents refused)",
        stats.records, stats.records_refused
    );
    println!("Uploads      {} in progress", stats.uploads_in_progress);
    println!("Incidents    {}", stats.incidents);
    for chain in &stats.chains {
        println!(
            "Device {}  head {}  held {}  chain {}",
            chain.device,
            chain.head,
            chain.records,
            if chain.complete { "complete" } else { "BROKEN" }
        );
    }
    Ok(())
}

fn image_summary(image: &sajili_record::biometrics::Image) -> serde_json::Value {
    serde_json::json!({
        "format": image.format,
        "width": image.width,
        "height": image.height,
        "bytes": image.data.len(),
        "sha256": hex(&sha256(&image.data)),
    })
}

/// Standard files `show` writes besides its JSON.
struct Exports {
    ansi_nist: Option<PathBuf>,
    iso: Option<PathBuf>,
}

fn show(dir: &RegistryDir, device: &str, only: Option<u64>, exports: &Exports) -> Result<()> {
    let keys = keys::load(dir)?;
    let db = db::open(&dir.db())?;
    let head = db::head(&db, device)?;
    let txn = redb::ReadableDatabase::begin_read(&db)?;
    let records = txn.open_table(db::RECORDS)?;
    let receipts = txn.open_table(db::RECEIPTS)?;
    let seqs: Vec<u64> = match only {
        Some(seq) => vec![seq],
        None => (1..=head.seq).collect(),
    };
    for seq in seqs {
        let Some(bytes) = records.get((device, seq))? else {
            bail!("no record {seq} of device {device} is held");
        };
        let envelope = Envelope::from_bytes(bytes.value())?;
        let receipt = receipts
            .get((device, seq))?
            .and_then(|r| Receipt::verify(r.value(), &keys.receipt_key.verifying_key()).ok());
        let refused = receipt.as_ref().and_then(|r| r.reason);
        let mut line = serde_json::json!({
            "device": device,
            "seq": seq,
            "created_at": envelope.created_at,
            "status": match receipt.as_ref().map(|r| r.kind) {
                Some(ReceiptKind::Accepted) => "accepted",
                Some(ReceiptKind::Refused) => "refused",
                _ => "unknown",
            },
        });
        if let Some(reason) = refused {
            line["refusal"] = reason.to_string().into();
        } else {
            let plaintext =
                zeroize::Zeroizing::new(age::decrypt(&keys.identity, &envelope.ciphertext)?);
            let payload = decode_payload(&plaintext)?;
            let enrolment = &payload.enrolment;
            let fingers: Vec<serde_json::Value> = enrolment
                .fingerprints
                .iter()
                .map(|finger| match &finger.capture {
                    sajili_record::record::FingerCapture::Image(image) => serde_json::json!({
                        "position": finger.position, "image": image_summary(image)
                    }),
                    sajili_record::record::FingerCapture::Exception(reason) => serde_json::json!({
                        "position": finger.position, "exception": reason
                    }),
                })
                .collect();
            line["registration_number"] = payload.registration_number.clone().into();
            line["captured_at"] = payload.captured_at.into();
            line["enrolment"] = serde_json::json!({
                "demographics": enrolment.demographics,
                "consent": enrolment.consent,
                "staff": enrolment.staff,
                "photo": image_summary(&enrolment.photo),
                "fingerprints": fingers,
            });
            if let Some(path) = &exports.ansi_nist {
                let transaction =
                    sajili_record::export::ansi_nist(&sajili_record::export::Transaction {
                        enrolment,
                        registration_number: &payload.registration_number,
                        captured_at: payload.captured_at,
                        originating_agency: device,
                        destination_agency: "NIIMS",
                    })?;
                std::fs::write(path, &transaction)?;
                line["ansi_nist"] = serde_json::json!({"path": path, "bytes": transaction.len()});
            }
            if let Some(folder) = &exports.iso {
                let (fingers, face) =
                    sajili_record::export::iso_records(enrolment, payload.captured_at)?;
                std::fs::create_dir_all(folder)?;
                std::fs::write(folder.join("fingers.fir"), &fingers)?;
                std::fs::write(folder.join("face.fac"), &face)?;
                line["iso"] = serde_json::json!({"folder": folder, "fingers_bytes": fingers.len(), "face_bytes": face.len()});
            }
        }
        println!("{line}");
    }
    Ok(())
}
