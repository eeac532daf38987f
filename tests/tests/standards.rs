//! Standard records checked by independent readers from PyPI: `iso19794` 0.1.0 (ISO/IEC
//! 19794-4:2011 and 19794-5:2005 as Pillow formats) and `nistitl` 0.6 (IDEMIA's ANSI/NIST-ITL
//! parser), with NIST's WSQ decoder (`wsq` 0.9) for the prints inside. Each reads what we
//! write, field by field, and we read what they write.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::ffi::OsStr;

use sajili::biometrics::iso19794;
use sajili::biometrics::wsq;
use sajili::export::{self, Transaction};
use sajili::record::FingerCapture;
use sajili_tests::run_python;

/// Checks NIST's decoding of a print (`theirs`, as written by the script) against ours pixel
/// by pixel: same size, no pixel more than one grey level apart (the two decoders round the
/// inverse wavelet transform differently). Sums alone would pass a transposed or shifted image.
fn assert_same_pixels(ours: &[u8], theirs_file: &std::path::Path, what: &str) {
    let theirs = std::fs::read(theirs_file).unwrap();
    assert_eq!(theirs.len(), ours.len(), "{what}: pixel count");
    let (worst, at) = ours
        .iter()
        .zip(&theirs)
        .enumerate()
        .map(|(index, (a, b))| (a.abs_diff(*b), index))
        .max()
        .unwrap();
    assert!(
        worst <= 1,
        "{what}: pixel {at} differs by {worst} grey levels"
    );
}

const READ_ISO: &str = r#"
import io, json, sys
import numpy as np
import wsq  # NIST's WSQ codec, registered with Pillow
import iso19794
from PIL import Image
# iso19794 0.1.0 predates Pillow 10, where an image's mode became read-only: give its two
# classes the setter they expect (nothing else about the reader changes).
for cls in (iso19794.FIR.FIRImageFile, iso19794.FAC.FACImageFile):
    cls.mode = property(lambda self: self._mode, lambda self, value: setattr(self, "_mode", value))
out = {"fingers": [], "faces": []}
class Fields:
    def __init__(self, h):
        self.h = h
    def __getattr__(self, key):
        return self.h[key] if isinstance(self.h, dict) else getattr(self.h, key)
fir = Image.open(sys.argv[1])
for frame in range(fir.n_frames):
    fir.seek(frame)
    h = Fields(fir._rheaders[frame])
    pixels = np.array(fir.convert("L"))
    # Every pixel as NIST's decoder gives it, for a pixel-by-pixel comparison.
    pixels.astype(np.uint8).tofile(f"{sys.argv[1]}.{frame}.grey")
    out["fingers"].append({"position": h.position, "number": h.number, "ppi": h.horizontal_image_sampling_rate,
        "compression": h.image_compression_algo, "impression": h.impression_type, "size": list(fir.size),
        "sum": int(pixels.astype(np.int64).sum())})
fac = Image.open(sys.argv[2])
fac.load()
h = Fields(fac._rheaders[0])
out["faces"].append({"type": h.face_image_type, "data_type": h.image_data_type, "gender": h.gender,
    "size": list(fac.size), "points": [[p.point_code, p.x, p.y] for p in h.landmark_points], "mode": fac.mode})
# And the other way: iso19794 writes a finger record and a face record. (Its WSQ writing path
# has a typo that makes it fail, so its finger record carries the raw pixels.)
import datetime
sample = Image.open(sys.argv[3]).convert("L")
sample.header = dict(capture_datetime=datetime.datetime(2026, 11, 25, 10, 0, 0), position="LEFT_INDEX_FINGER",
    number=1, scale_units="PPI", image_compression_algo="RAW", impression_type="LIVESCAN_PLAIN")
sample.save(sys.argv[4], "FIR")
photo = Image.open(sys.argv[5]).convert("RGB")
photo.header = dict(gender="F", face_image_type="TOKEN_FRONTAL", image_data_type="JPEG")
photo.save(sys.argv[6], "FAC", version="010")
print(json.dumps(out))
"#;

