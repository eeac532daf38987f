//! An enrolment as an ANSI/NIST-ITL 1-2011 transaction (traditional encoding), the file every
//! ABIS ingests: a Type-1 record (the transaction), a Type-2 (demographics), a Type-10 (the
//! face, JPEG), a Type-14 per captured finger (WSQ at 0.75 bits per pixel) and, when the
//! identity document was photographed, a Type-20 (source representation, JPEG) last. Fingers
//! with an exception have no Type-14; Type-2 says which and why. Field by field:
//! docs/ansi-nist.md.
//!
//! Tagged fields "T.NNN:value" are separated by GS (0x1D) and each record ends with FS (0x1C);
//! subfields are separated by RS (0x1E) and information items by US (0x1F). A record's first
//! field is its length in bytes, its own digits included; images go last, as field 999.

use std::fmt;

use crate::biometrics::grey::Grey;
use crate::biometrics::{ImageFormat, wsq};
use crate::form::{Citizenship, FingerException, Sex};
use crate::record::{Enrolment, FingerCapture};

const FS: u8 = 0x1C;
const GS: u8 = 0x1D;
const RS: char = '\u{1E}';
const US: char = '\u{1F}';

/// The ANSI/NIST-ITL version: 1-2011.
pub const VERSION: &str = "0500";
/// Transaction type: an enrolment for the national register (agreed with the receiving ABIS).
pub const TRANSACTION_TYPE: &str = "ENR";
/// Type-20 acquisition source type: a static digital image from a digital camera.
pub const DOCUMENT_ACQUISITION_SOURCE: &str = "2";

/// Who sends the transaction to whom.
#[derive(Debug, Clone)]
pub struct Transaction<'a> {
    /// The enrolment.
    pub enrolment: &'a Enrolment,
    /// Its registration number (the transaction control number).
    pub registration_number: &'a str,
    /// When it was sealed (Unix seconds).
    pub captured_at: i64,
    /// Originating agency: the device that enrolled.
    pub originating_agency: &'a str,
    /// Destination agency: the ABIS.
    pub destination_agency: &'a str,
}

/// Why a transaction could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportError {
    /// A print in the record does not decode.
    BadPrint(String),
    /// A value cannot be written (a separator character inside it).
    BadText(&'static str),
}

impl fmt::Display for ExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadPrint(detail) => write!(f, "a fingerprint does not decode: {detail}"),
            Self::BadText(field) => write!(f, "{field} contains a control character"),
        }
    }
}

impl std::error::Error for ExportError {}

enum Value {
    Text(String),
    Binary(Vec<u8>),
}

struct Record {
    kind: u8,
    fields: Vec<(u16, Value)>,
}

impl Record {
    fn new(kind: u8) -> Self {
        Self {
            kind,
            fields: Vec::new(),
        }
    }

    fn text(&mut self, field: u16, value: impl Into<String>) -> &mut Self {
        self.fields.push((field, Value::Text(value.into())));
        self
    }

    fn encode(&self) -> Vec<u8> {
        // Everything after the length field, each field ended by GS, the last by FS.
        let mut rest = Vec::new();
        for (i, (number, value)) in self.fields.iter().enumerate() {
            rest.extend_from_slice(format!("{}.{number:03}:", self.kind).as_bytes());
            match value {
                Value::Text(text) => rest.extend_from_slice(text.as_bytes()),
                Value::Binary(bytes) => rest.extend_from_slice(bytes),
            }
            rest.push(if i + 1 == self.fields.len() { FS } else { GS });
        }
        // The length counts its own digits: grow it until it is stable.
        let tag = format!("{}.001:", self.kind);
        let mut length = tag.len() + 1 + 1 + rest.len();
        loop {
            let total = tag.len() + length.to_string().len() + 1 + rest.len();
            if total == length {
                break;
            }
            length = total;
        }
        let mut out = format!("{tag}{length}").into_bytes();
        out.push(GS);
        out.extend_from_slice(&rest);
        out
    }
}

