//! Staff PINs as Argon2id hashes, made the same way at the registry (`staff add`) and on a
//! kiosk, so a hash from the fleet policy checks on any device and a stolen store or policy
//! does not give the PINs away.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Argon2id memory per check, KiB: 19 MiB, OWASP's first recommended setting. A kiosk board
/// has 512 MB or more and checks one PIN at a time, so memory is the cheap defence; time is
/// not, because the person waits at the screen (see README: the time per check).
pub const PIN_HASH_MEMORY_KIB: u32 = 19 * 1024;
/// Argon2id passes over that memory.
pub const PIN_HASH_PASSES: u32 = 2;
/// Argon2id lanes: the boards have 2-4 cores, and the UI keeps drawing on another.
pub const PIN_HASH_LANES: u32 = 1;
/// Shortest PIN for a new or changed PIN. Six digits: a million PINs, where four gave ten
/// thousand; with the kiosk's lockout a guesser gets a few dozen tries a day.
pub const MIN_NEW_PIN: usize = 6;

fn hasher() -> Result<Argon2<'static>, String> {
    let params = Params::new(PIN_HASH_MEMORY_KIB, PIN_HASH_PASSES, PIN_HASH_LANES, None)
        .map_err(|e| e.to_string())?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Whether `pin` is 6-12 digits, as a new PIN must be.
pub fn acceptable_new_pin(pin: &str) -> bool {
    plausible_pin(pin, MIN_NEW_PIN)
}

/// PINs set before the 6-digit rule still sign in; new ones need six.
fn plausible_pin(pin: &str, shortest: usize) -> bool {
    (shortest..=12).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit())
}

/// Hashes a new PIN (checked with [`acceptable_new_pin`] by the caller) with a fresh salt: the
/// PHC string (algorithm, parameters, salt, hash). Fails only without randomness.
pub fn hash_pin(pin: &str) -> Result<String, String> {
    let mut salt_bytes = [0u8; 16];
    getrandom::fill(&mut salt_bytes).map_err(|e| e.to_string())?;
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| e.to_string())?;
    Ok(hasher()?
        .hash_password(pin.as_bytes(), &salt)
        .map_err(|e| e.to_string())?
        .to_string())
}

/// Whether `pin` matches the PHC string `hash`. A damaged hash matches nothing.
pub fn pin_matches(hash: &str, pin: &str) -> bool {
    plausible_pin(pin, 4)
        && PasswordHash::new(hash).is_ok_and(|hash| {
            hasher().is_ok_and(|h| h.verify_password(pin.as_bytes(), &hash).is_ok())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_matches_its_own_pin_only_and_names_its_parameters() {
        let hash = hash_pin("482193").expect("hash");
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(pin_matches(&hash, "482193"));
        assert!(!pin_matches(&hash, "482194"));
        assert!(!pin_matches("$argon2id$garbage", "482193"));
        assert!(!acceptable_new_pin("12345"));
        assert!(acceptable_new_pin("123456"));
    }
}
