//! The registry's commands other than `serve` and `process`: making a registry, tokens, counts
//! and reading records.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use sajili_record::bundle::{BUNDLE_FORMAT, TrustBundle};
use sajili_record::files::write_atomic;
use sajili_record::record::{
    Envelope, FingerCapture, Receipt, ReceiptKind, decode_payload, hex, parse_hex, sha256,
};

use crate::keys::{self, RegistryDir};
use crate::store::{Meta, Store, TokenEntry};

/// The default life of an enrolment token, seconds: long enough to flash, ship and switch on a
/// kiosk, short enough that a lost bundle stops being a key to the registry.
pub const TOKEN_LIFETIME_S: i64 = 7 * 24 * 60 * 60;

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The host of an `https://host:port/…` URL.
fn host_of(url: &str) -> Result<String> {
    let Some(rest) = url.strip_prefix("https://") else {
        bail!("{url}: a registry URL must start with https://");
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        bail!("{url}: no host");
    }
    Ok(host.to_string())
}

/// What `init` makes.
pub struct InitOptions<'a> {
    /// The key directory.
    pub keys: &'a RegistryDir,
    /// Where to write the trust bundle.
    pub bundle_out: &'a Path,
    /// Where to write the age identity (to be kept offline).
    pub identity_out: &'a Path,
    /// Where to write the policy key (the back office's, off the ingest nodes).
    pub policy_key_out: &'a Path,
    /// The nodes' URLs, the first the devices' first choice.
    pub urls: &'a [String],
    /// Put a new enrolment token into the bundle.
    pub with_token: bool,
}

/// Makes a registry: keys, identity, the database's public facts, the bundle.
pub fn init(store: &dyn Store, options: &InitOptions<'_>) -> Result<()> {
    let Some((first, rest)) = options.urls.split_first() else {
        bail!("give at least one --url");
    };
    let hosts = options
        .urls
        .iter()
        .map(|url| host_of(url))
        .collect::<Result<Vec<_>>>()?;
    if store.meta()?.is_some() {
        bail!("this database already holds a registry");
    }
    keys::create(options.keys, &hosts)?;
    let loaded = keys::load(options.keys)?;
    let recipient = keys::write_identity(options.identity_out)?;
    let policy_key = keys::write_policy_key(options.policy_key_out)?;
    let meta = Meta {
        receipt_key: hex(loaded.receipt_key.verifying_key().as_bytes()),
        age_recipient: recipient.to_string(),
        created_at: now(),
    };
    store.init_meta(&meta)?;
    let token = if options.with_token {
        Some(new_token(store, TOKEN_LIFETIME_S, None)?)
    } else {
        None
    };
    let bundle = TrustBundle {
        format: BUNDLE_FORMAT,
        registry_url: first.trim_end_matches('/').to_string(),
        fallback_urls: rest
            .iter()
            .map(|url| url.trim_end_matches('/').to_string())
            .collect(),
        age_recipient: meta.age_recipient.clone(),
        receipt_signing_key: meta.receipt_key.clone(),
        ca_certificate: std::fs::read_to_string(options.keys.ca_cert())?,
        enrolment_token: token,
        policy_key: Some(hex(policy_key.as_bytes())),
        policy: None,
    };
    let json = serde_json::to_string_pretty(&bundle)? + "\n";
    // 0600: with a token in it, the bundle is a secret until the device uses it.
    write_atomic(options.bundle_out, json.as_bytes(), 0o600)?;
    println!(
        "Registry made: keys in {}, database {} ({}).\nTrust bundle: {}\nIdentity: {} and policy key: {} (keep both with the back office: serve never needs them)",
        options.keys.root.display(),
        store.engine(),
        if options.with_token {
            "with a token in the bundle"
        } else {
            "no token yet"
        },
        options.bundle_out.display(),
        options.identity_out.display(),
        options.policy_key_out.display(),
    );
    Ok(())
}