fn clean(value: &str, field: &'static str) -> Result<String, ExportError> {
    if value.chars().any(|c| c.is_control()) {
        return Err(ExportError::BadText(field));
    }
    Ok(value.to_string())
}

/// The WSQ bytes of a print: kept as they are when the record already has WSQ.
fn print_wsq(image: &crate::biometrics::Image) -> Result<(Vec<u8>, u32, u32), ExportError> {
    match image.format {
        ImageFormat::Wsq => Ok((image.data.clone(), image.width, image.height)),
        _ => {
            let grey =
                Grey::from_png(&image.data).map_err(|e| ExportError::BadPrint(e.to_string()))?;
            let wsq = wsq::encode(&grey, wsq::DEFAULT_BITRATE, 500)
                .map_err(|e| ExportError::BadPrint(e.to_string()))?;
            Ok((wsq, grey.width() as u32, grey.height() as u32))
        }
    }
}

/// Builds the transaction.
pub fn ansi_nist(tx: &Transaction<'_>) -> Result<Vec<u8>, ExportError> {
    let when = time::OffsetDateTime::from_unix_timestamp(tx.captured_at)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let date = format!(
        "{:04}{:02}{:02}",
        when.year(),
        u8::from(when.month()),
        when.day()
    );
    let gmt = format!(
        "{date}{:02}{:02}{:02}Z",
        when.hour(),
        when.minute(),
        when.second()
    );
    let source = clean(tx.originating_agency, "the originating agency")?;
    let enrolment = tx.enrolment;
    let d = &enrolment.demographics;

    let mut demographics = Record::new(2);
    demographics.text(2, "0");
    demographics.text(
        10,
        clean(tx.registration_number, "the registration number")?,
    );
    let mut name = format!("{},{}", d.names.surname, d.names.first_name);
    if let Some(other) = &d.names.other_names {
        name = format!("{name} {other}");
    }
    demographics.text(18, clean(&name, "the name")?);
    demographics.text(
        21,
        match d.citizenship {
            Citizenship::Kenyan => "KEN".to_string(),
            _ => clean(
                d.document.nationality.as_deref().unwrap_or("XXX"),
                "the nationality",
            )?,
        },
    );
    let dob = d.date_of_birth;
    demographics.text(
        22,
        format!(
            "{:04}{:02}{:02}",
            dob.year(),
            u8::from(dob.month()),
            dob.day()
        ),
    );
    demographics.text(
        24,
        match d.sex {
            Sex::Male => "M",
            Sex::Female => "F",
            Sex::Intersex => "X",
        },
    );
    let exceptions: Vec<String> = enrolment
        .fingerprints
        .iter()
        .filter_map(|f| match f.capture {
            FingerCapture::Exception(reason) => Some(format!(
                "{}{US}{}",
                f.position as u8,
                match reason {
                    FingerException::Missing | FingerException::Amputated => "XX",
                    FingerException::Injured
                    | FingerException::Unusable
                    | FingerException::TemporarilyUnable { .. } => "UP",
                }
            )),
            FingerCapture::Image(_) => None,
        })
        .collect();
    if !exceptions.is_empty() {
        demographics.text(84, exceptions.join(&RS.to_string()));
    }

    let photo = &enrolment.photo;
    let mut face = Record::new(10);
    face.text(2, "1")
        .text(3, "FACE")
        .text(4, source.clone())
        .text(5, date.clone())
        .text(6, photo.width.to_string())
        .text(7, photo.height.to_string())
        .text(8, "0")
        .text(9, "1")
        .text(10, "1")
        .text(11, "JPEGB")
        .text(12, "YCC")
        .text(20, "F");
    face.fields.push((999, Value::Binary(photo.data.clone())));

    let mut records = vec![demographics, face];
    for finger in &enrolment.fingerprints {
        let FingerCapture::Image(image) = &finger.capture else {
            continue;
        };
        let (data, width, height) = print_wsq(image)?;
        let idc = records.len();
        let mut print = Record::new(14);
        print
            .text(2, idc.to_string())
            .text(3, "0")
            .text(4, source.clone())
            .text(5, date.clone())
            .text(6, width.to_string())
            .text(7, height.to_string())
            .text(8, "1")
            .text(9, "500")
            .text(10, "500")
            .text(11, "WSQ20")
            .text(12, "8")
            .text(13, (finger.position as u8).to_string());
        print.fields.push((999, Value::Binary(data)));
        records.push(print);
    }

    if let Some(document) = &enrolment.document_photo {
        records.push(document_record(document, records.len(), &source, &date));
    }

    let mut content = format!("1{US}{}", records.len());
    for (idc, record) in records.iter().enumerate() {
        content.push_str(&format!("{RS}{}{US}{idc}", record.kind));
    }
    let mut header = Record::new(1);
    header
        .text(2, VERSION)
        .text(3, content)
        .text(4, TRANSACTION_TYPE)
        .text(5, date)
        .text(7, clean(tx.destination_agency, "the destination agency")?)
        .text(8, source)
        .text(9, clean(tx.registration_number, "the registration number")?)
        .text(11, "19.69")
        .text(12, "19.69")
        .text(14, gmt)
        .text(15, format!("3{US}UTF-8"));

    let mut out = header.encode();
    for record in &records {
        out.extend(record.encode());
    }
    Ok(out)
}

