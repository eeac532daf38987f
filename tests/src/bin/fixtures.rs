//! Writes test fixtures for people and scripts: `fixtures bundle FILE` writes a throwaway
//! registry trust bundle (keys not kept: records sealed to it cannot be opened, which is what a
//! demo wants); `fixtures example DIR` writes the documented example enrolment and its images;
//! `fixtures seeds DIR` writes the fuzz targets' seed corpora (DIR/TARGET/seed-*).
#![allow(clippy::expect_used)]

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["bundle", file] => {
            let registry = sajili_tests::TestRegistry::new();
            std::fs::write(file, &registry.bundle_json).expect("write bundle");
            ExitCode::SUCCESS
        }
        ["example", dir] => {
            let path = sajili_tests::write_example(&PathBuf::from(dir));
            println!("{}", path.display());
            ExitCode::SUCCESS
        }
        ["seeds", dir] => {
            sajili_tests::write_fuzz_seeds(&PathBuf::from(dir));
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("usage: fixtures bundle FILE | fixtures example DIR | fixtures seeds DIR");
            ExitCode::from(2)
        }
    }
}