#[test]
fn iso_records_are_read_by_iso19794_and_theirs_by_us() {
    let dir = tempfile::tempdir().unwrap();
    let enrolment = sajili::fixtures::compact_enrolment(3, None);
    let (fingers, face) = export::iso_records(&enrolment, 1_800_000_000).unwrap();
    let (fir, fac) = (dir.path().join("ours.fir"), dir.path().join("ours.fac"));
    std::fs::write(&fir, &fingers).unwrap();
    std::fs::write(&fac, &face).unwrap();
    // Our reader gives back what we wrote.
    let views = iso19794::read_finger_record(&fingers).unwrap();
    assert_eq!(views.len(), 10);
    let faces = iso19794::read_face_record(&face).unwrap();
    assert_eq!(faces.len(), 1);

    let sample_png = dir.path().join("sample.png");
    let synthetic = sajili::biometrics::synth::SyntheticFinger::new(8, 256, 288);
    let grey = sajili::biometrics::grey::Grey::new(256, 288, synthetic.impression(0)).unwrap();
    std::fs::write(&sample_png, grey.to_png().unwrap()).unwrap();
    let photo = dir.path().join("photo.jpg");
    std::fs::write(&photo, &enrolment.photo.data).unwrap();
    let (their_fir, their_fac) = (dir.path().join("theirs.fir"), dir.path().join("theirs.fac"));
    let args: Vec<&OsStr> = [&fir, &fac, &sample_png, &their_fir, &photo, &their_fac]
        .iter()
        .map(|p| p.as_os_str())
        .collect();
    let parsed: serde_json::Value =
        serde_json::from_str(run_python(READ_ISO, &args).trim()).unwrap();
    println!("{parsed}");

    let names = [
        "RIGHT_THUMB",
        "RIGHT_INDEX_FINGER",
        "RIGHT_MIDDLE_FINGER",
        "RIGHT_RING_FINGER",
        "RIGHT_LITTLE_FINGER",
        "LEFT_THUMB",
        "LEFT_INDEX_FINGER",
        "LEFT_MIDDLE_FINGER",
        "LEFT_RING_FINGER",
        "LEFT_LITTLE_FINGER",
    ];
    let read = parsed["fingers"].as_array().unwrap();
    assert_eq!(
        read.len(),
        10,
        "iso19794 read {} fingers, not ten",
        read.len()
    );
    for (i, finger) in read.iter().enumerate() {
        assert_eq!(finger["position"], names[i]);
        assert_eq!(finger["number"], 1);
        assert_eq!(finger["ppi"], 500);
        assert_eq!(finger["compression"], "WSQ");
        assert_eq!(finger["impression"], "LIVESCAN_PLAIN");
        assert_eq!(finger["size"], serde_json::json!([256, 288]));
        // NIST's decoder sees the picture ours sees (to a grey level per pixel).
        let ours = wsq::decode(&views[i].data).unwrap().picture;
        let theirs = dir.path().join(format!("ours.fir.{i}.grey"));
        assert_same_pixels(ours.pixels(), &theirs, names[i]);
    }
    let face = &parsed["faces"][0];
    assert_eq!(face["type"], "TOKEN_FRONTAL");
    assert_eq!(face["data_type"], "JPEG");
    assert_eq!(face["gender"], "F");
    assert_eq!(face["size"], serde_json::json!([240, 320]));
    assert_eq!(
        face["points"],
        serde_json::json!([[0xC1, 150, 144], [0xC2, 90, 144]])
    );

    // Theirs, read by ours.
    let theirs = iso19794::read_finger_record(&std::fs::read(&their_fir).unwrap()).unwrap();
    assert_eq!(theirs.len(), 1);
    assert_eq!(
        (theirs[0].position, theirs[0].width, theirs[0].height),
        (7, 256, 288)
    );
    assert_eq!(theirs[0].compression, 0, "raw");
    assert_eq!(theirs[0].data, grey.pixels());
    let their_face = iso19794::read_face_record(&std::fs::read(&their_fac).unwrap()).unwrap();
    assert_eq!((their_face[0].width, their_face[0].height), (240, 320));
    assert_eq!(
        (their_face[0].gender, their_face[0].image_type),
        (2, iso19794::FACE_TOKEN_FRONTAL)
    );
    assert!(their_face[0].data.starts_with(&[0xFF, 0xD8]));
}

