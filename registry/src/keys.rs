//! The registry's keys on disk: its CA (which issues the server's and every device's
//! certificate), its receipt-signing key and its age identity.

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

/// Paths inside the registry's data dir.
#[derive(Debug, Clone)]
pub struct RegistryDir {
    /// The directory.
    pub root: PathBuf,
}

impl RegistryDir {
    /// The database.
    pub fn db(&self) -> PathBuf {
        self.root.join("registry.redb")
    }
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
    /// The age identity, 0600.
    pub fn age_identity(&self) -> PathBuf {
        self.file("age.key")
    }
}

/// Everything the server signs and decrypts with.
pub struct Keys {
    /// Issues device certificates.
    pub ca: Issuer<'static, KeyPair>,
    /// Signs receipts and standings.
    pub receipt_key: SigningKey,
    /// Decrypts records.
    pub identity: age::x25519::Identity,
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

/// Makes a new registry's keys in `dir`; the server certificate names `host`.
pub fn create(dir: &RegistryDir, host: &str) -> Result<()> {
    if dir.ca_key().exists() || dir.db().exists() {
        bail!("{} already holds a registry", dir.root.display());
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
    let mut names = vec![host.to_string(), "localhost".into(), "127.0.0.1".into()];
    names.dedup();
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
    let identity = age::x25519::Identity::generate();
    use age::secrecy::ExposeSecret;
    write_atomic(
        &dir.age_identity(),
        identity.to_string().expose_secret().as_bytes(),
        0o600,
    )?;
    Ok(())
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
    let identity_text = read(&dir.age_identity())?;
    let identity: age::x25519::Identity = std::str::from_utf8(&identity_text)?
        .trim()
        .parse()
        .map_err(|e| anyhow::anyhow!("age identity: {e}"))?;
    Ok(Keys {
        ca,
        receipt_key: SigningKey::from_bytes(&seed),
        identity,
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