/// The Type-20 record of the identity document's photo, with IDC `idc`.
fn document_record(
    document: &crate::biometrics::Image,
    idc: usize,
    source: &str,
    date: &str,
) -> Record {
    let mut record = Record::new(20);
    record
        .text(2, idc.to_string())
        // The only representation of its source: nothing else in the transaction derives
        // from the document.
        .text(3, "S")
        .text(4, source)
        .text(5, date)
        .text(6, document.width.to_string())
        .text(7, document.height.to_string())
        .text(8, "0")
        .text(9, "1")
        .text(10, "1")
        .text(11, "JPEGB")
        .text(12, "24")
        .text(13, "YCC")
        .text(14, DOCUMENT_ACQUISITION_SOURCE)
        .text(15, format!("JPG{US}JPEG baseline, JFIF"))
        .text(21, "1");
    record
        .fields
        .push((999, Value::Binary(document.data.clone())));
    record
}

/// The enrolment's prints as an ISO/IEC 19794-4:2011 record (WSQ) and its photo as an
/// ISO/IEC 19794-5:2005 record (JPEG; a token image when the photo has the token's size).
pub fn iso_records(
    enrolment: &Enrolment,
    captured_at: i64,
) -> Result<(Vec<u8>, Vec<u8>), ExportError> {
    use crate::biometrics::iso19794::{
        CaptureTime, FACE_TOKEN_FRONTAL, FINGER_WSQ, FaceView, FingerView, LIVE_SCAN_PLAIN,
        write_face_record, write_finger_record,
    };
    let captured = CaptureTime::from_unix(captured_at);
    let mut views = Vec::new();
    for finger in &enrolment.fingerprints {
        let FingerCapture::Image(image) = &finger.capture else {
            continue;
        };
        let (data, width, height) = print_wsq(image)?;
        views.push(FingerView {
            captured,
            position: finger.position as u8,
            quality: None,
            impression: LIVE_SCAN_PLAIN,
            ppi: 500,
            width: width as u16,
            height: height as u16,
            compression: FINGER_WSQ,
            data,
        });
    }
    let fingers = write_finger_record(&views).map_err(|e| ExportError::BadPrint(e.to_string()))?;
    let photo = &enrolment.photo;
    let token = (photo.width, photo.height) == (240, 320);
    let face = write_face_record(&[FaceView {
        gender: match enrolment.demographics.sex {
            Sex::Male => 1,
            Sex::Female => 2,
            Sex::Intersex => 3,
        },
        eyes: token.then_some(((90, 144), (150, 144))),
        image_type: if token { FACE_TOKEN_FRONTAL } else { 0 },
        width: photo.width as u16,
        height: photo.height as u16,
        data: photo.data.clone(),
    }])
    .map_err(|e| ExportError::BadPrint(e.to_string()))?;
    Ok((fingers, face))
}
