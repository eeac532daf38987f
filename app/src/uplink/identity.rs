//! The device's TLS identity and provisioning.
//!
//! ```text
//! DATA/uplink/          the uplink's own: 0700 when made here, 0770 with group sajili on the
//!                       appliance (provisioning writes it as the kiosk's user, see
//!                       systemd/sajili-provision.service)
//!   tls.key             the TLS client key (ECDSA P-256, PKCS#8 PEM), 0600; made here, never leaves
//!   tls.crt             the device certificate the registry issued, PEM
//!   registry.json       where the registry is and what to trust: its nodes' URLs, CA, receipt
//!                       key, device id
//!   reissue.json        the signed provisioning request (no token): lets the uplink get a new
//!                       certificate for the same key after the old one expired, without the
//!                       record-signing key
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ClientConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::client::{CallError, Registry};
use super::nodes::{on_any_node, provisioned_nodes};
use super::protocol::{CertificateIssued, ProvisionRequest};
use super::tls::{self, TrustedTime};
use crate::device::{DeviceKeys, ensure_dir, write_atomic};
use crate::record::hex;

/// What the uplink needs to know about the registry (no secrets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryLink {
    /// `https://host:port`: the first node to try.
    pub registry_url: String,
    /// Further nodes of the same registry, tried in order when the one before fails.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallback_urls: Vec<String>,
    /// The registry CA, PEM.
    pub ca_certificate: String,
    /// The receipt-signing key, hex.
    pub receipt_signing_key: String,
    /// This device's id.
    pub device_id: String,
}

impl RegistryLink {
    /// Every node's URL, the first choice first.
    pub fn urls(&self) -> Vec<String> {
        std::iter::once(&self.registry_url)
            .chain(&self.fallback_urls)
            .cloned()
            .collect()
    }
}

/// Why provisioning or loading the identity failed.
#[derive(Debug)]
pub enum IdentityError {
    /// The device has no certificate yet.
    NotProvisioned(PathBuf),
    /// A file is missing, unreadable or damaged.
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The registry refused or could not be reached.
    Call(CallError),
    /// The certificate the registry sent is not for this device or key.
    BadCertificate(String),
}

impl fmt::Display for IdentityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotProvisioned(dir) => write!(
                f,
                "this device is not provisioned ({} has no certificate): run `sajili provision`",
                dir.display()
            ),
            Self::File { path, reason } => write!(f, "{}: {reason}", path.display()),
            Self::Call(error) => error.fmt(f),
            Self::BadCertificate(reason) => {
                write!(f, "the registry sent an unusable certificate: {reason}")
            }
        }
    }
}

impl std::error::Error for IdentityError {}

impl From<CallError> for IdentityError {
    fn from(error: CallError) -> Self {
        Self::Call(error)
    }
}

/// The uplink's directory.
#[derive(Debug, Clone)]
pub struct UplinkDir {
    root: PathBuf,
}