const READ_NIST: &str = r#"
import io, json, sys
import numpy as np
import nistitl, wsq
from PIL import Image
raw = open(sys.argv[1], "rb").read()
msg = nistitl.Message()
msg.parse(raw)
def text(record, field):
    value = record[field].value
    return value.decode() if isinstance(value, bytes) else str(value)
records = []
for record in msg.iter(1):
    records.append({"type": 1, "fields": {str(n): text(record, n) for n in (2, 4, 5, 7, 8, 9, 11, 12, 14)},
        "cnt": [sf.values for sf in record["CNT"]]})
for record in msg.iter(2):
    records.append({"type": 2, "fields": {str(n): text(record, n) for n in (2, 10, 18, 21, 22, 24)}})
for record in msg.iter(10):
    image = Image.open(io.BytesIO(record[999].value))
    records.append({"type": 10, "fields": {str(n): text(record, n) for n in (2, 3, 4, 5, 6, 7, 11, 12, 20)},
        "image": [image.format, image.size[0], image.size[1]]})
for index, record in enumerate(msg.iter(14)):
    image = Image.open(io.BytesIO(record[999].value))
    np.array(image.convert("L")).astype(np.uint8).tofile(f"{sys.argv[1]}.{index}.grey")
    records.append({"type": 14, "fields": {str(n): text(record, n) for n in (2, 3, 6, 7, 8, 9, 10, 11, 12, 13)},
        "image": [image.format, image.size[0], image.size[1]], "sum": int(np.array(image).astype(np.int64).sum())})
for record in msg.iter(20):
    image = Image.open(io.BytesIO(record[999].value))
    records.append({"type": 20, "fields": {str(n): text(record, n) for n in (2, 3, 4, 5, 6, 7, 8, 11, 12, 13, 14, 15, 21)},
        "image": [image.format, image.size[0], image.size[1]], "bytes": len(record[999].value)})
# Each record's length field is its true length: walk the file by them.
lengths, at = [], 0
while at < len(raw):
    colon = raw.index(b":", at)
    gs = raw.index(b"\x1d", colon)
    length = int(raw[colon + 1:gs])
    assert raw[at + length - 1] == 0x1C, "record does not end with FS where its length says"
    lengths.append(length)
    at += length
print(json.dumps({"records": records, "lengths": lengths, "size": len(raw)}))
"#;

