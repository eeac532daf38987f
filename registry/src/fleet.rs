//! The back office's fleet commands: the staff roster, centres and which device serves where,
//! the signed fleet policy each centre's kiosks fetch, withdrawal, and the audit events
//! devices send.
//!
//! The policy key stays with the back office, like the age identity: ingest nodes only serve
//! policies already signed and stored here, so a node broken into cannot put a staff member on
//! any kiosk. Each change to the roster or a centre raises the fleet version (in the store's
//! transaction) and signs again, at once, the policy of every centre it touches.

use std::io::BufRead;
use std::path::Path;

use anyhow::{Context, Result, bail};
use ed25519_dalek::SigningKey;
use sajili_record::bundle::TrustBundle;
use sajili_record::files::write_atomic;
use sajili_record::policy::{
    Centre, FleetPolicy, POLICY_FORMAT, PolicyStaff, Role, SignedPolicy, valid_centre_id,
    valid_staff_number,
};

use crate::store::{CentreEntry, FleetSnapshot, StaffMember, Store, Withdrawal};

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A time for people, UTC.
pub fn format_time(at: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_else(|| at.to_string())
}

/// The policy a snapshot says, as kiosks read it.
pub fn policy_of(snapshot: &FleetSnapshot, issued_at: i64) -> FleetPolicy {
    FleetPolicy {
        format: POLICY_FORMAT,
        version: snapshot.version,
        issued_at,
        centre: snapshot.centre.as_ref().map(|centre| Centre {
            id: centre.id.clone(),
            name: centre.name.clone(),
            kind: centre.kind,
        }),
        staff: snapshot
            .staff
            .iter()
            .filter(|member| !member.disabled)
            .map(|member| PolicyStaff {
                number: member.number.clone(),
                role: member.role,
                pin_hash: member.pin_hash.clone(),
            })
            .collect(),
        settings: snapshot
            .centre
            .as_ref()
            .map(|centre| centre.settings.clone())
            .unwrap_or_default(),
    }
}

/// Signs the current policy of `centre` (`None`: devices of no centre) and stores it for the
/// nodes to serve. Returns its version and size in bytes.
pub fn publish(store: &dyn Store, key: &SigningKey, centre: Option<&str>) -> Result<(u64, usize)> {
    let snapshot = store.fleet_snapshot(centre)?;
    if let Some(id) = centre
        && snapshot.centre.is_none()
    {
        bail!("no centre {id}: make it first with `centre set {id} --name …`");
    }
    let signed = policy_of(&snapshot, now())
        .sign(key)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    store.put_policy(centre, snapshot.version, &signed)?;
    Ok((snapshot.version, signed.len()))
}

/// Signs again the policies a change touches: one centre's, or (for staff of no centre, who
/// appear in every policy) every centre's and the no-centre one.
fn publish_touched(store: &dyn Store, key: &SigningKey, centre: Option<&str>) -> Result<u64> {
    let touched: Vec<Option<String>> = match centre {
        Some(id) => vec![Some(id.to_string())],
        None => std::iter::once(None)
            .chain(store.centres()?.into_iter().map(|c| Some(c.id)))
            .collect(),
    };
    let mut version = 0;
    for centre in &touched {
        version = version.max(publish(store, key, centre.as_deref())?.0);
    }
    Ok(version)
}

/// Reads a PIN from standard input (one line; nothing is echoed back by this program).
pub fn read_pin(input: &mut impl BufRead) -> Result<String> {
    let mut line = zeroize::Zeroizing::new(String::new());
    input.read_line(&mut line).context("read the PIN")?;
    let pin = line.trim().to_string();
    if !sajili_record::pin::acceptable_new_pin(&pin) {
        bail!(
            "a PIN is {} to 12 digits (give it on standard input)",
            sajili_record::pin::MIN_NEW_PIN
        );
    }
    Ok(pin)
}