fn file_error(path: &Path) -> impl FnOnce(std::io::Error) -> IdentityError + '_ {
    move |e| IdentityError::File {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

impl UplinkDir {
    /// The uplink dir of the data dir `data_root`.
    pub fn new(data_root: &Path) -> Self {
        Self {
            root: data_root.join("uplink"),
        }
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The TLS key (0600).
    pub fn key_path(&self) -> PathBuf {
        self.root.join("tls.key")
    }

    /// The device certificate.
    pub fn certificate_path(&self) -> PathBuf {
        self.root.join("tls.crt")
    }

    /// The registry link.
    pub fn link_path(&self) -> PathBuf {
        self.root.join("registry.json")
    }

    /// The signed re-issue request.
    pub fn reissue_path(&self) -> PathBuf {
        self.root.join("reissue.json")
    }

    fn read_text(path: &Path) -> Result<Zeroizing<String>, IdentityError> {
        std::fs::read_to_string(path)
            .map(Zeroizing::new)
            .map_err(file_error(path))
    }

    /// The registry link.
    pub fn link(&self) -> Result<RegistryLink, IdentityError> {
        let path = self.link_path();
        if !path.exists() {
            return Err(IdentityError::NotProvisioned(self.root.clone()));
        }
        let text = Self::read_text(&path)?;
        serde_json::from_str(&text).map_err(|e| IdentityError::File {
            path,
            reason: e.to_string(),
        })
    }

    /// The signed re-issue request.
    pub fn reissue_request(&self) -> Result<ProvisionRequest, IdentityError> {
        let path = self.reissue_path();
        let text = Self::read_text(&path)?;
        serde_json::from_str(&text).map_err(|e| IdentityError::File {
            path,
            reason: e.to_string(),
        })
    }

    fn key(&self) -> Result<PrivateKeyDer<'static>, IdentityError> {
        let path = self.key_path();
        let text = Self::read_text(&path)?;
        PrivateKeyDer::from_pem_slice(text.as_bytes()).map_err(|e| IdentityError::File {
            path,
            reason: format!("not a PEM private key: {e}"),
        })
    }

    /// The device certificate and when it is valid.
    pub fn certificate(&self) -> Result<DeviceCertificate, IdentityError> {
        let path = self.certificate_path();
        if !path.exists() {
            return Err(IdentityError::NotProvisioned(self.root.clone()));
        }
        let text = Self::read_text(&path)?;
        DeviceCertificate::from_pem(&text).map_err(|reason| IdentityError::File { path, reason })
    }

    /// A client configuration presenting the device certificate.
    pub fn mutual_tls(&self, time: TrustedTime) -> Result<Arc<ClientConfig>, IdentityError> {
        let link = self.link()?;
        let certificate = self.certificate()?;
        let config = tls::client_config(
            ca_der(&link)?,
            Some((vec![certificate.der], self.key()?)),
            time,
        )
        .map_err(|e| IdentityError::File {
            path: self.certificate_path(),
            reason: e.to_string(),
        })?;
        Ok(config)
    }

    /// Stores a certificate the registry issued, after checking it is for this device and key.
    pub fn store_certificate(&self, issued: &CertificateIssued) -> Result<(), IdentityError> {
        let link = self.link()?;
        let certificate = DeviceCertificate::from_pem(&issued.certificate)
            .map_err(IdentityError::BadCertificate)?;
        if certificate.device_id != link.device_id {
            return Err(IdentityError::BadCertificate(format!(
                "it names device {}, this is {}",
                certificate.device_id, link.device_id
            )));
        }
        tls::client_config(
            ca_der(&link)?,
            Some((vec![certificate.der.clone()], self.key()?)),
            TrustedTime { floor: 0 },
        )
        .map_err(|e| IdentityError::BadCertificate(e.to_string()))?;
        let path = self.certificate_path();
        write_atomic(&path, issued.certificate.as_bytes(), 0o644).map_err(file_error(&path))
    }
}

fn ca_der(link: &RegistryLink) -> Result<CertificateDer<'static>, IdentityError> {
    CertificateDer::from_pem_slice(link.ca_certificate.as_bytes()).map_err(|_| {
        IdentityError::File {
            path: PathBuf::from("registry.json"),
            reason: "the CA certificate is not PEM".into(),
        }
    })
}

/// A device certificate, parsed.
#[derive(Debug, Clone)]
pub struct DeviceCertificate {
    /// DER.
    pub der: CertificateDer<'static>,
    /// The common name: the device id.
    pub device_id: String,
    /// Valid from, Unix seconds.
    pub not_before: i64,
    /// Valid until, Unix seconds.
    pub not_after: i64,
}

impl DeviceCertificate {
    /// Parses a PEM certificate.
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        let der = CertificateDer::from_pem_slice(pem.as_bytes())
            .map_err(|e| format!("not a PEM certificate: {e}"))?;
        let (_, parsed) = x509_parser::parse_x509_certificate(&der)
            .map_err(|e| format!("not an X.509 certificate: {e}"))?;
        let device_id = parsed
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .unwrap_or_default()
            .to_string();
        let not_before = parsed.validity().not_before.timestamp();
        let not_after = parsed.validity().not_after.timestamp();
        Ok(Self {
            der: der.clone(),
            device_id,
            not_before,
            not_after,
        })
    }

    /// Renew once two thirds of its life have passed.
    pub fn renewal_due(&self, now: i64) -> bool {
        now >= self.not_before + (self.not_after - self.not_before) * 2 / 3
    }

    /// Whether it has expired at `now`.
    pub fn expired(&self, now: i64) -> bool {
        now > self.not_after
    }
}

/// What provisioning did.
#[derive(Debug, Clone)]
pub struct ProvisionReport {
    /// The device id.
    pub device_id: String,
    /// The certificate's expiry, Unix seconds.
    pub not_after: i64,
    /// Whether a new TLS key was made (false when a run cut short is repeated).
    pub new_key: bool,
}

