//! Writes the training part of the quality set (`sajili_tests::quality_set`), the only prints
//! `scripts/fit-quality` may fit the quality score on: each as a PNG, and one JSON line per
//! print with its name, kind, strength and our quality features.
//!
//! `cargo run -p sajili-tests --example quality_training -- DIR`
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::Write;

use sajili::biometrics::quality;
use sajili_tests::quality_set::{Split, quality_set};

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: quality_training DIR");
        std::process::exit(2);
    };
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir).expect("create the directory");
    let mut manifest =
        std::fs::File::create(dir.join("training.jsonl")).expect("create the manifest");
    for print in quality_set(&[Split::Train]) {
        let path = dir.join(format!("{}.png", print.name));
        std::fs::write(&path, print.picture.to_png().expect("PNG")).expect("write the PNG");
        let line = serde_json::json!({
            "name": print.name,
            "path": path,
            "kind": print.spoil.name(),
            "strength": print.strength,
            "features": quality::features(&print.picture),
        });
        writeln!(manifest, "{line}").expect("write the manifest");
    }
}