/// Adds a staff member (or replaces one, enabled again, with a new PIN) and signs again the
/// policies they appear in. Returns the fleet version.
pub fn staff_add(
    store: &dyn Store,
    key: &SigningKey,
    number: &str,
    role: Role,
    centre: Option<&str>,
    pin: &str,
) -> Result<u64> {
    if !valid_staff_number(number) {
        bail!("{number:?}: a staff number is 2 to 16 capital letters, digits or hyphens");
    }
    if let Some(id) = centre
        && !store.centres()?.iter().any(|c| c.id == id)
    {
        bail!("no centre {id}: make it first with `centre set {id} --name …`");
    }
    let pin_hash = sajili_record::pin::hash_pin(pin).map_err(|e| anyhow::anyhow!(e))?;
    store.put_staff(&StaffMember {
        number: number.to_string(),
        role,
        centre: centre.map(str::to_owned),
        pin_hash,
        disabled: false,
        changed_at: now(),
    })?;
    publish_touched(store, key, centre)
}

/// Disables a staff member and signs again the policies they were in.
pub fn staff_disable(store: &dyn Store, key: &SigningKey, number: &str) -> Result<u64> {
    let Some(member) = store.staff()?.into_iter().find(|m| m.number == number) else {
        bail!("no staff member {number} on the roster");
    };
    store
        .set_staff_disabled(number, true, now())?
        .with_context(|| format!("no staff member {number} on the roster"))?;
    publish_touched(store, key, member.centre.as_deref())
}