/// Provisions the device with the registry's nodes (the pinned bundle's, tried in turn: the
/// next when one cannot be reached or answers 5xx; `url` first if given, or alone if the
/// bundle does not list it, see [`provisioned_nodes`]) using `token` (default: the bundle's):
/// makes the TLS key here, sends a CSR signed for with the record-signing key, stores the
/// certificate. The uplink then uses the same nodes in the same order. Running it again after
/// a cut reuses the key.
pub fn provision(
    device: &DeviceKeys,
    url: Option<&str>,
    token: Option<&str>,
    time: TrustedTime,
) -> Result<ProvisionReport, IdentityError> {
    let dir = UplinkDir::new(device.data.root());
    // On the appliance the directory is there already, the uplink's (0770, group sajili):
    // provisioning runs as the kiosk's user and writes through the group, and may not change
    // the mode of a directory it does not own. Elsewhere (a bare data dir) it is made here.
    if std::fs::symlink_metadata(dir.root()).is_err() {
        ensure_dir(dir.root(), 0o700).map_err(file_error(dir.root()))?;
    }
    let bundle: Vec<String> = device.bundle.urls().map(str::to_string).collect();
    let urls = provisioned_nodes(&bundle, url);
    let bad = urls.iter().find(|url| !url.starts_with("https://"));
    let (Some(first), None) = (urls.first(), bad) else {
        return Err(IdentityError::File {
            path: PathBuf::from(bad.map_or("", String::as_str)),
            reason: "the registry URL must start with https://".into(),
        });
    };
    let token = token
        .map(str::to_string)
        .or_else(|| device.bundle.enrolment_token.clone());
    let device_id = device.sealer.device_id().to_string();
    let link = RegistryLink {
        registry_url: first.clone(),
        fallback_urls: urls.iter().skip(1).cloned().collect(),
        ca_certificate: device.bundle.ca_certificate.clone(),
        receipt_signing_key: device.bundle.receipt_signing_key.clone(),
        device_id: device_id.clone(),
    };
    let link_json = serde_json::to_vec_pretty(&link).map_err(|e| IdentityError::File {
        path: dir.link_path(),
        reason: e.to_string(),
    })?;
    write_atomic(&dir.link_path(), &link_json, 0o644).map_err(file_error(&dir.link_path()))?;

    let key_path = dir.key_path();
    let mut new_key = !key_path.exists();
    if !new_key && !dir.certificate_path().exists() {
        // A key left by a provisioning cut short, before any certificate was stored. If it
        // cannot be used here (damaged, or already handed to the uplink's user by the
        // next boot's tmpfiles, so this user cannot read it), it protects nothing yet:
        // make a new one rather than fail at every retry for ever.
        let usable = UplinkDir::read_text(&key_path)
            .ok()
            .is_some_and(|pem| rcgen::KeyPair::from_pem(&pem).is_ok());
        if !usable {
            log::warn!(
                "the TLS key {} from an earlier, unfinished provisioning cannot be used; \
                 making a new one",
                key_path.display()
            );
            std::fs::remove_file(&key_path).map_err(file_error(&key_path))?;
            new_key = true;
        }
    }
    let key = if new_key {
        let key = rcgen::KeyPair::generate().map_err(|e| IdentityError::File {
            path: key_path.clone(),
            reason: format!("cannot make a TLS key: {e}"),
        })?;
        let pem = Zeroizing::new(key.serialize_pem());
        write_atomic(&key_path, pem.as_bytes(), 0o600).map_err(file_error(&key_path))?;
        key
    } else {
        let pem = UplinkDir::read_text(&key_path)?;
        rcgen::KeyPair::from_pem(&pem).map_err(|e| IdentityError::File {
            path: key_path.clone(),
            reason: format!("not a usable TLS key: {e}"),
        })?
    };
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, device_id.clone());
    let csr = params
        .serialize_request(&key)
        .map_err(|e| IdentityError::BadCertificate(format!("cannot make a CSR: {e}")))?;
    let csr_pem = csr
        .pem()
        .map_err(|e| IdentityError::BadCertificate(format!("cannot encode the CSR: {e}")))?;
    let proof = device.sealer.prove_tls_key(csr.der());
    let reissue = ProvisionRequest {
        token: None,
        csr: csr_pem,
        signing_key: hex(device.sealer.verifying_key().as_bytes()),
        proof: hex(&proof),
    };
    let reissue_json = serde_json::to_vec_pretty(&reissue).map_err(|e| IdentityError::File {
        path: dir.reissue_path(),
        reason: e.to_string(),
    })?;
    write_atomic(&dir.reissue_path(), &reissue_json, 0o600)
        .map_err(file_error(&dir.reissue_path()))?;

    let config =
        tls::client_config(ca_der(&link)?, None, time).map_err(|e| IdentityError::File {
            path: dir.link_path(),
            reason: e.to_string(),
        })?;
    let request = ProvisionRequest { token, ..reissue };
    // A node that took the token but whose answer was lost gives the certificate again to the
    // same key, so asking the next node after a cut is safe.
    let (_, issued) = on_any_node(&urls, 0, |url| {
        Registry::new(url, config.clone()).provision(&request)
    })?;
    dir.store_certificate(&issued)?;
    Ok(ProvisionReport {
        device_id,
        not_after: issued.not_after,
        new_key,
    })
}

/// Gets a new certificate for the same key with the signed re-issue request (no token, no
/// client certificate) from the registry node at `url`: the way back for a device whose
/// certificate expired while offline. The sync pass it runs in moves to another node if this
/// one fails.
pub fn reissue(
    dir: &UplinkDir,
    time: TrustedTime,
    url: &str,
) -> Result<CertificateIssued, IdentityError> {
    let link = dir.link()?;
    let request = dir.reissue_request()?;
    let config =
        tls::client_config(ca_der(&link)?, None, time).map_err(|e| IdentityError::File {
            path: dir.link_path(),
            reason: e.to_string(),
        })?;
    let issued = Registry::new(url, config).provision(&request)?;
    dir.store_certificate(&issued)?;
    Ok(issued)
}