/// Parses a token's life: digits then `s`, `m`, `h` or `d`, at most a year.
pub fn parse_lifetime(text: &str) -> std::result::Result<i64, String> {
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

/// Makes a one-time enrolment token living `lifetime_s`, for a device of `centre`; returns
/// its text (stored hashed).
pub fn new_token(store: &dyn Store, lifetime_s: i64, centre: Option<&str>) -> Result<String> {
    let mut bytes = [0u8; 20];
    getrandom::fill(&mut bytes).context("randomness")?;
    let token = hex(&bytes);
    let created_at = now();
    store.add_token(
        &hex(&sha256(token.as_bytes())),
        &TokenEntry {
            created_at,
            used_by: None,
            expires_at: Some(created_at.saturating_add(lifetime_s)),
            revoked: false,
            centre: centre.map(str::to_owned),
        },
    )?;
    Ok(token)
}

/// Withdraws an unused token.
pub fn revoke_token(store: &dyn Store, token: &str) -> Result<()> {
    if store.revoke_token(&hex(&sha256(token.trim().as_bytes())))? {
        println!("Token withdrawn: no device can use it now.");
        Ok(())
    } else {
        bail!(
            "no unused token of this registry has that text (already used, withdrawn, or mistyped)"
        )
    }
}

/// Prints counts, flags and chains.
pub fn stats(store: &dyn Store, json: bool) -> Result<()> {
    let stats = store.stats()?;
    let flags = store.flags()?;
    if json {
        let mut value = serde_json::to_value(&stats)?;
        value["flagged"] = serde_json::to_value(&flags)?;
        let returns: Vec<_> = flags.iter().filter(|f| f.code == "finger_return").collect();
        value["come_back"] = serde_json::to_value(&returns)?;
        println!("{value}");
        return Ok(());
    }
    println!("Database     {}", store.engine());
    println!("Devices      {}", stats.devices);
    println!(
        "Tokens       {} ({} used, {} withdrawn)",
        stats.tokens, stats.tokens_used, stats.tokens_revoked
    );
    println!(
        "Records      {} ({} bytes; {} processed by the back office)",
        stats.records, stats.record_bytes, stats.records_processed
    );
    println!("Uploads      {} in progress", stats.uploads_in_progress);
    println!("Incidents    {}", stats.incidents);
    // Assisted routes are flagged to be seen, not judged: they are listed apart, the fingers
    // to come back for first, each with its day.
    let (notices, flags): (Vec<_>, Vec<_>) = flags
        .iter()
        .partition(|flag| crate::process::is_notice(&flag.code));
    println!("Flags        {} waiting for adjudication", flags.len());
    for flag in &flags {
        println!(
            "  Flag {} record {}: {} ({})",
            flag.device, flag.seq, flag.detail, flag.code
        );
    }
    let returns: Vec<_> = notices
        .iter()
        .filter(|flag| flag.code == "finger_return")
        .collect();
    println!(
        "Come back    {} fingers to print on a later visit",
        returns.len()
    );
    for flag in &returns {
        println!(
            "  Device {} record {}: {}",
            flag.device, flag.seq, flag.detail
        );
    }
    let routes: Vec<_> = notices
        .iter()
        .filter(|flag| flag.code != "finger_return")
        .collect();
    println!("Assisted     {} routes and overrides taken", routes.len());
    for flag in &routes {
        println!(
            "  Device {} record {}: {} ({})",
            flag.device, flag.seq, flag.detail, flag.code
        );
    }
    for chain in &stats.chains {
        println!(
            "Device {}  head {}  held {}  chain {}",
            chain.device,
            chain.head,
            chain.records,
            if chain.complete { "complete" } else { "BROKEN" }
        );
    }
    for gone in &stats.withdrawn {
        let until = gone
            .withdrawal
            .accept_until
            .map_or_else(String::new, |seq| {
                format!(", records up to {seq} still taken")
            });
        println!(
            "Device {}  WITHDRAWN {}: {}{until}",
            gone.device,
            crate::fleet::format_time(gone.withdrawal.at),
            gone.withdrawal.reason
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

/// A linked record as `show` names it: device, seq and the registration number they make.
fn record_link(device: &str, seq: u64) -> serde_json::Value {
    let number = sajili_record::record::DeviceId::parse(device)
        .map(|device| sajili_record::record::RegistrationNumber { device, seq }.to_string());
    serde_json::json!({"device": device, "seq": seq, "registration_number": number})
}

/// Standard files `show` writes besides its JSON.
pub struct Exports {
    /// An ANSI/NIST-ITL transaction here.
    pub ansi_nist: Option<PathBuf>,
    /// ISO/IEC 19794 records in this folder.
    pub iso: Option<PathBuf>,
}

/// Prints records of `device` as JSON lines (decrypted with `identity`), with their flags.
pub fn show(
    store: &dyn Store,
    identity: &age::x25519::Identity,
    device: &str,
    only: Option<u64>,
    exports: &Exports,
) -> Result<()> {
    let meta = store
        .meta()?
        .context("this database holds no registry (run init)")?;
    let receipt_key = parse_hex(&meta.receipt_key)
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .and_then(|bytes| ed25519_dalek::VerifyingKey::from_bytes(&bytes).ok())
        .context("the stored receipt key is damaged")?;
    let head = store.head(device)?;
    let flags = store.flags()?;
    let seqs: Vec<u64> = match only {
        Some(seq) => vec![seq],
        None => (1..=head.seq).collect(),
    };
    for seq in seqs {
        let Some(bytes) = store.record(device, seq)? else {
            bail!("no record {seq} of device {device} is held");
        };
        let envelope = Envelope::from_bytes(&bytes)?;
        let receipt = store
            .receipt(device, seq)?
            .and_then(|r| Receipt::verify(&r, &receipt_key).ok());
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
        let own: Vec<_> = flags
            .iter()
            .filter(|f| f.device == device && f.seq == seq)
            .collect();
        line["flags"] = serde_json::to_value(&own)?;
        // The chain of amendments, both ways, as the registry linked it when processing.
        let amendments = store.amendments(device, seq)?;
        line["amends"] = amendments
            .amends
            .as_ref()
            .map_or(serde_json::Value::Null, |(d, s)| record_link(d, *s));
        line["amended_by"] = amendments
            .amended_by
            .iter()
            .map(|(d, s)| record_link(d, *s))
            .collect();
        match age::decrypt(identity, &envelope.ciphertext) {
            Err(_) => line["contents"] = "undecryptable with this identity".into(),
            Ok(plaintext) => {
                let plaintext = zeroize::Zeroizing::new(plaintext);
                let payload = decode_payload(&plaintext)?;
                let enrolment = &payload.enrolment;
                let fingers: Vec<serde_json::Value> = enrolment
                    .fingerprints
                    .iter()
                    .map(|finger| match &finger.capture {
                        FingerCapture::Image(image) => serde_json::json!({
                            "position": finger.position, "image": image_summary(image)
                        }),
                        FingerCapture::Exception(reason) => serde_json::json!({
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
                if let Some(photo) = &enrolment.photo_override {
                    line["enrolment"]["photo_override"] = serde_json::to_value(photo)?;
                }
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
                    line["ansi_nist"] =
                        serde_json::json!({"path": path, "bytes": transaction.len()});
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
        }
        println!("{line}");
    }
    Ok(())
}
