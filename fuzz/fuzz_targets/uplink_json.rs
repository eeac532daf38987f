//! What the device reads from the registry (answers, errors, certificates) and what the
//! registry reads from devices (provisioning requests): refused without panic.
#![no_main]
use sajili::uplink::protocol::{ApiError, CertificateIssued, ProvisionRequest, UploadProgress};
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<ApiError>(data);
    let _ = serde_json::from_slice::<UploadProgress>(data);
    let _ = serde_json::from_slice::<ProvisionRequest>(data);
    if let Ok(issued) = serde_json::from_slice::<CertificateIssued>(data) {
        let _ = sajili::uplink::identity::DeviceCertificate::from_pem(&issued.certificate);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = sajili::uplink::identity::DeviceCertificate::from_pem(text);
    }
});