#[test]
fn the_ansi_nist_transaction_is_read_field_by_field_by_nistitl() {
    let dir = tempfile::tempdir().unwrap();
    let mut enrolment = sajili::fixtures::compact_enrolment(4, None);
    // Two fingers missing: no Type-14 for them, and Type-2 says why.
    enrolment.fingerprints[3].capture =
        FingerCapture::Exception(sajili::form::FingerException::Amputated);
    enrolment.fingerprints[8].capture =
        FingerCapture::Exception(sajili::form::FingerException::Injured);
    let transaction = export::ansi_nist(&Transaction {
        enrolment: &enrolment,
        registration_number: "KE-TEST-0001",
        captured_at: 1_800_000_000,
        originating_agency: "dev-ab12",
        destination_agency: "NIIMS",
    })
    .unwrap();
    let path = dir.path().join("enrolment.an2");
    std::fs::write(&path, &transaction).unwrap();
    let parsed: serde_json::Value =
        serde_json::from_str(run_python(READ_NIST, &[path.as_os_str()]).trim()).unwrap();
    let records = parsed["records"].as_array().unwrap();
    println!("{}", serde_json::to_string_pretty(&parsed).unwrap());
    assert_eq!(parsed["lengths"].as_array().unwrap().len(), 1 + 1 + 1 + 8);
    assert_eq!(parsed["size"], transaction.len());

    let t1 = &records[0]["fields"];
    assert_eq!(t1["2"], "0500");
    assert_eq!(t1["4"], "ENR");
    assert_eq!(t1["5"], "20270115");
    assert_eq!(t1["7"], "NIIMS");
    assert_eq!(t1["8"], "dev-ab12");
    assert_eq!(t1["9"], "KE-TEST-0001");
    assert_eq!(t1["11"], "19.69");
    assert_eq!(t1["12"], "19.69");
    assert_eq!(t1["14"], "20270115080000Z");
    let cnt = records[0]["cnt"].as_array().unwrap();
    assert_eq!(cnt[0], serde_json::json!(["1", "10"]));
    assert_eq!(cnt[1], serde_json::json!(["2", "0"]));
    assert_eq!(cnt[2], serde_json::json!(["10", "1"]));
    assert_eq!(cnt[3], serde_json::json!(["14", "2"]));

    let d = &enrolment.demographics;
    let t2 = &records[1]["fields"];
    assert_eq!(t2["10"], "KE-TEST-0001");
    let mut name = format!("{},{}", d.names.surname, d.names.first_name);
    if let Some(other) = &d.names.other_names {
        name = format!("{name} {other}");
    }
    assert_eq!(t2["18"], name.as_str());
    assert_eq!(t2["21"], "KEN");
    let dob = d.date_of_birth;
    assert_eq!(
        t2["22"],
        format!(
            "{:04}{:02}{:02}",
            dob.year(),
            u8::from(dob.month()),
            dob.day()
        )
        .as_str()
    );

    let t10 = &records[2];
    assert_eq!(t10["fields"]["3"], "FACE");
    assert_eq!(t10["fields"]["11"], "JPEGB");
    assert_eq!(t10["fields"]["20"], "F");
    assert_eq!(t10["image"], serde_json::json!(["JPEG", 240, 320]));

    let prints: Vec<&serde_json::Value> = records.iter().filter(|r| r["type"] == 14).collect();
    assert_eq!(prints.len(), 8);
    let captured: Vec<_> = enrolment
        .fingerprints
        .iter()
        .filter_map(|f| match &f.capture {
            FingerCapture::Image(image) => Some((f.position as u8, image)),
            FingerCapture::Exception(_) => None,
        })
        .collect();
    assert_eq!(captured.len(), 8);
    for (index, (record, (position, image))) in prints.iter().zip(&captured).enumerate() {
        let f = &record["fields"];
        assert_eq!(f["13"], position.to_string().as_str());
        assert_eq!(f["11"], "WSQ20");
        assert_eq!(f["6"], "256");
        assert_eq!(f["7"], "288");
        assert_eq!(f["9"], "500");
        assert_eq!(record["image"][0], "WSQ");
        let ours = wsq::decode(&image.data).unwrap().picture;
        let theirs = dir.path().join(format!("enrolment.an2.{index}.grey"));
        assert_same_pixels(ours.pixels(), &theirs, &format!("Type-14 {position}"));
    }
}

#[test]
fn the_documents_photo_is_a_type_20_record_read_by_nistitl() {
    let dir = tempfile::tempdir().unwrap();
    let mut enrolment = sajili::fixtures::compact_enrolment(5, None);
    let document = sajili::fixtures::document_photo(5);
    enrolment.document_photo = Some(document.clone());
    let transaction = export::ansi_nist(&Transaction {
        enrolment: &enrolment,
        registration_number: "KE-TEST-0002",
        captured_at: 1_800_000_000,
        originating_agency: "dev-ab12",
        destination_agency: "NIIMS",
    })
    .unwrap();
    let path = dir.path().join("enrolment.an2");
    std::fs::write(&path, &transaction).unwrap();
    let parsed: serde_json::Value =
        serde_json::from_str(run_python(READ_NIST, &[path.as_os_str()]).trim()).unwrap();
    let records = parsed["records"].as_array().unwrap();
    // Type-1, Type-2, Type-10, ten Type-14s and the Type-20 last.
    assert_eq!(
        parsed["lengths"].as_array().unwrap().len(),
        1 + 1 + 1 + 10 + 1
    );
    assert_eq!(parsed["size"], transaction.len());
    let cnt = records[0]["cnt"].as_array().unwrap();
    assert_eq!(cnt[0], serde_json::json!(["1", "13"]));
    assert_eq!(cnt[13], serde_json::json!(["20", "12"]));
    let t20: Vec<&serde_json::Value> = records.iter().filter(|r| r["type"] == 20).collect();
    assert_eq!(t20.len(), 1);
    let f = &t20[0]["fields"];
    assert_eq!(f["2"], "12");
    assert_eq!(f["3"], "S");
    assert_eq!(f["4"], "dev-ab12");
    assert_eq!(f["5"], "20270115");
    assert_eq!(f["6"], document.width.to_string().as_str());
    assert_eq!(f["7"], document.height.to_string().as_str());
    assert_eq!(f["11"], "JPEGB");
    assert_eq!(f["12"], "24");
    assert_eq!(f["13"], "YCC");
    assert_eq!(f["14"], export::DOCUMENT_ACQUISITION_SOURCE);
    // One subfield of two information items: the file type and how to decode it.
    assert_eq!(f["15"], "[['JPG', 'JPEG baseline, JFIF']]");
    assert_eq!(f["21"], "1");
    assert_eq!(
        t20[0]["image"],
        serde_json::json!(["JPEG", document.width, document.height])
    );
    assert_eq!(t20[0]["bytes"], document.data.len());
    // Without a document photo, no Type-20.
    enrolment.document_photo = None;
    let without = export::ansi_nist(&Transaction {
        enrolment: &enrolment,
        registration_number: "KE-TEST-0002",
        captured_at: 1_800_000_000,
        originating_agency: "dev-ab12",
        destination_agency: "NIIMS",
    })
    .unwrap();
    assert!(!without.windows(7).any(|w| w == b"20.001:"));
}