/// Prints the roster.
pub fn staff_list(store: &dyn Store, json: bool) -> Result<()> {
    let staff = store.staff()?;
    if json {
        // PIN hashes stay in the database: a listing is for people.
        let rows: Vec<serde_json::Value> = staff
            .iter()
            .map(|m| {
                serde_json::json!({
                    "number": m.number, "role": m.role, "centre": m.centre,
                    "disabled": m.disabled, "changed_at": m.changed_at,
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(rows));
        return Ok(());
    }
    if staff.is_empty() {
        println!(
            "No staff yet: `sajili-registry staff add --number N --role operator|supervisor`."
        );
    }
    for m in &staff {
        println!(
            "{:<16} {:<10} {:<16} {}",
            m.number,
            m.role.as_str(),
            m.centre.as_deref().unwrap_or("(every centre)"),
            if m.disabled { "DISABLED" } else { "enabled" }
        );
    }
    Ok(())
}

/// Makes or changes a centre and signs its policy again.
pub fn centre_set(store: &dyn Store, key: &SigningKey, centre: &CentreEntry) -> Result<u64> {
    if !valid_centre_id(&centre.id) {
        bail!(
            "{:?}: a centre id is 2 to 32 capital letters, digits or hyphens",
            centre.id
        );
    }
    // The same checks a kiosk makes, before anything is stored.
    policy_of(
        &FleetSnapshot {
            version: 1,
            centre: Some(centre.clone()),
            staff: Vec::new(),
        },
        0,
    )
    .check()
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    store.put_centre(centre)?;
    publish_touched(store, key, Some(&centre.id))
}

/// Prints the centres.
pub fn centre_list(store: &dyn Store) -> Result<()> {
    for c in store.centres()? {
        println!(
            "{:<16} {:<14} {}  (idle {} s, lock {} s, languages {}, consent {})",
            c.id,
            c.kind.as_str(),
            c.name,
            c.settings.idle_timeout_s,
            c.settings.assisted_lock_s,
            c.settings.languages.join(","),
            c.settings.consent_version
        );
    }
    Ok(())
}

/// Moves a device to a centre; its kiosk takes that centre's policy at its next contact.
pub fn device_assign(
    store: &dyn Store,
    key: &SigningKey,
    device: &str,
    centre: &str,
) -> Result<u64> {
    if !store.centres()?.iter().any(|c| c.id == centre) {
        bail!("no centre {centre}: make it first with `centre set {centre} --name …`");
    }
    store
        .assign_device(device, centre)?
        .with_context(|| format!("no device {device} is provisioned here"))?;
    publish_touched(store, key, Some(centre))
}

/// Withdraws a device: its certificate is refused at the handshake (within seconds on every
/// node) and at renewal, and it is never issued one again; records up to `accept_until` are
/// still taken.
pub fn device_withdraw(
    store: &dyn Store,
    device: &str,
    reason: &str,
    accept_until: Option<u64>,
) -> Result<()> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 {
        bail!("give a reason of 1 to 200 characters (--reason)");
    }
    let withdrawal = Withdrawal {
        reason: reason.to_string(),
        at: now(),
        accept_until,
    };
    if !store.withdraw(device, &withdrawal)? {
        bail!("no device {device} is provisioned here");
    }
    println!(
        "Device {device} withdrawn{}.",
        accept_until.map_or_else(String::new, |seq| format!(
            "; its records up to {seq} are still taken"
        ))
    );
    Ok(())
}

/// Writes a provisioning bundle for a device of `centre`: the trust bundle, that centre's
/// signed policy (so the kiosk has its staff before it reaches a network) and, if asked, a new
/// token that assigns the device to the centre.
pub fn provisioning_bundle(
    store: &dyn Store,
    key: &SigningKey,
    trust_bundle: &Path,
    centre: &str,
    token_lifetime_s: Option<i64>,
    out: &Path,
) -> Result<()> {
    let bytes =
        std::fs::read(trust_bundle).with_context(|| format!("read {}", trust_bundle.display()))?;
    let mut bundle = TrustBundle::parse(&bytes).map_err(|e| anyhow::anyhow!("{e}"))?;
    let pinned = bundle.policy_key().map_err(|e| anyhow::anyhow!("{e}"))?;
    if pinned != key.verifying_key() {
        bail!("this policy key is not the one the trust bundle pins");
    }
    publish(store, key, Some(centre))?;
    let (_, signed) = store
        .policy(Some(centre))?
        .with_context(|| format!("no policy stored for {centre}"))?;
    let signed: SignedPolicy = serde_json::from_slice(&signed)?;
    bundle.policy = Some(signed);
    bundle.enrolment_token = match token_lifetime_s {
        Some(lifetime) => Some(crate::commands::new_token(store, lifetime, Some(centre))?),
        None => None,
    };
    let json = serde_json::to_string_pretty(&bundle)? + "\n";
    write_atomic(out, json.as_bytes(), 0o600)?;
    println!(
        "Provisioning bundle for {centre}: {} ({} bytes{})",
        out.display(),
        json.len(),
        if bundle.enrolment_token.is_some() {
            ", with a one-time token"
        } else {
            ""
        }
    );
    Ok(())
}

/// Prints a device's audit events.
pub fn audit(store: &dyn Store, device: &str, json: bool) -> Result<()> {
    let events = store.audit(device)?;
    if json {
        for event in &events {
            println!("{}", serde_json::to_string(event)?);
        }
        return Ok(());
    }
    if events.is_empty() {
        println!("No audit events from {device} yet.");
    }
    for event in &events {
        println!(
            "{:>6}  {}  {:<14} {:<28} {}",
            event.number,
            format_time(event.at),
            event.actor,
            event.action,
            event.subject
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_for_a_centre_of_fifty_staff_is_small_and_signed_whole() {
        let pin_hash = sajili_record::pin::hash_pin("482193").unwrap();
        let snapshot = FleetSnapshot {
            version: 42,
            centre: Some(CentreEntry {
                id: "NRB-KIBERA".into(),
                name: "Kibera Huduma Centre".into(),
                kind: sajili_record::policy::CentreKind::PublicOffice,
                settings: Default::default(),
            }),
            staff: (0..51)
                .map(|n| StaffMember {
                    number: format!("OP-{n:05}"),
                    role: Role::Operator,
                    centre: Some("NRB-KIBERA".into()),
                    pin_hash: pin_hash.clone(),
                    disabled: n == 50,
                    changed_at: 0,
                })
                .collect(),
        };
        let key = SigningKey::from_bytes(&[9; 32]);
        let signed = policy_of(&snapshot, 1_800_000_000).sign(&key).unwrap();
        let policy = sajili_record::policy::verify(&signed, &key.verifying_key()).unwrap();
        assert_eq!(policy.staff.len(), 50, "the disabled one is left out");
        println!("policy for a centre of 50 staff: {} bytes", signed.len());
        assert!(signed.len() < 16 * 1024, "{} bytes", signed.len());
    }
}
