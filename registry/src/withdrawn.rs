//! Withdrawn devices refused at the TLS handshake: the client-certificate check of every
//! connection also asks whether the back office withdrew the device the certificate names.
//!
//! The list lives in memory, refreshed from the store every few seconds ([`REFRESH`]), so a
//! handshake costs no database read and a withdrawal reaches every node within seconds. Until
//! it does, the API refuses the device's calls anyway (it reads the device on every call).
//! A device whose last records are still taken (`--accept-until`) passes the handshake; the API
//! takes those records and nothing else.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};

use crate::store::Store;

/// How often each node reads the withdrawn devices again.
pub const REFRESH: Duration = Duration::from_secs(5);

/// The devices refused at the handshake.
#[derive(Debug, Default)]
pub struct Refused {
    devices: RwLock<HashSet<String>>,
}

impl Refused {
    /// Whether `device` is refused.
    pub fn contains(&self, device: &str) -> bool {
        self.devices
            .read()
            .map(|devices| devices.contains(device))
            .unwrap_or(false)
    }

    /// Reads the list from the store again; how many devices it holds.
    pub fn refresh(&self, store: &dyn Store) -> anyhow::Result<usize> {
        let devices: HashSet<String> = store
            .withdrawn()?
            .into_iter()
            .filter(|gone| gone.withdrawal.accept_until.is_none())
            .map(|gone| gone.device)
            .collect();
        let count = devices.len();
        if let Ok(mut held) = self.devices.write() {
            *held = devices;
        }
        Ok(count)
    }
}

/// The common name of a certificate: the device id.
pub fn common_name(certificate: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(certificate).ok()?;
    cert.subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_string)
}

/// The CA's check of a client certificate, then the withdrawn list: a withdrawn device's
/// handshake fails with the `certificate_revoked` alert, which its uplink recognises.
#[derive(Debug)]
pub struct RefusingVerifier {
    /// The CA's check.
    pub inner: Arc<dyn ClientCertVerifier>,
    /// The devices refused.
    pub refused: Arc<Refused>,
}

impl ClientCertVerifier for RefusingVerifier {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        if common_name(end_entity).is_some_and(|device| self.refused.contains(&device)) {
            return Err(rustls::Error::InvalidCertificate(CertificateError::Revoked));
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