#[test]
fn a_synced_record_with_wsq_prints_is_exported_by_the_registry() {
    use sajili_tests::registry::{RegistryProcess, SyncDevice, write_enrolments};
    let registry = RegistryProcess::start();
    let device = SyncDevice::provisioned(&registry, &registry.url());
    let dir = device.dir.path().join("in");
    let (files, surnames) = write_enrolments(&dir, 1);
    // The kiosk seals WSQ prints: give the enrolment WSQ files instead of PNGs.
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
    let mut sealed_prints = Vec::new();
    for (i, finger) in json["fingerprints"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .enumerate()
    {
        if finger["image"].is_string() {
            let synthetic =
                sajili::biometrics::synth::SyntheticFinger::new(30 + i as u64, 256, 288);
            let grey =
                sajili::biometrics::grey::Grey::new(256, 288, synthetic.impression(0)).unwrap();
            let file = wsq::encode(&grey, wsq::DEFAULT_BITRATE, 500).unwrap();
            let name = format!("print-{i}.wsq");
            std::fs::write(dir.join(&name), &file).unwrap();
            finger["image"] = name.into();
            sealed_prints.push(file);
        }
    }
    std::fs::write(&files[0], serde_json::to_string(&json).unwrap()).unwrap();
    let numbers = device.enrol(&files);
    let synced = device.run(&["uplink", "--once"]);
    assert!(
        synced.status.success(),
        "{}",
        String::from_utf8_lossy(&synced.stderr)
    );

    let (an2, iso) = (dir.join("record.an2"), dir.join("iso"));
    let output = registry.run(&[
        "show",
        "--device",
        &device.id,
        "--seq",
        "1",
        "--ansi-nist",
        an2.to_str().unwrap(),
        "--iso",
        iso.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let parsed: serde_json::Value =
        serde_json::from_str(run_python(READ_NIST, &[an2.as_os_str()]).trim()).unwrap();
    let records = parsed["records"].as_array().unwrap();
    assert_eq!(records[0]["fields"]["9"], numbers[0].as_str());
    assert!(
        records[1]["fields"]["18"]
            .as_str()
            .unwrap()
            .starts_with(&surnames[0])
    );
    let prints: Vec<_> = records.iter().filter(|r| r["type"] == 14).collect();
    assert_eq!(prints.len(), sealed_prints.len());
    // The prints travel as sealed: the WSQ bytes in the ISO record are the enrolled ones.
    let views =
        iso19794::read_finger_record(&std::fs::read(iso.join("fingers.fir")).unwrap()).unwrap();
    let kept: Vec<&Vec<u8>> = views.iter().map(|v| &v.data).collect();
    assert_eq!(kept, sealed_prints.iter().collect::<Vec<_>>());
    assert_eq!(
        iso19794::read_face_record(&std::fs::read(iso.join("face.fac")).unwrap())
            .unwrap()
            .len(),
        1
    );
}
