//! The documented example (docs/examples) is current and seals as documented.
//! `SAJILI_BLESS=1 cargo test -p sajili-tests --test docs_example` rewrites it.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use sajili_tests::{TestDevice, stderr, stdout, workspace_root, write_example};

#[test]
fn the_documented_example_is_what_the_fixtures_make() {
    let docs = workspace_root().join("docs/examples");
    if std::env::var_os("SAJILI_BLESS").is_some() {
        write_example(&docs);
    }
    let fresh = tempfile::tempdir().unwrap();
    write_example(fresh.path());
    let mut names: Vec<_> = std::fs::read_dir(fresh.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert_eq!(names.len(), 11, "{names:?}");
    for name in names {
        let committed = std::fs::read(docs.join(&name))
            .unwrap_or_else(|e| panic!("docs/examples/{name:?}: {e} (run with SAJILI_BLESS=1)"));
        let made = std::fs::read(fresh.path().join(&name)).unwrap();
        assert!(
            committed == made,
            "docs/examples/{name:?} is stale: run with SAJILI_BLESS=1"
        );
    }
}

#[test]
fn the_documented_example_seals_and_verifies() {
    let device = TestDevice::init();
    let json = workspace_root().join("docs/examples/enrolment.json");
    let output = device.run(&["enrol", "--json", json.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let number = stdout(&output);
    assert!(
        sajili::record::RegistrationNumber::parse(number.trim()).is_ok(),
        "{number}"
    );
    assert!(device.run(&["verify"]).status.success());
}
