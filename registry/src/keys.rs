//! The registry's keys on disk: its CA (which issues the server's and every device's
//! certificate), its TLS key and its receipt-signing key: what every ingest node holds. The age
//! identity that decrypts records is not among them: `init` writes it to a file of its own for
//! the back office to keep offline ([`write_identity`], [`load_identity`]).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use ed25519_dalek::SigningKey;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use sajili_record::files::write_atomic;
use time::OffsetDateTime;
use zeroize::Zeroizing;

/// Paths inside the registry's key directory.
#[derive(Debug, Clone)]
pub struct RegistryDir {
    /// The directory.
    pub root: PathBuf,
}

impl RegistryDir {
    fn file(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }
    /// The CA certificate, PEM.
    pub fn ca_cert(&self) -> PathBuf {
        self.file("ca.crt")
    }
    /// The CA key, PEM, 0600.
    pub fn ca_key(&self) -> PathBuf {
        self.file("ca.key")
    }
    /// The server certificate.
    pub fn server_cert(&self) -> PathBuf {
        self.file("server.crt")
    }
    /// The server key.
    pub fn server_key(&self) -> PathBuf {
        self.file("server.key")
    }
    /// The receipt-signing seed, 32 bytes, 0600.
    pub fn receipt_key(&self) -> PathBuf {
        self.file("receipt-signing.key")
    }
}

/// Everything an ingest node signs with.
pub struct Keys {
    /// Issues device certificates.
    pub ca: Issuer<'static, KeyPair>,
    /// Signs receipts and standings.
    pub receipt_key: SigningKey,
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn random_serial() -> Result<SerialNumber> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).context("randomness")?;
    bytes[0] &= 0x7f;
    Ok(SerialNumber::from_slice(&bytes))
}

/// Makes a new registry's keys in `dir`; the server certificate names every one of `hosts`.
pub fn create(dir: &RegistryDir, hosts: &[String]) -> Result<()> {
    if dir.ca_key().exists() {
        bail!("{} already holds a registry's keys", dir.root.display());
    }
    sajili_record::files::ensure_dir(&dir.root, 0o700)?;
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::default();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params.distinguished_name = DistinguishedName::new();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Sajili registry CA");
    ca_params.not_before = now() - time::Duration::days(1);
    ca_params.not_after = now() + time::Duration::days(20 * 365);
    ca_params.serial_number = Some(random_serial()?);
    let ca_cert = ca_params.self_signed(&ca_key)?;
    write_atomic(&dir.ca_key(), ca_key.serialize_pem().as_bytes(), 0o600)?;
    write_atomic(&dir.ca_cert(), ca_cert.pem().as_bytes(), 0o644)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let server_key = KeyPair::generate()?;
    let mut names = hosts.to_vec();
    names.extend(["localhost".to_string(), "127.0.0.1".to_string()]);
    let mut server_params = CertificateParams::new(Vec::<String>::new())?;
    for name in names {
        let san = match name.parse::<std::net::IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(name.clone().try_into()?),
        };
        if !server_params.subject_alt_names.contains(&san) {
            server_params.subject_alt_names.push(san);
        }
    }
    server_params
        .distinguished_name
        .push(DnType::CommonName, "Sajili registry");
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server_params.not_before = now() - time::Duration::days(1);
    server_params.not_after = now() + time::Duration::days(10 * 365);
    server_params.serial_number = Some(random_serial()?);
    let server_cert = server_params.signed_by(&server_key, &issuer)?;
    write_atomic(
        &dir.server_key(),
        server_key.serialize_pem().as_bytes(),
        0o600,
    )?;
    write_atomic(&dir.server_cert(), server_cert.pem().as_bytes(), 0o644)?;

    let mut seed = Zeroizing::new(vec![0u8; 32]);
    getrandom::fill(&mut seed).context("randomness")?;
    write_atomic(&dir.receipt_key(), &seed, 0o600)?;
    Ok(())
}

