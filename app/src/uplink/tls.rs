//! TLS for the uplink: rustls with the ring provider, the registry's CA as the only root, the
//! device certificate as the client certificate, and certificate validity judged by the
//! device's best estimate of the time rather than a clock that may read 1970 or 2040.

use std::fmt;
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::time_provider::TimeProvider;
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, Transport,
    TransportAdapter,
};

use crate::clock::BUILD_TIME;

/// How far past the last time it trusts (build time, or the registry's signed time) a device's
/// clock may run before it is treated as wrong. A device stored for longer than this with a
/// good clock still syncs: the registry's certificate is checked at the floor instead.
pub const MAX_CLOCK_LEAD: i64 = 3 * 365 * 86_400;

/// The time to judge certificates by: the system clock if it lies between the floor and
/// [`MAX_CLOCK_LEAD`] after it, else the floor (the latest time known to have passed).
pub fn estimate_now(system_now: i64, floor: i64) -> i64 {
    let floor = floor.max(BUILD_TIME);
    if system_now < floor || system_now > floor.saturating_add(MAX_CLOCK_LEAD) {
        floor
    } else {
        system_now
    }
}

/// The clock rustls validates certificates with (see [`estimate_now`]).
#[derive(Debug, Clone, Copy)]
pub struct TrustedTime {
    /// The latest time known to have passed: build time or the registry's last signed time.
    pub floor: i64,
}

impl TimeProvider for TrustedTime {
    fn current_time(&self) -> Option<UnixTime> {
        let system = time::OffsetDateTime::now_utc().unix_timestamp();
        let now = estimate_now(system, self.floor).max(0) as u64;
        Some(UnixTime::since_unix_epoch(Duration::from_secs(now)))
    }
}

/// Why a TLS configuration could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSetupError(pub String);

impl fmt::Display for TlsSetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsSetupError {}

/// The ring provider: the one crypto backend this build uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client configuration that trusts only `ca` and, if given, authenticates with
/// `client` (certificate chain and key). Refuses a certificate that does not match its key.
pub fn client_config(
    ca: CertificateDer<'static>,
    client: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
    time: TrustedTime,
) -> Result<Arc<ClientConfig>, TlsSetupError> {
    let provider = provider();
    let mut roots = RootCertStore::empty();
    roots
        .add(ca)
        .map_err(|e| TlsSetupError(format!("the registry CA certificate is not usable: {e}")))?;
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| TlsSetupError(format!("cannot verify the registry: {e}")))?;
    let builder = ClientConfig::builder_with_details(provider.clone(), Arc::new(time))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetupError(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match client {
        Some((chain, key)) => {
            let certified = CertifiedKey::from_der(chain.clone(), key.clone_key(), &provider)
                .map_err(|e| {
                    TlsSetupError(format!(
                        "the device certificate does not match its TLS key: {e}"
                    ))
                })?;
            certified.keys_match().map_err(|e| {
                TlsSetupError(format!(
                    "the device certificate does not match its TLS key: {e}"
                ))
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| TlsSetupError(format!("the device certificate is not usable: {e}")))?
        }
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// A ureq connector that wraps the TCP transport in TLS with a fixed rustls configuration
/// (ureq's own builds one from its settings and cannot take a clock).
#[derive(Debug)]
pub struct PinnedTls {
    config: Arc<ClientConfig>,
}

impl PinnedTls {
    /// A connector for `config`.
    pub fn new(config: Arc<ClientConfig>) -> Self {
        Self { config }
    }
}

impl<In: Transport> Connector<In> for PinnedTls {
    type Out = Either<In, TlsTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Err(ureq::Error::Tls("no transport under TLS"));
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let host = details
            .uri
            .authority()
            .map(|a| a.host().trim_start_matches('[').trim_end_matches(']'))
            .ok_or(ureq::Error::Tls("no host to connect to"))?;
        let name = ServerName::try_from(host.to_string())
            .map_err(|_| ureq::Error::Tls("the registry's host is not a valid name"))?;
        let mut connection = ClientConnection::new(self.config.clone(), name)?;
        let mut socket = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        socket.set_timeout(details.timeout);
        connection.complete_io(&mut socket)?;
        let buffers = LazyBuffers::new(
            details.config.input_buffer_size(),
            details.config.output_buffer_size(),
        );
        Ok(Some(Either::B(TlsTransport {
            buffers,
            stream: StreamOwned::new(connection, socket),
        })))
    }
}

/// One TLS connection to the registry.
pub struct TlsTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
}

impl fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsTransport").finish_non_exhaustive()
    }
}

impl Transport for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let output = &self.buffers.output()[..amount];
        self.stream.write_all(output)?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let amount = self.stream.read(input)?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_far_off_is_replaced_by_the_floor() {
        let floor = BUILD_TIME + 1_000;
        assert_eq!(estimate_now(0, floor), floor, "1970");
        assert_eq!(estimate_now(2_208_988_800, floor), floor, "2040");
        assert_eq!(estimate_now(floor + 86_400, floor), floor + 86_400);
        assert_eq!(
            estimate_now(0, 0),
            BUILD_TIME,
            "the build time is a floor too"
        );
    }
}