/// Makes the age identity records are encrypted to and writes it to `path` (0600), refusing to
/// replace a file there. Returns its public recipient.
pub fn write_identity(path: &Path) -> Result<age::x25519::Recipient> {
    use age::secrecy::ExposeSecret;
    if path.exists() {
        bail!(
            "{} exists: an identity is never overwritten",
            path.display()
        );
    }
    let identity = age::x25519::Identity::generate();
    write_atomic(path, identity.to_string().expose_secret().as_bytes(), 0o600)
        .with_context(|| format!("write {}", path.display()))?;
    Ok(identity.to_public())
}

/// Makes the policy key that signs fleet policies and writes its seed to `path` (0600),
/// refusing to replace a file there. Returns its public half, pinned in the trust bundle.
pub fn write_policy_key(path: &Path) -> Result<ed25519_dalek::VerifyingKey> {
    if path.exists() {
        bail!(
            "{} exists: a policy key is never overwritten (every device pins it)",
            path.display()
        );
    }
    let mut seed = Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut()).context("randomness")?;
    write_atomic(path, seed.as_ref(), 0o600)
        .with_context(|| format!("write {}", path.display()))?;
    Ok(SigningKey::from_bytes(&seed).verifying_key())
}

/// Reads the policy key the back office keeps (`--policy-key FILE`).
pub fn load_policy_key(path: &Path) -> Result<SigningKey> {
    let seed = read(path)?;
    let seed: [u8; 32] = seed.as_slice().try_into().with_context(|| {
        format!(
            "{} is not a policy key (32 bytes, from `init --policy-key-out`)",
            path.display()
        )
    })?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Reads the age identity the back office keeps (`--identity FILE`).
pub fn load_identity(path: &Path) -> Result<age::x25519::Identity> {
    let text = read(path)?;
    std::str::from_utf8(&text)
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .with_context(|| {
            format!(
                "{} is not an age identity (AGE-SECRET-KEY-1…)",
                path.display()
            )
        })
}

fn read(path: &Path) -> Result<Zeroizing<Vec<u8>>> {
    Ok(Zeroizing::new(
        std::fs::read(path).with_context(|| format!("read {}", path.display()))?,
    ))
}

/// Loads the keys from `dir`.
pub fn load(dir: &RegistryDir) -> Result<Keys> {
    let ca_key_pem = read(&dir.ca_key())?;
    let ca_key = KeyPair::from_pem(std::str::from_utf8(&ca_key_pem)?)?;
    let ca_pem = std::fs::read_to_string(dir.ca_cert())?;
    let ca = Issuer::from_ca_cert_pem(&ca_pem, ca_key)?;
    let seed = read(&dir.receipt_key())?;
    let seed: [u8; 32] = seed
        .as_slice()
        .try_into()
        .context("receipt key: 32 bytes")?;
    Ok(Keys {
        ca,
        receipt_key: SigningKey::from_bytes(&seed),
    })
}

/// The public key of a CSR, after checking the CSR's own signature. Its names and extensions
/// are ignored: the registry decides what the certificate says.
pub fn csr_public_key(csr_pem: &str) -> Result<rcgen::PublicKey> {
    let csr = CertificateSigningRequestParams::from_pem(csr_pem)
        .map_err(|e| anyhow::anyhow!("the CSR is not valid: {e}"))?;
    Ok(csr.public_key)
}

/// The public key of a certificate (for renewal: same key, new certificate).
pub fn certificate_public_key(der: &[u8]) -> Result<rcgen::SubjectPublicKeyInfo> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| anyhow::anyhow!("certificate: {e}"))?;
    rcgen::SubjectPublicKeyInfo::from_der(cert.public_key().raw)
        .map_err(|e| anyhow::anyhow!("certificate key: {e}"))
}

/// Issues a client certificate for `public_key`, naming `device_id`, valid for `days`.
pub fn issue_device_certificate(
    keys: &Keys,
    public_key: &impl rcgen::PublicKeyData,
    device_id: &str,
    days: i64,
) -> Result<(String, i64)> {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, device_id);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.not_before = now() - time::Duration::hours(1);
    params.not_after = now() + time::Duration::days(days);
    params.serial_number = Some(random_serial()?);
    let not_after = params.not_after.unix_timestamp();
    let cert = params.signed_by(public_key, &keys.ca)?;
    Ok((cert.pem(), not_after))
}
