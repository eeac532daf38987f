//! The kiosk's screens, driven as a person drives them: each touch finds its button or field
//! by what it says (its accessible label) and presses it, on Slint's testing backend. The
//! fingerprint sensor twin answers the real driver over a pty, byte for byte; the camera twin
//! stands in at the `FrameSource` trait, so the camera driver's decoding and reconnecting run
//! but V4L2's ioctls and mmap streaming do not (no test here reaches them). Each enrolment ends
//! in a sealed record, decrypted here with the registry's key and compared with what was
//! entered.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use i_slint_backend_testing::ElementHandle;
use sajili::clock::SystemClock;
use sajili::device::{self, DataDir};
use sajili::form::{
    Citizenship, ConsentGiver, DocumentType, FingerException, FingerPosition, Relationship, Sex,
};
use sajili::kiosk::{IDLE_COUNTDOWN_MS, IDLE_WARN_MS, Screen};
use sajili::record::{Enrolment, Envelope, FingerCapture, decode_payload};
use sajili::ui::{self, App, Kiosk, KioskWindow, demo, twins};
use sajili_tests::TestRegistry;
use sajili_tests::driver::{KioskDriver, init_backend};
use slint::{ComponentHandle, Model};

/// One kiosk on a data dir, with its window on the testing backend; every step asserts.
struct Kiosk_(KioskDriver);

impl std::ops::Deref for Kiosk_ {
    type Target = KioskDriver;
    fn deref(&self) -> &KioskDriver {
        &self.0
    }
}

fn open_kiosk(dir: &Path) -> Kiosk_ {
    open_kiosk_with(dir, twins::devices(4).expect("twins"))
}

/// The kiosk on the device in `dir` with these devices.
fn open_kiosk_with(dir: &Path, devices: sajili::ui::devices::Devices) -> Kiosk_ {
    let device = device::open(&DataDir::new(dir.join("device"))).expect("open device");
    Kiosk_(KioskDriver::open(device, devices, 1280, 800).expect("kiosk"))
}

fn new_kiosk(dir: &Path, registry: &TestRegistry) -> Kiosk_ {
    demo::device_with_bundle(dir, &registry.bundle_json).expect("device");
    open_kiosk(dir)
}

impl Kiosk_ {
    /// Presses the button or field labelled `label` (not a plain text saying the same).
    fn press(&self, label: &str) {
        self.0.press(label).unwrap_or_else(|e| panic!("{e:#}"));
    }

    /// Types on the on-screen keyboard, key by key.
    fn type_keys(&self, text: &str) {
        for c in text.chars() {
            match c {
                ' ' => self.press("Space"),
                c => self.press(&c.to_string()),
            }
        }
    }

    /// Touches a field, then types into it. A field the keyboard hides is reached as a
    /// person reaches it: hide the keyboard, then touch the field.
    fn fill(&self, field_label: &str, text: &str) {
        if !self.shows(field_label) {
            self.press(self.tr("Hide keyboard", "Ficha kibodi"));
        }
        self.press(field_label);
        self.type_keys(text);
    }

    /// `en` or `sw`, whichever the screens speak now.
    fn tr<'a>(&self, en: &'a str, sw: &'a str) -> &'a str {
        match self.window.global::<Kiosk>().get_language().as_str() {
            "sw" => sw,
            _ => en,
        }
    }

    fn next(&self, expect: Screen) {
        self.press(self.tr("Next ›", "Endelea ›"));
        let problems = self.app.borrow().session().problems.clone();
        assert_eq!(self.screen(), expect, "problems: {problems:?}");
    }

    /// Lets the devices work until `done`, up to a minute.
    fn wait(&self, what: &str, done: impl Fn(&App) -> bool) {
        self.0.wait(what, done).unwrap_or_else(|e| panic!("{e:#}"));
    }

    fn photo(&self) {
        assert_eq!(self.screen(), Screen::Photo);
        self.wait("the photo to take itself", |app| {
            app.session().draft().photo.is_some()
        });
        let kiosk = self.window.global::<Kiosk>();
        assert!(kiosk.get_photo_taken());
        self.next(Screen::Fingers);
    }

    /// Prints every finger that needs one, pressing "Take print" as often as the kiosk asks.
    fn fingers(&self) {
        assert_eq!(self.screen(), Screen::Fingers);
        let take = self.tr("Take print", "Chukua alama");
        self.0.fingers(take).unwrap_or_else(|e| panic!("{e:#}"));
    }

    /// Records on the hand diagram that `finger` cannot be printed, for `reason`.
    fn cannot_print(&self, finger: &str, reason: &str) {
        self.press(finger);
        self.press("This finger cannot be printed");
        self.press(reason);
    }

    /// Chooses the county of birth from its list (born in Kenya).
    fn born_in(&self, county: &str) {
        self.press_hidden(self.tr("Born in Kenya: county  ▾", "Alizaliwa Kenya: kaunti  ▾"));
        self.press(county);
    }

    /// Presses a button the keyboard may hide, as a person does: hide the keyboard first.
    fn press_hidden(&self, label: &str) {
        if !self.shows(label) {
            self.press(self.tr("Hide keyboard", "Ficha kibodi"));
        }
        self.press(label);
    }

    /// Opens a country list with `opener`, types `typed` to find the country and chooses the
    /// one called `name`: the list holds only what the typing matches.
    fn pick_country(&self, opener: &str, typed: &str, name: &str) {
        self.press_hidden(opener);
        let all = self.window.global::<Kiosk>().get_countries().row_count();
        assert!(all > 240, "the whole list before typing: {all}");
        self.type_keys(typed);
        let found: Vec<String> = self
            .window
            .global::<Kiosk>()
            .get_countries()
            .iter()
            .map(|c| c.label.to_string())
            .collect();
        assert!(
            found.len() < 5 && found.iter().any(|c| c == name),
            "typing {typed:?} found {found:?}"
        );
        self.press(name);
    }

    /// Presses the `n`th (from 0) button labelled `label`: a page with two parents has two
    /// "Mother" buttons, the second parent's second.
    fn press_nth(&self, label: &str, n: usize) {
        let nth = || {
            ElementHandle::find_by_accessible_label(&self.window, label)
                .filter(|e| {
                    e.accessible_role() == Some(i_slint_backend_testing::AccessibleRole::Button)
                        && e.size().width > 0.0
                })
                .nth(n)
        };
        if nth().is_none() {
            self.press(self.tr("Hide keyboard", "Ficha kibodi"));
        }
        let button = nth().unwrap_or_else(|| panic!("no button {label:?} number {n}"));
        button.invoke_accessible_default_action();
        i_slint_backend_testing::mock_elapsed_time(Duration::from_millis(1));
    }

    /// Types a staff number and PIN; `staff_label` is the staff number box's label in the
    /// screen's language.
    fn sign_in(&self, staff_label: &str, staff: &str, pin: &str) {
        assert_eq!(self.screen(), Screen::Login);
        self.press(staff_label);
        self.type_keys(staff);
        self.press("PIN");
        self.type_keys(pin);
    }

    /// Seals from the review and returns the registration number shown.
    fn seal(&self) -> String {
        assert_eq!(self.screen(), Screen::Review);
        self.press("Save my enrolment");
        self.wait("sealing", |app| app.session().screen() == Screen::Done);
        let number = self
            .window
            .global::<Kiosk>()
            .get_registration_number()
            .to_string();
        let shown: Vec<_> =
            ElementHandle::find_by_accessible_label(&self.window, "Your registration number")
                .filter_map(|e| e.accessible_value())
                .collect();
        assert!(shown.iter().any(|v| v == number.as_str()), "{shown:?}");
        number
    }

    /// The sealed record `seq`, decrypted with the registry's key.
    fn record(&self, registry: &TestRegistry, seq: u64) -> (String, Enrolment) {
        let app = self.app.borrow();
        let bytes = app
            .device()
            .store
            .envelope(seq)
            .unwrap()
            .expect("sealed record");
        let envelope = Envelope::from_bytes(&bytes).unwrap();
        let plaintext = age::decrypt(&registry.identity, &envelope.ciphertext).unwrap();
        let payload = decode_payload(&plaintext).unwrap();
        (payload.registration_number, payload.enrolment)
    }
}

/// What an applicant answers on the "about you", "school and work" and "where you live"
/// pages, as the labels they touch and the words they type, in the screens' language.
struct Life<'a> {
    marital: &'a str,
    disability: &'a str,
    education: &'a str,
    work: &'a str,
    ethnic_group: &'a str,
    county: &'a str,
    sub_county: &'a str,
    location: &'a str,
}

impl Kiosk_ {
    /// Answers the three pages from "about you" on; ends on "other numbers".
    fn answer_life(&self, life: &Life<'_>) {
        use sajili::kiosk::Page;
        assert_eq!(self.screen(), Screen::Form(Page::About));
        self.press(life.marital);
        self.press(life.disability);
        self.next(Screen::Form(Page::Work));
        self.press(life.education);
        self.press(life.work);
        self.next(Screen::Form(Page::Residence));
        self.fill(self.tr("Ethnic group", "Kabila"), life.ethnic_group);
        self.press(self.tr("Choose the county  ▾", "Chagua kaunti  ▾"));
        self.press(life.county);
        self.press(self.tr("Choose the sub-county  ▾", "Chagua kaunti ndogo  ▾"));
        self.press(life.sub_county);
        self.fill(self.tr("Location", "Lokesheni"), life.location);
        self.next(Screen::Form(Page::Numbers));
    }
}

/// A date of birth `years` years and a few days before today, as typed: DDMMYYYY.
fn born_years_ago(years: i32) -> (String, time::Date) {
    let today = sajili::clock::kenyan_date(sajili::clock::Clock::now(&SystemClock));
    let near = today.saturating_sub(time::Duration::days(3));
    // 29 February has no twin in most years: the day before it does.
    let date = near
        .replace_year(near.year() - years)
        .or_else(|_| {
            near.replace_day(28)
                .and_then(|d| d.replace_year(near.year() - years))
        })
        .expect("a date of birth");
    (
        format!(
            "{:02}{:02}{:04}",
            date.day(),
            u8::from(date.month()),
            date.year()
        ),
        date,
    )
}

fn assert_biometrics(enrolment: &Enrolment, exceptions: &[(FingerPosition, FingerException)]) {
    assert_eq!(
        enrolment.photo.format,
        sajili::biometrics::ImageFormat::Jpeg
    );
    assert_eq!((enrolment.photo.width, enrolment.photo.height), (240, 320));
    assert_eq!(enrolment.fingerprints.len(), 10);
    for finger in &enrolment.fingerprints {
        match (
            &finger.capture,
            exceptions.iter().find(|(p, _)| *p == finger.position),
        ) {
            (FingerCapture::Exception(reason), Some((_, expected))) => {
                assert_eq!(reason, expected)
            }
            (FingerCapture::Image(image), None) => {
                assert_eq!(image.format, sajili::biometrics::ImageFormat::Wsq);
                sajili::biometrics::wsq::decode(&image.data).expect("a WSQ print");
            }
            (capture, expected) => {
                panic!("{:?}: {capture:?}, expected {expected:?}", finger.position)
            }
        }
    }
}

#[test]
fn an_adult_citizen_enrols_alone_and_the_record_holds_what_was_entered() {
    let dir = tempfile::tempdir().unwrap();
    let registry = TestRegistry::new();
    let k = new_kiosk(dir.path(), &registry);
    assert_eq!(k.screen(), Screen::Language);
    k.press("English");
    assert_eq!(k.screen(), Screen::Consent);
    k.press("I agree");
    k.press("On my own: I will type my details and follow the screen");
    assert_eq!(k.screen(), Screen::Form(sajili::kiosk::Page::Document));

    // Next with nothing filled in stays, with the message next to the field.
    k.press("Next ›");
    assert_eq!(k.screen(), Screen::Form(sajili::kiosk::Page::Document));
    let errors = k.window.global::<Kiosk>().get_fields();
    use slint::Model;
    assert_eq!(
        errors.row_data(2).unwrap().error.as_str(),
        "This is required."
    );
    k.press("Kenyan citizen");
    k.press("National ID card");
    k.fill("Document number", "23456789");
    k.next(Screen::Form(sajili::kiosk::Page::Names));
    k.fill("Surname", "OTIENO");
    k.fill("First name", "JOSEPH");
    k.next(Screen::Form(sajili::kiosk::Page::Birth));
    let (typed, dob) = born_years_ago(41);
    k.fill("Date of birth (day/month/year)", &typed);
    k.press("Male");
    // The place of birth is required: a county for one born in Kenya.
    k.press("Next ›");
    assert_eq!(k.screen(), Screen::Form(sajili::kiosk::Page::Birth));
    let fields = k.window.global::<Kiosk>().get_fields();
    assert_eq!(
        fields
            .row_data(sajili::kiosk::Field::BirthCounty.index())
            .unwrap()
            .error
            .as_str(),
        "This is required."
    );
    k.born_in("Kisumu");
    // Adults skip the guardian page.
    k.next(Screen::Form(sajili::kiosk::Page::About));
    k.answer_life(&Life {
        marital: "Married",
        disability: "None",
        education: "Secondary",
        work: "Self-employed",
        ethnic_group: "LUO",
        county: "Kisumu",
        sub_county: "Nyando",
        location: "AWASI",
    });
    k.fill("KRA PIN (if any)", "A012345678Z");
    k.next(Screen::Photo);
    k.photo();
    k.fingers();
    // Self-service without exceptions needs no supervisor.
    k.next(Screen::Review);
    let number = k.seal();
    // Handed to the uplink at once: the record leaves with the next connection.
    let outbox = dir.path().join("device/spool/outbox");
    assert!(
        outbox.join(format!("{:020}.sje", 1)).is_file(),
        "the sealed record is not in the uplink's outbox"
    );

    let (sealed_number, enrolment) = k.record(&registry, 1);
    assert_eq!(sealed_number, number);
    let d = &enrolment.demographics;
    assert_eq!(d.citizenship, Citizenship::Kenyan);
    assert_eq!(d.document.kind, DocumentType::NationalId);
    assert_eq!(d.document.number, "23456789");
    assert_eq!(
        (d.names.surname.as_str(), d.names.first_name.as_str()),
        ("OTIENO", "JOSEPH")
    );
    assert_eq!(d.names.other_names, None);
    assert_eq!(d.date_of_birth, dob);
    assert_eq!(d.sex, Sex::Male);
    assert_eq!(
        d.place_of_birth,
        Some(sajili::form::PlaceOfBirth {
            county: Some(42),
            country: None
        })
    );
    assert_eq!(d.amendment, None);
    assert!(d.guardians.is_empty());
    assert_eq!(d.marital_status, sajili::form::MaritalStatus::Married);
    assert_eq!(d.disability, sajili::form::Disability::None);
    assert_eq!(d.education, sajili::form::EducationLevel::Secondary);
    assert_eq!(d.employment, sajili::form::EmploymentStatus::SelfEmployed);
    assert_eq!(d.ethnic_group, "LUO");
    assert_eq!(d.residence.county, 42);
    assert_eq!(d.residence.sub_county, "Nyando");
    assert_eq!(d.residence.location, "AWASI");
    assert_eq!(d.kra_pin.as_deref(), Some("A012345678Z"));
    assert_eq!(d.nssf, None);
    assert!(enrolment.consent.given);
    assert_eq!(enrolment.consent.given_by, ConsentGiver::Applicant);
    assert_eq!(enrolment.consent.language, "en");
    assert_eq!(enrolment.staff.operator, "self-service");
    assert_eq!(enrolment.staff.supervisor, None);
    assert_biometrics(&enrolment, &[]);

    // The next person starts afresh, and the journal holds nothing.
    k.press("Finish");
    assert_eq!(k.screen(), Screen::Language);
    let app = k.app.borrow();
    assert!(app.device().store.journal_sessions().unwrap().is_empty());
}

#[test]
fn a_foreign_resident_enrols_with_an_operator_in_kiswahili() {
    let dir = tempfile::tempdir().unwrap();
    let registry = TestRegistry::new();
    let k = new_kiosk(dir.path(), &registry);
    k.press("Kiswahili");
    k.press("Ninakubali");
    k.press("Na mhudumu: mfanyakazi atanisaidia");
    // A wrong PIN is refused and says so.
    k.sign_in("Nambari ya mfanyakazi", demo::OPERATOR.0, "9999");
    k.press("Ingia");
    assert_eq!(k.screen(), Screen::Login);
    assert_eq!(
        k.app.borrow().session().notice.as_deref(),
        Some("login-refused")
    );
    k.type_keys(demo::OPERATOR.1);
    k.press("Ingia");
    assert_eq!(k.screen(), Screen::Form(sajili::kiosk::Page::Document));
    k.press("Mkazi wa kigeni");
    k.press("Kitambulisho cha mgeni");
    k.fill("Nambari ya hati", "7654321");
    // The nationality is chosen from the list, found by typing.
    k.pick_country("Chagua nchi  ▾", "UGA", "Uganda");
    k.press("Endelea ›");
    k.fill("Jina la ukoo", "NAKATO");
    k.fill("Jina la kwanza", "SARAH");
    k.fill("Majina mengine (kama yapo)", "BABIRYE");
    k.press("Endelea ›");
    let (typed, dob) = born_years_ago(29);
    k.fill("Tarehe ya kuzaliwa (siku/mwezi/mwaka)", &typed);
    k.press("Kike");
    k.pick_country("Alizaliwa nje ya Kenya: nchi  ▾", "UGA", "Uganda");
    k.press("Endelea ›");
    k.answer_life(&Life {
        marital: "Sijaoa / sijaolewa",
        disability: "Hakuna",
        education: "Chuo kikuu",
        work: "Nimeajiriwa",
        ethnic_group: "MGANDA",
        county: "Nairobi",
        sub_county: "Westlands",
        location: "PARKLANDS",
    });
    k.press("Endelea ›");
    k.photo();
    k.fingers();
    // Assisted enrolments are approved by a supervisor; an operator cannot approve.
    k.press("Endelea ›");
    assert_eq!(k.screen(), Screen::Login);
    k.sign_in("Nambari ya mfanyakazi", demo::OPERATOR.0, demo::OPERATOR.1);
    k.press("Ingia");
    assert_eq!(k.screen(), Screen::Login);
    k.press("Nambari ya mfanyakazi");
    for _ in 0..demo::OPERATOR.0.len() {
        k.press("⌫ Futa");
    }
    k.sign_in(
        "Nambari ya mfanyakazi",
        demo::SUPERVISOR.0,
        demo::SUPERVISOR.1,
    );
    k.press("Ingia");
    assert_eq!(k.screen(), Screen::Review);
    k.press("Hifadhi usajili wangu");
    k.wait("sealing", |app| app.session().screen() == Screen::Done);

    let (_, enrolment) = k.record(&registry, 1);
    let d = &enrolment.demographics;
    assert_eq!(d.citizenship, Citizenship::Foreigner);
    assert_eq!(d.document.kind, DocumentType::AlienId);
    assert_eq!(d.document.number, "7654321");
    assert_eq!(d.document.nationality.as_deref(), Some("UGA"));
    assert_eq!(
        d.place_of_birth.as_ref().and_then(|p| p.country.as_deref()),
        Some("UGA")
    );
    assert_eq!(d.names.other_names.as_deref(), Some("BABIRYE"));
    assert_eq!(d.date_of_birth, dob);
    assert_eq!(d.residence.county, 47);
    assert_eq!(enrolment.consent.language, "sw");
    assert_eq!(enrolment.staff.operator, demo::OPERATOR.0);
    assert_eq!(
        enrolment.staff.supervisor.as_deref(),
        Some(demo::SUPERVISOR.0)
    );
    assert_biometrics(&enrolment, &[]);
}

#[test]
fn a_seven_year_old_enrols_with_a_guardian_who_consents() {
    let dir = tempfile::tempdir().unwrap();
    let registry = TestRegistry::new();
    let k = new_kiosk(dir.path(), &registry);
    k.press("English");
    k.press("I agree as the parent or guardian of the child");
    k.press("On my own: I will type my details and follow the screen");
    k.press("Kenyan citizen");
    k.press("Birth certificate");
    k.fill("Document number", "100200300");
    k.press("Next ›");
    k.fill("Surname", "MWANGI");
    k.fill("First name", "BRIAN");
    k.press("Next ›");
    let (typed, dob) = born_years_ago(7);
    k.fill("Date of birth (day/month/year)", &typed);
    k.press("Male");
    k.born_in("Nyeri");
    k.next(Screen::Form(sajili::kiosk::Page::Guardian));
    // A child cannot go on without a parent or guardian named.
    k.press("Next ›");
    assert_eq!(k.screen(), Screen::Form(sajili::kiosk::Page::Guardian));
    k.press("Father");
    k.fill("Parent's or guardian's full name", "PETER MWANGI");
    k.fill("ID or registration number (if any)", "11223344");
    k.next(Screen::Form(sajili::kiosk::Page::About));
    k.answer_life(&Life {
        marital: "Never married",
        disability: "None",
        education: "Primary",
        work: "Student",
        ethnic_group: "KIKUYU",
        county: "Nyeri",
        sub_county: "Mathira",
        location: "KARATINA",
    });
    k.next(Screen::Photo);
    k.photo();
    k.fingers();
    k.next(Screen::Review);
    // The kiosk is closed the moment "save" is pressed, before the seal is written: a
    // clean drop, not a kill (the power-cut test below kills a process). What it shows is
    // that the journalled "sealing" screen seals on the next start.
    k.press("Save my enrolment");
    assert_eq!(k.screen(), Screen::Sealing);
    drop(k);
    let k = open_kiosk(dir.path());
    assert_eq!(k.screen(), Screen::Sealing);
    k.wait("sealing after the power came back", |app| {
        app.session().screen() == Screen::Done
    });

    let (_, enrolment) = k.record(&registry, 1);
    let d = &enrolment.demographics;
    assert_eq!(d.date_of_birth, dob);
    assert_eq!(d.guardians.len(), 1);
    assert_eq!(d.guardians[0].relationship, Relationship::Father);
    assert_eq!(d.guardians[0].full_name, "PETER MWANGI");
    assert_eq!(d.guardians[0].id_number.as_deref(), Some("11223344"));
    assert_eq!(enrolment.consent.given_by, ConsentGiver::Guardian);
    assert_eq!(d.residence.county, 19);
    assert_biometrics(&enrolment, &[]);
}

#[test]
fn two_missing_fingers_are_recorded_with_a_reason_and_a_supervisors_sign_off() {
    let dir = tempfile::tempdir().unwrap();
    let registry = TestRegistry::new();
    let k = new_kiosk(dir.path(), &registry);
    k.start_alone_with_a_national_id();
    k.fill("Document number", "30405060");
    k.press("Next ›");
    k.fill("Surname", "CHEBET");
    k.fill("First name", "MERCY");
    k.press("Next ›");
    let (typed, _) = born_years_ago(55);
    k.fill("Date of birth (day/month/year)", &typed);
    k.press("Female");
    k.born_in("Nandi");
    k.next(Screen::Form(sajili::kiosk::Page::About));
    k.answer_life(&Life {
        marital: "Widowed",
        disability: "Physical",
        education: "Primary",
        work: "Retired",
        ethnic_group: "KALENJIN",
        county: "Nandi",
        sub_county: "Aldai",
        location: "KOBUJOI",
    });
    k.next(Screen::Photo);
    k.photo();
    // Right ring: amputated. Left index: missing from birth.
    k.cannot_print("Right ring finger", "Amputated");
    k.cannot_print("Left index finger", "Missing from birth");
    k.press("Right thumb");
    k.fingers();
    // Exceptions need a supervisor, even in self-service.
    k.next(Screen::Login);
    k.sign_in("Staff number", demo::SUPERVISOR.0, demo::SUPERVISOR.1);
    k.press("Sign in");
    assert_eq!(k.screen(), Screen::Review);
    k.seal();

    let (_, enrolment) = k.record(&registry, 1);
    assert_eq!(
        enrolment.staff.supervisor.as_deref(),
        Some(demo::SUPERVISOR.0)
    );
    assert_biometrics(
        &enrolment,
        &[
            (FingerPosition::RightRing, FingerException::Amputated),
            (FingerPosition::LeftIndex, FingerException::Missing),
        ],
    );
}

/// Set in the child process of the power-cut test: where its data dir is.
const POWER_CUT_CHILD: &str = "SAJILI_POWER_CUT_DATA";

#[test]
fn a_power_cut_mid_enrolment_resumes_at_the_same_screen_with_what_was_entered() {
    if let Some(data) = std::env::var_os(POWER_CUT_CHILD) {
        // The child: enrol up to the names page, say so, and wait to be killed.
        let k = open_kiosk(Path::new(&data));
        k.press("Kiswahili");
        k.press("Ninakubali");
        k.press("Peke yangu: nitaandika taarifa zangu na kufuata skrini");
        k.press("Raia wa Kenya");
        k.press("Kitambulisho cha taifa");
        k.fill("Nambari ya hati", "55667788");
        k.press("Endelea ›");
        k.fill("Jina la ukoo", "ODHIAMBO");
        k.fill("Jina la kwanza", "AK");
        println!("AT-NAMES");
        std::thread::sleep(Duration::from_secs(600));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let registry = TestRegistry::new();
    demo::device_with_bundle(dir.path(), &registry.bundle_json).unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "a_power_cut_mid_enrolment_resumes_at_the_same_screen_with_what_was_entered",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(POWER_CUT_CHILD, dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let reached = std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|line| line.contains("AT-NAMES"));
    assert!(reached, "the child kiosk never reached the names page");
    // The power goes: no clean shutdown, no flush.
    child.kill().unwrap();
    child.wait().unwrap();

    let k = open_kiosk(dir.path());
    assert_eq!(k.screen(), Screen::Form(sajili::kiosk::Page::Names));
    let kiosk = k.window.global::<Kiosk>();
    assert_eq!(kiosk.get_language().as_str(), "sw");
    use slint::Model;
    let fields = kiosk.get_fields();
    let value = |field: sajili::kiosk::Field| fields.row_data(field.index()).unwrap().value;
    assert_eq!(value(sajili::kiosk::Field::DocumentNumber), "55667788");
    assert_eq!(value(sajili::kiosk::Field::Surname), "ODHIAMBO");
    assert_eq!(value(sajili::kiosk::Field::FirstName), "AK");
    // And goes on from there, in the same language, typing into the same field.
    k.type_keys("INYI");
    let fields = kiosk.get_fields();
    assert_eq!(
        fields
            .row_data(sajili::kiosk::Field::FirstName.index())
            .unwrap()
            .value,
        "AKINYI"
    );
    k.press("Endelea ›");
    assert_eq!(k.screen(), Screen::Form(sajili::kiosk::Page::Birth));
}

#[test]
fn an_idle_self_service_session_counts_down_then_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let registry = TestRegistry::new();
    let k = new_kiosk(dir.path(), &registry);
    k.start_alone_with_a_national_id();
    k.fill("Document number", "99887766");
    k.press("Next ›");
    k.fill("Surname", "KAMAU");
    {
        let app = k.app.borrow();
        assert_eq!(app.device().store.journal_sessions().unwrap().len(), 1);
    }
    let kiosk = k.window.global::<Kiosk>();
    k.app.borrow_mut().poll_at(0);
    k.app.borrow_mut().poll_at(IDLE_WARN_MS - 1_000);
    assert_eq!(kiosk.get_countdown(), -1, "no countdown before a minute");
    k.app.borrow_mut().poll_at(IDLE_WARN_MS + 1_000);
    assert_eq!(kiosk.get_countdown(), (IDLE_COUNTDOWN_MS / 1000 - 1) as i32);
    let label = format!(
        "Touch the screen: your details will be erased in {} s",
        kiosk.get_countdown()
    );
    assert_eq!(
        ElementHandle::find_by_accessible_label(&k.window, &label).count(),
        1,
        "the countdown is on screen"
    );
    // A touch anywhere keeps the session.
    k.press("Surname");
    k.app.borrow_mut().poll_at(IDLE_WARN_MS + 2_000);
    assert_eq!(kiosk.get_countdown(), -1);
    assert_eq!(k.screen(), Screen::Form(sajili::kiosk::Page::Names));
    // Left alone for the whole minute and a half: wiped.
    k.app
        .borrow_mut()
        .poll_at(2 * IDLE_WARN_MS + IDLE_COUNTDOWN_MS + 3_000);
    assert_eq!(k.screen(), Screen::Language);
    assert_eq!(kiosk.get_language().as_str(), "en");
    use slint::Model;
    let fields = kiosk.get_fields();
    assert!(
        fields.iter().all(|f| f.value.is_empty()),
        "the next person sees nothing of the last"
    );
    let app = k.app.borrow();
    assert!(app.device().store.journal_sessions().unwrap().is_empty());
    let audit = app.device().store.audit_log().unwrap();
    assert!(audit.iter().any(|e| e.action == "session.idle_wipe"));
    // The store file holds no trace of what was typed: drafts are encrypted, and their key
    // was replaced when the journal emptied.
    let store = std::fs::read(dir.path().join("device/kiosk.redb")).unwrap();
    assert!(!store.windows(5).any(|w| w == b"KAMAU"));
}

#[test]
fn a_scanned_document_barcode_fills_the_number_and_says_so() {
    use sajili_drivers::input::{ReplaySource, keymap};
    let dir = tempfile::tempdir().unwrap();
    let registry = TestRegistry::new();
    demo::device_with_bundle(dir.path(), &registry.bundle_json).unwrap();
    let k = open_kiosk_with(dir.path(), sajili::ui::devices::Devices::start(None, None));
    k.start_alone_with_a_national_id();
    // The scanner types the number and Enter, as a keyboard-wedge scanner does.
    k.app
        .borrow()
        .devices()
        .start_scanner(ReplaySource::from_events(keymap::type_line("23456789", 0)));
    k.wait("the scan", |app| app.session().notice.is_some());
    use slint::Model;
    let fields = k.window.global::<Kiosk>().get_fields();
    assert_eq!(
        fields
            .row_data(sajili::kiosk::Field::DocumentNumber.index())
            .unwrap()
            .value,
        "23456789"
    );
    assert_eq!(
        k.app.borrow().session().notice.as_deref(),
        Some("scan-read")
    );
    assert_eq!(
        ElementHandle::find_by_accessible_label(
            &k.window,
            "Document number read from the scanner. Check it."
        )
        .count(),
        1
    );
    k.next(Screen::Form(sajili::kiosk::Page::Names));
}

#[test]
fn an_unplugged_camera_and_sensor_are_explained_and_the_session_survives() {
    use std::sync::atomic::Ordering;
    let dir = tempfile::tempdir().unwrap();
    let registry = TestRegistry::new();
    demo::device_with_bundle(dir.path(), &registry.bundle_json).unwrap();
    let (camera, camera_plug) = twins::camera_with_plug(15).unwrap();
    let (sensor, sensor_plug) = twins::sensor_with_plug(twins::prints(2)).unwrap();
    let devices = sajili::ui::devices::Devices::start(Some(camera), Some(sensor));
    let k = open_kiosk_with(dir.path(), devices);
    k.start_alone_with_a_national_id();
    k.fill("Document number", "12121212");
    k.press("Next ›");
    k.fill("Surname", "WEKESA");
    k.fill("First name", "TOM");
    k.press("Next ›");
    let (typed, _) = born_years_ago(30);
    k.fill("Date of birth (day/month/year)", &typed);
    k.press("Male");
    k.born_in("Bungoma");
    k.next(Screen::Form(sajili::kiosk::Page::About));
    k.answer_life(&Life {
        marital: "Never married",
        disability: "None",
        education: "College",
        work: "Employed",
        ethnic_group: "LUHYA",
        county: "Bungoma",
        sub_county: sajili::form::county(39).unwrap().sub_counties[0],
        location: "KIMILILI",
    });
    camera_plug.store(true, Ordering::SeqCst);
    k.next(Screen::Photo);
    k.wait("the camera fault", |app| {
        app.session().notice.as_deref() == Some("camera-unplugged")
    });
    let said =
        "The camera is not connected. Ask the operator to check its cable. Your details are kept.";
    assert_eq!(
        ElementHandle::find_by_accessible_label(&k.window, said).count(),
        1
    );
    // Plugged back in: the preview comes back and the photo is taken; nothing was lost.
    camera_plug.store(false, Ordering::SeqCst);
    k.photo();
    assert_eq!(
        k.app
            .borrow()
            .session()
            .draft()
            .value(sajili::kiosk::Field::Surname),
        "WEKESA"
    );

    sensor_plug.store(true, Ordering::SeqCst);
    k.press("Take print");
    k.wait("the sensor fault", |app| !app.session().capturing);
    assert_eq!(
        k.app.borrow().session().notice.as_deref(),
        Some("sensor-unplugged")
    );
    let said = "The fingerprint reader is not connected. Ask the operator to check its cable. Your details are kept.";
    assert_eq!(
        ElementHandle::find_by_accessible_label(&k.window, said).count(),
        1
    );
    assert_eq!(
        k.app.borrow().session().draft().fingers[0].attempts,
        0,
        "a fault is not an attempt"
    );
    sensor_plug.store(false, Ordering::SeqCst);
    k.fingers();
    k.next(Screen::Review);
    k.seal();
    let (_, enrolment) = k.record(&registry, 1);
    assert_eq!(enrolment.demographics.names.surname, "WEKESA");
    assert_biometrics(&enrolment, &[]);
}

#[test]
fn the_status_screen_says_how_the_kiosk_is_in_either_language() {
    let dir = tempfile::tempdir().unwrap();
    let registry = TestRegistry::new();
    let k = new_kiosk(dir.path(), &registry);
    let says = |text: &str| ElementHandle::find_by_accessible_label(&k.window, text).count();
    k.press("Staff · Wafanyakazi");
    k.sign_in("Staff number", demo::OPERATOR.0, demo::OPERATOR.1);
    k.press("Sign in");
    assert_eq!(k.screen(), Screen::Status);
    // Nothing has been sent and no device used yet; the id and the free space are data.
    assert_eq!(says("Last confirmation from the registry"), 1);
    assert_eq!(says("▲ Never"), 1);
    assert_eq!(
        says("● Not used yet"),
        3,
        "camera, fingerprint reader and slip printer"
    );
    let status = k.window.global::<Kiosk>().get_status();
    let id = status
        .iter()
        .find(|line| line.key == "device")
        .map(|line| line.detail.to_string())
        .unwrap();
    assert_eq!(id.len(), 8, "the device id: {id}");
    assert_eq!(says(&format!("● {id}")), 1);
    k.press("Kiswahili");
    assert_eq!(k.screen(), Screen::Status);
    assert_eq!(says("▲ Bado haijawahi"), 1);
    assert_eq!(says("● Bado haijatumika"), 3);
    assert_eq!(says("Never") + says("▲ Never") + says("● Not used yet"), 0);
    assert_eq!(says(&format!("● {id}")), 1);
    k.press("Funga");
    assert_eq!(k.screen(), Screen::Language);
}

#[test]
fn a_device_without_keys_says_how_to_set_it_up_in_either_language() {
    init_backend();
    let window = KioskWindow::new().expect("window");
    ui::show_not_set_up(&window);
    window.show().expect("show");
    let shows = |text: &str| {
        ElementHandle::find_by_accessible_label(&window, text)
            .next()
            .is_some()
    };
    assert!(shows(
        "This kiosk is not set up yet, so it cannot enrol anyone."
    ));
    // The language can be chosen; there is nothing else to do here.
    assert!(shows("Kiswahili"));
    assert!(!shows("Next ›") && !shows("Start again"));
    window
        .global::<Kiosk>()
        .invoke_act("language".into(), "sw".into());
    assert!(shows(
        "Mashine hii bado haijawekwa tayari, kwa hiyo haiwezi kumsajili mtu yeyote."
    ));
    window
        .global::<Kiosk>()
        .invoke_act("language".into(), "en".into());
    assert!(shows(
        "This kiosk is not set up yet, so it cannot enrol anyone."
    ));
}

impl Kiosk_ {
    /// An adult Kenyan alone, from the first screen to the photo, in English.
    fn walk_alone_to_photo(&self, document: &str, surname: &str) {
        assert_eq!(self.screen(), Screen::Language);
        self.press("English");
        self.press("I agree");
        self.press("On my own: I will type my details and follow the screen");
        self.fill_adult(document, surname);
    }

    /// An adult Kenyan alone, in English, from the first screen to the document page with
    /// "Kenyan citizen" and "National ID card" chosen.
    fn start_alone_with_a_national_id(&self) {
        self.press("English");
        self.press("I agree");
        self.press("On my own: I will type my details and follow the screen");
        self.press("Kenyan citizen");
        self.press("National ID card");
    }

    /// The form's pages for an adult Kenyan, from the document page to the photo.
    fn fill_adult(&self, document: &str, surname: &str) {
        assert_eq!(self.screen(), Screen::Form(sajili::kiosk::Page::Document));
        self.press("Kenyan citizen");
        self.press("National ID card");
        self.fill("Document number", document);
        self.press("Next ›");
        self.fill_from_names(surname);
    }

    /// The form's pages for an adult Kenyan, from the names page to the photo.
    fn fill_from_names(&self, surname: &str) {
        assert_eq!(self.screen(), Screen::Form(sajili::kiosk::Page::Names));
        self.fill("Surname", surname);
        self.fill("First name", "ANNE");
        self.press("Next ›");
        let (typed, _) = born_years_ago(40);
        self.fill("Date of birth (day/month/year)", &typed);
        self.press("Female");
        self.born_in("Machakos");
        self.next(Screen::Form(sajili::kiosk::Page::About));
        self.answer_life(&Life {
            marital: "Married",
            disability: "None",
            education: "Secondary",
            work: "Self-employed",
            ethnic_group: "KAMBA",
            county: "Machakos",
            sub_county: sajili::form::county(16).unwrap().sub_counties[0],
            location: "MUTITUNI",
        });
        self.next(Screen::Photo);
    }

    /// Asserts the screens and the session hold nothing of anyone: no typed value, photo,
    /// preview, print, review line or number, and an empty journal.
    fn assert_holds_nothing(&self) {
        let kiosk = self.window.global::<Kiosk>();
        let app = self.app.borrow();
        let draft = app.session().draft();
        assert!(draft.values.is_empty(), "{:?}", draft.values.keys());
        assert!(draft.photo.is_none());
        assert!(
            draft
                .fingers
                .iter()
                .all(|f| f.best.is_none() && f.attempts == 0)
        );
        assert!(kiosk.get_fields().iter().all(|f| f.value.is_empty()));
        assert_eq!(kiosk.get_photo().size().width, 0, "no photo on screen");
        assert_eq!(
            kiosk.get_preview().size().width,
            0,
            "no camera frame on screen"
        );
        assert_eq!(kiosk.get_review().row_count(), 0, "no review lines");
        assert_eq!(kiosk.get_registration_number(), "");
        assert_eq!(kiosk.get_qr().size().width, 0, "no QR code");
        // The journal holds no session but this person's own (none before they agree).
        let journal = app.device().store.journal_sessions().unwrap();
        assert!(
            journal.iter().all(|id| *id == app.session().id),
            "another session is still in the journal"
        );
        if !app.session().started() {
            assert!(journal.is_empty());
        }
    }
}

#[test]
fn backing_out_to_the_first_screen_leaves_nothing_for_the_next_person() {
    let dir = tempfile::tempdir().unwrap();
    let registry = TestRegistry::new();
    let k = new_kiosk(dir.path(), &registry);
    k.start_alone_with_a_national_id();
    k.fill("Document number", "31415926");
    k.press("Next ›");
    k.fill("Surname", "NJOROGE");
    assert_eq!(
        k.app
            .borrow()
            .device()
            .store
            .journal_sessions()
            .unwrap()
            .len(),
        1
    );
    // Back, page by page, to the first screen: the last "back" ends the session.
    for _ in 0..4 {
        k.press("‹ Back");
    }
    assert_eq!(k.screen(), Screen::Language);
    k.assert_holds_nothing();
    // The next person agrees and finds an empty form.
    k.press("English");
    k.press("I agree");
    k.press("On my own: I will type my details and follow the screen");
    assert_eq!(k.screen(), Screen::Form(sajili::kiosk::Page::Document));
    k.assert_holds_nothing();
    let audit = k.app.borrow().device().store.audit_log().unwrap();
    assert!(audit.iter().any(|e| e.action == "session.abandoned"));

    // "Start over" from the fingers, with a photo and prints taken: asked, then all gone.
    k.fill_adult("27182818", "MUTUA");
    k.wait("the photo to take itself", |app| {
        app.session().draft().photo.is_some()
    });
    k.next(Screen::Fingers);
    k.press("Take print");
    k.wait("a print", |app| {
        app.session().draft().fingers[0].attempts > 0
    });
    k.press("Start over");
    k.press("No, go on");
    assert_eq!(k.screen(), Screen::Fingers);
    assert!(k.app.borrow().session().draft().photo.is_some(), "kept");
    k.press("Start over");
    k.press("Yes, delete it and start over");
    assert_eq!(k.screen(), Screen::Language);
    k.assert_holds_nothing();
    let audit = k.app.borrow().device().store.audit_log().unwrap();
    assert!(audit.iter().any(|e| e.action == "session.started_over"));
}

#[test]
fn after_a_seal_the_next_persons_screens_show_nothing_of_the_last() {
    let dir = tempfile::tempdir().unwrap();
    let registry = TestRegistry::new();
    let k = new_kiosk(dir.path(), &registry);
    k.walk_alone_to_photo("16180339", "KIPTOO");
    k.photo();
    k.fingers();
    k.next(Screen::Review);
    let number = k.seal();
    assert!(k.window.global::<Kiosk>().get_qr().size().width > 0);
    {
        let app = k.app.borrow();
        let draft = app.session().draft();
        assert!(
            draft.photo.is_none() && draft.values.is_empty(),
            "sealed: the plaintext is gone from memory while the number is shown"
        );
    }
    k.press("Finish");
    assert_eq!(k.screen(), Screen::Language);
    k.assert_holds_nothing();
    // The next person reaches the photo: the preview is empty until their own frame comes.
    k.walk_alone_to_photo("14142135", "ROTICH");
    let kiosk = k.window.global::<Kiosk>();
    assert_eq!(
        kiosk.get_preview().size().width,
        0,
        "a frame of the last person ({number}) is on the photo screen"
    );
    assert!(!kiosk.get_photo_taken());
    k.wait("a frame of this person", |_| {
        kiosk.get_preview().size().width > 0
    });
}

#[test]
fn a_sign_off_covers_what_it_saw_and_the_operator_cannot_give_it() {
    let dir = tempfile::tempdir().unwrap();
    let registry = TestRegistry::new();
    let k = new_kiosk(dir.path(), &registry);
    let second = ("SUP-3003", "303030");
    sajili::staff::add(
        &k.app.borrow().device().store,
        second.0,
        sajili::staff::Role::Supervisor,
        second.1,
    )
    .unwrap();
    // A supervisor operates this session.
    k.press("English");
    k.press("I agree");
    k.press("With an operator: a member of staff will help me");
    k.sign_in("Staff number", demo::SUPERVISOR.0, demo::SUPERVISOR.1);
    k.press("Sign in");
    k.fill_adult("33550336", "WAFULA");
    k.photo();
    k.cannot_print("Right ring finger", "Amputated");
    k.cannot_print("Left index finger", "Injured or bandaged");
    k.press("Right thumb");
    k.fingers();
    k.next(Screen::Login);
    // They cannot approve their own session.
    k.sign_in("Staff number", demo::SUPERVISOR.0, demo::SUPERVISOR.1);
    k.press("Sign in");
    assert_eq!(k.screen(), Screen::Login);
    assert_eq!(
        k.app.borrow().session().notice.as_deref(),
        Some("login-same-person")
    );
    k.press("Staff number");
    for _ in 0..demo::SUPERVISOR.0.len() {
        k.press("⌫ Delete");
    }
    k.sign_in("Staff number", second.0, second.1);
    k.press("Sign in");
    assert_eq!(k.screen(), Screen::Review);
    assert_eq!(
        k.app.borrow().session().draft().supervisor.as_deref(),
        Some(second.0)
    );
    // The photo is retaken after the approval: the approval is gone with it.
    k.press("Change photo");
    assert_eq!(k.screen(), Screen::Photo);
    assert_eq!(k.app.borrow().session().draft().supervisor, None);
    k.photo();
    k.next(Screen::Login);
    k.press("‹ Back");
    assert_eq!(k.screen(), Screen::Fingers);
    k.next(Screen::Login);
    k.sign_in("Staff number", second.0, second.1);
    k.press("Sign in");
    assert_eq!(k.screen(), Screen::Review);
    k.seal();
    let (_, enrolment) = k.record(&registry, 1);
    assert_eq!(enrolment.staff.operator, demo::SUPERVISOR.0);
    assert_eq!(enrolment.staff.supervisor.as_deref(), Some(second.0));
    assert_eq!(
        enrolment.staff.approval.as_deref(),
        Some(enrolment.approval_digest().as_str()),
        "the record carries what was approved"
    );
    let audit = k.app.borrow().device().store.audit_log().unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "staff.signoff_refused" && e.actor == demo::SUPERVISOR.0)
    );
}

#[test]
fn five_wrong_pins_make_the_staff_number_wait_with_the_countdown_on_screen() {
    let dir = tempfile::tempdir().unwrap();
    let registry = TestRegistry::new();
    let k = new_kiosk(dir.path(), &registry);
    k.press("Staff · Wafanyakazi");
    k.sign_in("Staff number", demo::OPERATOR.0, "000000");
    k.press("Sign in");
    for _ in 0..4 {
        k.type_keys("000000");
        k.press("Sign in");
    }
    let wait = k.window.global::<Kiosk>().get_login_wait();
    assert_eq!(wait, 30, "the fifth wrong PIN starts a 30 s wait");
    let said = "Too many wrong PINs for this staff number. Try again in 30 s.";
    assert_eq!(
        ElementHandle::find_by_accessible_label(&k.window, said).count(),
        1,
        "the wait is on screen"
    );
    // The right PIN is not even tried while the number waits.
    k.type_keys(demo::OPERATOR.1);
    k.press("Sign in");
    assert_eq!(k.screen(), Screen::Login);
    let audit = k.app.borrow().device().store.audit_log().unwrap();
    let failures = audit
        .iter()
        .filter(|e| e.action.starts_with("staff.login_") && e.actor == demo::OPERATOR.0)
        .count();
    assert_eq!(failures, 5, "every failure is audited");
    assert!(audit.iter().any(|e| e.action == "staff.login_locked"));
    // Pulling the plug does not reset the wait: the store keeps it, and refuses the right PIN.
    drop(audit);
    drop(k);
    let k = open_kiosk(dir.path());
    k.press("Staff · Wafanyakazi");
    k.sign_in("Staff number", demo::OPERATOR.0, demo::OPERATOR.1);
    k.press("Sign in");
    assert_eq!(k.screen(), Screen::Login, "the right PIN waits too");
    assert!(k.window.global::<Kiosk>().get_login_wait() > 0);
}

/// Signs `policy` with a policy key of the test's and has the kiosk's store take it, as the
/// hand-off does with a policy from the registry; then lets the kiosk's next hand-off tick
/// (30 s on its clock after the first) read it.
fn take_policy(k: &Kiosk_, policy: &sajili_record::policy::FleetPolicy) {
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let signed = policy.sign(&key).unwrap();
    let mut app = k.app.borrow_mut();
    // The first tick hands off at once; the policy arrives after it.
    app.poll_at(0);
    sajili::fleet::take(
        &app.device().store,
        &signed,
        Some(&key.verifying_key()),
        sajili::clock::Clock::now(&SystemClock),
    )
    .unwrap();
    assert_eq!(app.policy(), None, "read only at the next hand-off");
    app.poll_at(30_000);
    assert_eq!(app.policy(), Some(policy));
}

impl Kiosk_ {
    /// Signs in to the staff screen from the first screen, in English.
    fn open_staff_screen(&self, who: (&str, &str)) {
        self.press("Staff · Wafanyakazi");
        self.sign_in("Staff number", who.0, who.1);
        self.press("Sign in");
        assert_eq!(self.screen(), Screen::Status);
    }

    /// How many texts (or buttons) on screen say exactly `text`.
    fn says(&self, text: &str) -> usize {
        ElementHandle::find_by_accessible_label(&self.window, text).count()
    }

    /// An assisted enrolment of an adult Kenyan by `operator`, signed off by the demo's
    /// supervisor, from the first screen to the next person's.
    fn enrol_assisted(&self, operator: (&str, &str), document: &str, surname: &str) -> String {
        self.press("English");
        self.press("I agree");
        self.press("With an operator: a member of staff will help me");
        self.sign_in("Staff number", operator.0, operator.1);
        self.press("Sign in");
        self.fill_adult(document, surname);
        self.photo();
        self.fingers();
        self.next(Screen::Login);
        self.sign_in("Staff number", demo::SUPERVISOR.0, demo::SUPERVISOR.1);
        self.press("Sign in");
        assert_eq!(self.screen(), Screen::Review);
        let number = self.seal();
        self.press("Finish");
        assert_eq!(self.screen(), Screen::Language);
        number
    }
}

#[test]
fn the_staff_screen_names_the_fleet_policy_once_taken_and_a_consent_text_it_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let registry = TestRegistry::new();
    let k = new_kiosk(dir.path(), &registry);
    k.open_staff_screen(demo::OPERATOR);
    assert_eq!(
        k.says("No fleet policy: staff were added on this device"),
        1
    );
    k.press("Close");

    let settings = sajili_record::policy::Settings {
        consent_version: "niims-consent-2027-1".into(),
        ..Default::default()
    };
    let policy = demo::demo_policy(7, settings).unwrap();
    take_policy(&k, &policy);
    // Its staff are the kiosk's now: the demo's operator signs in with the PIN it lists.
    k.open_staff_screen(demo::OPERATOR);
    assert_eq!(
        k.says("Policy version 7 · Kibera Huduma Centre (public office)"),
        1
    );
    assert_eq!(
        k.says("No fleet policy: staff were added on this device"),
        0
    );
    let warning = format!(
        "▲ The policy asks for consent text niims-consent-2027-1, but this kiosk shows {}. \
         Update the device.",
        sajili::kiosk::CONSENT_TEXT_VERSION
    );
    assert_eq!(k.says(&warning), 1);
    k.press("Kiswahili");
    assert_eq!(
        k.says("Sera toleo 7 · Kibera Huduma Centre (ofisi ya umma)"),
        1
    );
}

#[test]
fn the_end_of_day_counts_two_enrolments_by_one_operator_and_their_sign_offs() {
    let dir = tempfile::tempdir().unwrap();
    let registry = TestRegistry::new();
    let k = new_kiosk(dir.path(), &registry);
    // Someone else's sign-ins today that went wrong: a lockout.
    let other = ("OP-3003", "303030");
    sajili::staff::add(
        &k.app.borrow().device().store,
        other.0,
        sajili::staff::Role::Operator,
        other.1,
    )
    .unwrap();
    k.press("Staff · Wafanyakazi");
    k.sign_in("Staff number", other.0, "000000");
    k.press("Sign in");
    for _ in 0..4 {
        k.type_keys("000000");
        k.press("Sign in");
    }
    k.press("‹ Back");
    k.enrol_assisted(demo::OPERATOR, "27182818", "MUTUA");
    k.enrol_assisted(demo::OPERATOR, "31415926", "NJOROGE");

    k.open_staff_screen(demo::OPERATOR);
    k.press("End of day");
    let today = sajili::clock::kenyan_date(sajili::clock::Clock::now(&SystemClock));
    assert_eq!(
        k.says(&format!("Enrolments today ({today}, East Africa Time): 2")),
        1
    );
    let kiosk = k.window.global::<Kiosk>();
    let operators: Vec<(String, String)> = kiosk
        .get_day_operators()
        .iter()
        .map(|line| (line.key.to_string(), line.detail.to_string()))
        .collect();
    assert_eq!(operators, [(demo::OPERATOR.0.to_owned(), "2".to_owned())]);
    assert_eq!(k.says(demo::OPERATOR.0), 1);
    let value = |key: &str| {
        kiosk
            .get_day_exceptions()
            .iter()
            .chain(kiosk.get_day_sync().iter())
            .find(|line| line.key == key)
            .map(|line| line.detail.to_string())
            .unwrap_or_else(|| panic!("no {key} line"))
    };
    assert_eq!(value("signoffs"), "2");
    assert_eq!(value("lockouts"), "1");
    assert_eq!(value("records_refused"), "0");
    // Both records wait for the uplink (no uplink runs here).
    assert!(value("queue").starts_with("2 ("), "{}", value("queue"));
    assert_eq!(k.says("Supervisor sign-offs"), 1);
    assert_eq!(k.says("Waiting to sync"), 1);
    k.press("Kiswahili");
    assert_eq!(
        k.says(&format!(
            "Usajili wa leo ({today}, saa za Afrika Mashariki): 2"
        )),
        1
    );
}

#[test]
fn test_devices_shows_each_check_and_a_sensor_that_does_not_answer() {
    use std::sync::atomic::Ordering;
    let dir = tempfile::tempdir().unwrap();
    let registry = TestRegistry::new();
    demo::device_with_bundle(dir.path(), &registry.bundle_json).unwrap();
    let camera = twins::camera_with_plug(15).unwrap().0;
    let (sensor, sensor_plug) = twins::sensor_with_plug(twins::prints(1)).unwrap();
    let devices =
        sajili::ui::devices::Devices::start(Some(camera), Some(sensor)).without_input_list();
    let k = open_kiosk_with(dir.path(), devices);
    sensor_plug.store(true, Ordering::SeqCst);
    k.open_staff_screen(demo::OPERATOR);
    k.press("Test devices");
    assert_eq!(
        k.says("Testing the camera, the fingerprint reader and the other devices…"),
        1,
        "the test runs off the screen's thread, and says so"
    );
    k.wait("the device test", |app| app.device_checks().is_some());
    let checks = k.app.borrow().device_checks().unwrap().to_vec();
    let kinds: Vec<&str> = checks.iter().map(|c| c.kind).collect();
    assert_eq!(kinds, ["camera", "sensor"]);
    assert!(checks[0].ok, "{:?}", checks[0]);
    assert!(!checks[1].ok, "the sensor is unplugged: {:?}", checks[1]);
    assert_eq!(k.says("Camera"), 1);
    assert_eq!(k.says("Fingerprint reader"), 1);
    assert_eq!(k.says("● Working (640x480 frame read)"), 1);
    assert_eq!(k.says(&format!("▲ Not working ({})", checks[1].detail)), 1);

    // Plugged back in, the next test finds it.
    sensor_plug.store(false, Ordering::SeqCst);
    k.press("Test again");
    k.wait("the device test", |app| app.device_checks().is_some());
    let checks = k.app.borrow().device_checks().unwrap().to_vec();
    assert!(checks.iter().all(|c| c.ok), "{checks:?}");
    let sensor = format!("● Working ({})", checks[1].detail);
    assert!(sensor.contains("answered at 57600 baud"), "{sensor}");
    assert_eq!(k.says(&sensor), 1);
    k.press("Kiswahili");
    assert_eq!(k.says("Kisoma alama za vidole"), 1);
    assert_eq!(k.says("● Inafanya kazi (640x480 frame read)"), 1);
}

#[test]
fn a_withdrawn_kiosk_says_so_in_both_languages_and_starts_no_enrolment() {
    let dir = tempfile::tempdir().unwrap();
    let registry = TestRegistry::new();
    let k = new_kiosk(dir.path(), &registry);
    // Someone is on the document page when the registry's word arrives.
    k.start_alone_with_a_national_id();
    k.fill("Document number", "12121212");
    let session = k.app.borrow().session().id;
    {
        let mut app = k.app.borrow_mut();
        app.poll_at(0);
        sajili::fleet::note_withdrawal(
            &app.device().store,
            &sajili::fleet::Withdrawal {
                learnt_at: sajili::clock::Clock::now(&SystemClock),
                detail: Some("reported stolen".into()),
            },
        )
        .unwrap();
        app.poll_at(30_000);
    }
    assert_eq!(k.screen(), Screen::Withdrawn);
    let shows_withdrawn = |k: &Kiosk_| {
        assert_eq!(
            k.says(
                "This kiosk has been withdrawn from service by the national registry. \
                 It no longer enrols anyone."
            ),
            1
        );
        assert_eq!(
            k.says(
                "Mashine hii imeondolewa kazini na sajili ya kitaifa. Haisajili mtu yeyote tena."
            ),
            1
        );
        assert_eq!(
            k.says(
                "Staff: contact the county registration office and return this device. \
                 Records already saved on it are kept."
            ),
            1
        );
        assert_eq!(k.says("Registry · Sajili: reported stolen"), 1);
    };
    shows_withdrawn(&k);
    // The enrolment under way is kept in the journal as it was, not discarded.
    let store_holds_it = |k: &Kiosk_| {
        let app = k.app.borrow();
        assert_eq!(app.device().store.journal_sessions().unwrap(), [session]);
    };
    store_holds_it(&k);
    let audit = k.app.borrow().device().store.audit_log().unwrap();
    assert!(audit.iter().any(|e| e.action == "session.set_aside"));
    assert!(
        !audit
            .iter()
            .any(|e| e.action.starts_with("session.abandoned"))
    );

    // Nothing on it starts an enrolment: not a touch the screens could send, not a language.
    // Larger text stays offered: the notice is for anyone to read.
    let mut in_sight = k.in_sight();
    in_sight.sort();
    assert_eq!(
        in_sight,
        [
            "English",
            "Kiswahili",
            "Staff · Wafanyakazi",
            "Text size and contrast"
        ]
    );
    let kiosk = k.window.global::<Kiosk>();
    for (name, value) in [
        ("agree", "applicant"),
        ("mode", "self_service"),
        ("next", ""),
        ("language", "sw"),
        ("back", ""),
    ] {
        kiosk.invoke_act(name.into(), value.into());
        assert_eq!(k.screen(), Screen::Withdrawn, "after {name}");
    }
    assert_eq!(
        k.says("Sajili · Imeondolewa kazini"),
        1,
        "the title follows the language"
    );
    k.press("English");

    // Staff still sign in to the staff screen, and closing it comes back here.
    k.open_staff_screen(demo::SUPERVISOR);
    k.press("Close");
    assert_eq!(k.screen(), Screen::Withdrawn);
    // Idle, it stays as it is: no countdown, no wipe.
    k.app.borrow_mut().poll_at(40 * 60_000);
    assert_eq!(k.screen(), Screen::Withdrawn);
    assert_eq!(kiosk.get_countdown(), -1);

    // After a restart it is still withdrawn, and the journal entry is still there.
    drop(kiosk);
    drop(k);
    let k = open_kiosk(dir.path());
    assert_eq!(k.screen(), Screen::Withdrawn);
    shows_withdrawn(&k);
    store_holds_it(&k);
}

#[test]
fn a_policy_offering_kiswahili_alone_offers_no_english() {
    let dir = tempfile::tempdir().unwrap();
    let registry = TestRegistry::new();
    let k = new_kiosk(dir.path(), &registry);
    assert!(k.shows("English") && k.shows("Kiswahili"));
    let settings = sajili_record::policy::Settings {
        languages: vec!["sw".into()],
        ..Default::default()
    };
    take_policy(&k, &demo::demo_policy(2, settings).unwrap());
    assert_eq!(k.screen(), Screen::Language);
    assert_eq!(k.window.global::<Kiosk>().get_language(), "sw");
    assert!(k.shows("Kiswahili"));
    assert!(!k.shows("English"), "in sight: {:?}", k.in_sight());
    // Nor does a touch asking for English get it.
    k.window
        .global::<Kiosk>()
        .invoke_act("language".into(), "en".into());
    assert_eq!(k.screen(), Screen::Language);
    k.press("Kiswahili");
    assert_eq!(k.screen(), Screen::Consent);
    assert!(k.shows("Ninakubali"));
    assert!(!k.shows("English") && !k.shows("Kiswahili"), "no switch");
    // The next person starts in Kiswahili too.
    k.press("Sikubali");
    k.press("Anza upya");
    assert_eq!(k.screen(), Screen::Language);
    assert_eq!(k.window.global::<Kiosk>().get_language(), "sw");
}

#[test]
fn larger_text_and_high_contrast_are_one_persons_and_end_with_their_session() {
    let dir = tempfile::tempdir().unwrap();
    let registry = TestRegistry::new();
    let k = new_kiosk(dir.path(), &registry);
    let theme = k.window.global::<ui::Theme>();
    let usual = (theme.get_text(), theme.get_ink(), theme.get_touch());
    // From the first screen, before anything is read: the "Aa" button in the top bar.
    k.press("Text size and contrast");
    k.press("Larger text");
    k.press("High contrast");
    k.press("Done");
    assert!(!k.shows("Larger text"), "the settings closed");
    assert_eq!(theme.get_text(), usual.0 * 1.25);
    assert_eq!(theme.get_ink(), slint::Color::from_rgb_u8(0, 0, 0));
    assert!(theme.get_touch() > usual.2, "buttons grow with the text");
    // They stay on through the session's screens, in the other language too.
    k.press("Kiswahili");
    k.press("Ninakubali");
    assert_eq!(theme.get_text(), usual.0 * 1.25);
    // Switched off again from any screen, and on again.
    k.press("Ukubwa wa herufi na rangi");
    k.press("Herufi kubwa zaidi");
    k.press("Tayari");
    assert_eq!(theme.get_text(), usual.0);
    assert_eq!(theme.get_ink(), slint::Color::from_rgb_u8(0, 0, 0));
    k.press("Ukubwa wa herufi na rangi");
    k.press("Herufi kubwa zaidi");
    k.press("Tayari");
    // The person leaves: the next one finds the usual display.
    k.press("Anza upya");
    k.press("Ndiyo, kifute na uanze upya");
    assert_eq!(k.screen(), Screen::Language);
    assert_eq!(
        (theme.get_text(), theme.get_ink(), theme.get_touch()),
        usual
    );
}

/// A registration number as a parent would carry it (another device's, seq `seq`).
fn someones_registration_number(seq: u64) -> String {
    sajili::record::RegistrationNumber {
        device: sajili::record::DeviceId::from_digest(&[0x5A; 32]),
        seq,
    }
    .to_string()
}

/// `number` with its check symbol replaced: one mistyped symbol.
fn mistyped(number: &str) -> String {
    let mut text = number.to_owned();
    let last = text.pop().unwrap();
    text.push(if last == '7' { '8' } else { '7' });
    text
}

impl Kiosk_ {
    /// The message next to `field`, as shown.
    fn error_of(&self, field: sajili::kiosk::Field) -> String {
        self.window
            .global::<Kiosk>()
            .get_fields()
            .row_data(field.index())
            .unwrap()
            .error
            .to_string()
    }

    /// Deletes the last `count` characters of the field being typed into.
    fn delete(&self, count: usize) {
        for _ in 0..count {
            self.press(self.tr("⌫ Delete", "⌫ Futa"));
        }
    }
}

#[test]
fn a_child_enrols_with_both_parents_and_a_mistyped_registration_number_is_caught() {
    use sajili::kiosk::{Field, Page};
    use sajili_tests::registry::{RegistryProcess, SyncDevice};
    let registry = RegistryProcess::start();
    let device = SyncDevice::provisioned(&registry, &registry.url());
    let k = open_kiosk(device.dir.path());
    k.press("English");
    k.press("I agree as the parent or guardian of the child");
    k.press("On my own: I will type my details and follow the screen");
    k.press("Kenyan citizen");
    k.press("Birth certificate");
    k.fill("Document number", "200300400");
    k.next(Screen::Form(Page::Names));
    k.fill("Surname", "ODHIAMBO");
    k.fill("First name", "ALICE");
    k.next(Screen::Form(Page::Birth));
    let (typed, dob) = born_years_ago(10);
    k.fill("Date of birth (day/month/year)", &typed);
    k.press("Female");
    k.born_in("Kisumu");
    k.next(Screen::Form(Page::Guardian));
    // The mother with her national ID, the father with his registration number.
    k.press_nth("Mother", 0);
    k.fill("Parent's or guardian's full name", "GRACE ATIENO");
    k.fill("ID or registration number (if any)", "22334455");
    k.press_nth("Father", 1);
    k.fill("Second parent's or guardian's full name", "PETER ODHIAMBO");
    let father = someones_registration_number(77);
    k.fill(
        "Their ID or registration number (if any)",
        &mistyped(&father),
    );
    k.press("Next ›");
    assert_eq!(k.screen(), Screen::Form(Page::Guardian));
    assert_eq!(
        k.error_of(Field::Guardian2Id),
        "This registration number does not check out: a letter or digit is mistyped."
    );
    k.delete(1);
    k.type_keys(&father[father.len() - 1..]);
    k.next(Screen::Form(Page::About));
    k.answer_life(&Life {
        marital: "Never married",
        disability: "None",
        education: "Primary",
        work: "Student",
        ethnic_group: "LUO",
        county: "Kisumu",
        sub_county: "Nyando",
        location: "AWASI",
    });
    k.next(Screen::Photo);
    k.photo();
    k.fingers();
    k.next(Screen::Review);
    let number = k.seal();

    // Synced, and read back at the registry as its back office sees it.
    let shown = synced_and_shown(&registry, &device);
    assert_eq!(shown["registration_number"], number.as_str());
    let d: sajili::form::Demographics =
        serde_json::from_value(shown["enrolment"]["demographics"].clone())
            .expect("the registry's demographics");
    let d = &d;
    assert_eq!(d.date_of_birth, dob);
    assert_eq!(
        d.guardians,
        [
            sajili::form::Guardian {
                relationship: Relationship::Mother,
                full_name: "GRACE ATIENO".into(),
                id_number: Some("22334455".into()),
                registration_number: None,
            },
            sajili::form::Guardian {
                relationship: Relationship::Father,
                full_name: "PETER ODHIAMBO".into(),
                id_number: None,
                registration_number: Some(father),
            },
        ]
    );
    assert_eq!(d.place_of_birth.as_ref().and_then(|p| p.county), Some(42));
    assert_eq!(shown["enrolment"]["consent"]["given_by"], "guardian");
}

/// Sends what `device` sealed to `registry`, has the back office process it, and returns
/// the one record `show` gives for the device; nothing in it is flagged.
fn synced_and_shown(
    registry: &sajili_tests::registry::RegistryProcess,
    device: &sajili_tests::registry::SyncDevice,
) -> serde_json::Value {
    let output = device.run(&["uplink", "--once"]);
    assert!(
        output.status.success(),
        "uplink: {}",
        sajili_tests::stderr(&output)
    );
    registry.process();
    let mut shown = registry.show(&device.id);
    assert_eq!(shown.len(), 1, "{shown:?}");
    let record = shown.remove(0);
    assert_eq!(record["flags"], serde_json::json!([]), "{record}");
    record
}

#[test]
fn a_refugee_enrols_with_a_unhcr_document_and_a_nationality_picked_from_the_list() {
    use sajili::kiosk::{Field, Page};
    use sajili_tests::registry::{RegistryProcess, SyncDevice};
    let registry = RegistryProcess::start();
    let device = SyncDevice::provisioned(&registry, &registry.url());
    let k = open_kiosk(device.dir.path());
    k.press("English");
    k.press("I agree");
    k.press("On my own: I will type my details and follow the screen");
    k.press("Foreign resident");
    k.press("UNHCR proof of registration or asylum-seeker pass");
    // The UNHCR number has its office, a hyphen, then the individual number.
    k.fill("Document number", "KAK18C01234");
    // No box takes a nationality typed in: it is chosen from the list.
    assert!(!k.shows("Nationality"));
    k.pick_country("Choose the country  ▾", "SOMAL", "Somalia");
    k.press("Next ›");
    assert_eq!(k.screen(), Screen::Form(Page::Document));
    assert_eq!(
        k.error_of(Field::DocumentNumber),
        "This number is not in the right form, e.g. KAK-18C01234."
    );
    k.press("Document number");
    k.delete(11);
    k.type_keys("KAK-18C01234");
    let fields = k.window.global::<Kiosk>().get_fields();
    let nationality = fields.row_data(Field::Nationality.index()).unwrap();
    assert_eq!(
        (nationality.value.as_str(), nationality.shown.as_str()),
        ("SOM", "Somalia (SOM)")
    );
    k.next(Screen::Form(Page::Names));
    k.fill("Surname", "HASSAN");
    k.fill("First name", "AMINA");
    k.next(Screen::Form(Page::Birth));
    let (typed, _) = born_years_ago(31);
    k.fill("Date of birth (day/month/year)", &typed);
    k.press("Female");
    k.pick_country("Born abroad: country  ▾", "SOM", "Somalia");
    k.next(Screen::Form(Page::About));
    k.answer_life(&Life {
        marital: "Married",
        disability: "None",
        education: "Secondary",
        work: "Self-employed",
        ethnic_group: "SOMALI",
        county: "Nairobi",
        sub_county: "Kamukunji",
        location: "EASTLEIGH",
    });
    k.next(Screen::Photo);
    k.photo();
    k.fingers();
    k.next(Screen::Review);
    let number = k.seal();

    let shown = synced_and_shown(&registry, &device);
    assert_eq!(shown["registration_number"], number.as_str());
    let d: sajili::form::Demographics =
        serde_json::from_value(shown["enrolment"]["demographics"].clone())
            .expect("the registry's demographics");
    let d = &d;
    assert_eq!(d.citizenship, Citizenship::Foreigner);
    assert_eq!(d.document.kind, DocumentType::UnhcrDocument);
    assert_eq!(d.document.number, "KAK-18C01234");
    assert_eq!(d.document.nationality.as_deref(), Some("SOM"));
    assert_eq!(
        d.place_of_birth,
        Some(sajili::form::PlaceOfBirth {
            county: None,
            country: Some("SOM".into())
        })
    );
}

#[test]
fn an_amendment_names_its_original_and_the_registry_shows_them_linked() {
    use sajili::kiosk::{Field, Page};
    use sajili_tests::registry::{RegistryProcess, SyncDevice};
    let registry = RegistryProcess::start();
    let device = SyncDevice::provisioned(&registry, &registry.url());
    let k = open_kiosk(device.dir.path());
    // The original: an adult with her national ID.
    k.walk_alone_to_photo("31415926", "ACHIENG");
    k.photo();
    k.fingers();
    k.next(Screen::Review);
    let original = k.seal();
    k.press("Finish");

    // The correction: the same document, the earlier number, what changes and why.
    k.start_alone_with_a_national_id();
    k.fill("Document number", "31415926");
    k.press_hidden("A correction of an earlier one");
    k.next(Screen::Form(Page::Amendment));
    k.fill(
        "Registration number of the earlier enrolment",
        &mistyped(&original),
    );
    k.press_hidden("Names");
    k.press("Next ›");
    assert_eq!(k.screen(), Screen::Form(Page::Amendment));
    assert_eq!(
        k.error_of(Field::Amends),
        "This registration number does not check out: a letter or digit is mistyped."
    );
    assert_eq!(k.error_of(Field::AmendReason), "This is required.");
    k.press("Registration number of the earlier enrolment");
    k.delete(1);
    k.type_keys(&original[original.len() - 1..]);
    k.press_hidden("A mistake in the record");
    k.next(Screen::Form(Page::Names));
    k.fill("Surname", "ACHIENG'");
    k.fill("First name", "ANNE");
    k.next(Screen::Form(Page::Birth));
    let (typed, _) = born_years_ago(40);
    k.fill("Date of birth (day/month/year)", &typed);
    k.press("Female");
    k.born_in("Machakos");
    k.next(Screen::Form(Page::About));
    k.answer_life(&Life {
        marital: "Married",
        disability: "None",
        education: "Secondary",
        work: "Self-employed",
        ethnic_group: "KAMBA",
        county: "Machakos",
        sub_county: sajili::form::county(16).unwrap().sub_counties[0],
        location: "MUTITUNI",
    });
    k.next(Screen::Photo);
    k.photo();
    k.fingers();
    k.next(Screen::Review);
    let amendment = k.seal();

    // To the registry; its back office links the two.
    let output = device.run(&["uplink", "--once"]);
    assert!(
        output.status.success(),
        "uplink: {}",
        sajili_tests::stderr(&output)
    );
    registry.process();
    let shown = registry.show(&device.id);
    assert_eq!(shown.len(), 2, "{shown:?}");
    let (first, second) = (&shown[0], &shown[1]);
    assert_eq!(first["registration_number"], original.as_str());
    assert_eq!(second["registration_number"], amendment.as_str());
    assert_eq!(second["amends"]["registration_number"], original.as_str());
    assert_eq!(second["amends"]["seq"], 1);
    assert_eq!(first["amends"], serde_json::Value::Null);
    assert_eq!(
        first["amended_by"][0]["registration_number"],
        amendment.as_str()
    );
    let said = &second["enrolment"]["demographics"]["amendment"];
    assert_eq!(said["amends"], original.as_str());
    assert_eq!(said["fields"], serde_json::json!(["names"]));
    assert_eq!(said["reason"], "clerical_error");
    // The same document as the record it corrects is no duplicate; nothing else is flagged.
    assert_eq!(second["flags"], serde_json::json!([]), "{second}");
}

// Issue 19: assisted routes by the centre's kind.

/// The prison's official who vouches for its numbers in the tests: staff number and PIN.
const OFFICIAL: (&str, &str) = ("OFF-3001", "246813");

/// A registry serving with a centre of `kind` (`prison`, `hospital`) whose roster holds the
/// demo's operator and supervisor and [`OFFICIAL`], and a device of that centre that has
/// fetched the centre's policy.
fn institution(
    kind: &str,
) -> (
    sajili_tests::registry::RegistryProcess,
    sajili_tests::registry::SyncDevice,
) {
    use sajili_tests::registry::{RegistryProcess, SyncDevice};
    let mut registry = RegistryProcess::init();
    registry.serve();
    let centre = "KBU-KAMITI";
    registry.back_office_ok(
        &["centre", "set", centre, "--name", "Kamiti", "--kind", kind],
        "",
    );
    for ((number, pin), role) in [
        (demo::OPERATOR, "operator"),
        (demo::SUPERVISOR, "supervisor"),
        (OFFICIAL, "operator"),
    ] {
        registry.back_office_ok(
            &[
                "staff", "add", "--number", number, "--role", role, "--centre", centre,
            ],
            &format!("{pin}\n"),
        );
    }
    let token = registry
        .back_office_ok(&["token", "--centre", centre], "")
        .trim()
        .to_string();
    let device = SyncDevice::init(&registry);
    let output = device.provision_with(&registry, &token);
    assert!(
        output.status.success(),
        "provision: {}",
        sajili_tests::stderr(&output)
    );
    let output = device.run(&["uplink", "--once"]);
    assert!(
        output.status.success(),
        "uplink: {}",
        sajili_tests::stderr(&output)
    );
    (registry, device)
}

impl Kiosk_ {
    /// Takes the policy the uplink fetched, as the first hand-off does, and checks its kind;
    /// the policy's version.
    fn runs_centre_of(&self, kind: sajili_record::policy::CentreKind) -> u64 {
        let mut app = self.app.borrow_mut();
        app.poll_at(0);
        let centre = app.policy().and_then(|p| p.centre.clone());
        assert_eq!(centre.map(|c| c.kind), Some(kind));
        app.policy().map_or(0, |p| p.version)
    }

    /// An assisted enrolment in English up to the document page, by the demo's operator.
    fn start_assisted(&self) {
        self.press("English");
        self.press("I agree");
        self.press("With an operator: a member of staff will help me");
        self.sign_in("Staff number", demo::OPERATOR.0, demo::OPERATOR.1);
        self.press("Sign in");
        assert_eq!(self.screen(), Screen::Form(sajili::kiosk::Page::Document));
    }

    /// From the fingers on: the supervisor signs off, the record is sealed.
    fn supervisor_seals(&self) -> String {
        self.next(Screen::Login);
        self.sign_in("Staff number", demo::SUPERVISOR.0, demo::SUPERVISOR.1);
        self.press("Sign in");
        assert_eq!(self.screen(), Screen::Review);
        self.seal()
    }
}

#[test]
fn a_prisoner_whose_document_the_prison_holds_enrols_on_its_number_and_an_officials_sign_off() {
    use sajili_record::policy::CentreKind;
    let (registry, device) = institution("prison");
    let k = open_kiosk(device.dir.path());
    let version = k.runs_centre_of(CentreKind::Prison);
    // The staff screen names the kind of centre, which decides the routes offered.
    k.open_staff_screen(demo::OPERATOR);
    assert_eq!(
        k.says(&format!("Policy version {version} · Kamiti (prison)")),
        1
    );
    k.press("Close");

    k.start_assisted();
    // A prison offers its own number in place of the document, and no hospital's.
    assert_eq!(k.says("Held by the hospital, or none: file number"), 0);
    k.press("Kenyan citizen");
    k.press("Held by the prison, or none: prison number");
    k.fill("Document number", "KAM-2026-0142");
    k.next(Screen::Login);
    // The operator cannot vouch for the number; another member of the roster does.
    k.sign_in("Staff number", demo::OPERATOR.0, demo::OPERATOR.1);
    k.press("Sign in");
    assert_eq!(k.screen(), Screen::Login);
    k.press("Staff number");
    for _ in 0..demo::OPERATOR.0.len() {
        k.press("⌫ Delete");
    }
    k.sign_in("Staff number", OFFICIAL.0, OFFICIAL.1);
    k.press("Sign in");
    k.fill_from_names("KAMAU");
    k.photo();
    k.fingers();
    let number = k.supervisor_seals();
    drop(k);

    // To the registry, whose back office checks the route against the centre and shows it.
    let output = device.run(&["uplink", "--once"]);
    assert!(
        output.status.success(),
        "uplink: {}",
        sajili_tests::stderr(&output)
    );
    registry.process();
    let shown = registry.show(&device.id);
    assert_eq!(shown.len(), 1, "{shown:?}");
    let record = &shown[0];
    assert_eq!(record["registration_number"], number.as_str());
    let enrolment = &record["enrolment"];
    assert_eq!(
        enrolment["demographics"]["document"]["kind"],
        "prison_number"
    );
    assert_eq!(
        enrolment["demographics"]["document"]["number"],
        "KAM-2026-0142"
    );
    assert_eq!(enrolment["staff"]["official"], OFFICIAL.0);
    assert_eq!(enrolment["staff"]["operator"], demo::OPERATOR.0);
    let codes: Vec<&str> = record["flags"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert_eq!(codes, ["document_stand_in"], "{record}");
    let stats = registry.run(&["stats"]);
    let said = sajili_tests::stdout(&stats);
    assert!(
        said.contains("Flags        0 waiting for adjudication"),
        "{said}"
    );
    assert!(
        said.contains(&format!(
            "record 1: prison_number in place of a document, signed off by {}",
            OFFICIAL.0
        )),
        "{said}"
    );
}

#[test]
fn a_finger_in_a_cast_is_recorded_with_the_day_to_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let registry = TestRegistry::new();
    let k = new_kiosk(dir.path(), &registry);
    k.walk_alone_to_photo("40506070", "WAFULA");
    k.photo();
    k.press("Left index finger");
    k.press("This finger cannot be printed");
    k.press("4 weeks");
    let today = sajili::clock::kenyan_date(sajili::clock::Clock::now(&SystemClock));
    let back = today + time::Duration::weeks(4);
    k.press("Left index finger");
    let day = format!(
        "{:02}/{:02}/{}",
        back.day(),
        u8::from(back.month()),
        back.year()
    );
    assert_eq!(k.says("Not printed: Cannot be pressed for now"), 1);
    assert_eq!(
        k.says(&format!("Come back on {day} to print this finger.")),
        1
    );
    k.press("Right thumb");
    k.fingers();
    k.supervisor_seals();

    let (_, enrolment) = k.record(&registry, 1);
    assert_biometrics(
        &enrolment,
        &[(
            FingerPosition::LeftIndex,
            FingerException::TemporarilyUnable { return_on: back },
        )],
    );
}

/// The QR codes on a slip the printer twin printed, read with a decoder of their own.
fn qr_codes_on(page: &sajili_drivers::printer::Page) -> Vec<String> {
    let decoder = png::Decoder::new(std::io::Cursor::new(page.png.clone()));
    let mut reader = decoder.read_info().unwrap();
    let mut grey = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut grey).unwrap();
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    let (width, height) = (info.width as usize, info.height as usize);
    let mut image =
        rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| grey[y * width + x]);
    image
        .detect_grids()
        .into_iter()
        .map(|grid| grid.decode().map(|(_, text)| text).unwrap())
        .collect()
}

/// A kiosk on every twin, the printer's among them.
fn kiosk_with_printer(dir: &Path, registry: &TestRegistry) -> (Kiosk_, PrinterTwin) {
    demo::device_with_bundle(dir, &registry.bundle_json).unwrap();
    let (devices, printer) = twins::devices_with_printer(4).unwrap();
    (open_kiosk_with(dir, devices), printer)
}

use sajili_drivers::printer::PrinterTwin;

impl Kiosk_ {
    /// What the done screen says of the slip's printing, once it is `code`.
    fn wait_printer(&self, code: &str) {
        let kiosk = self.window.global::<Kiosk>();
        self.wait(&format!("the printer: {code}"), |_| {
            kiosk.get_printer() == code
        });
    }
}

#[test]
fn the_slip_prints_when_sealed_its_qr_code_reads_as_the_number_and_a_reprint_is_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let registry = TestRegistry::new();
    let (k, printer) = kiosk_with_printer(dir.path(), &registry);
    take_policy(&k, &demo::demo_policy(3, Default::default()).unwrap());
    k.walk_alone_to_photo("27182818", "NDUNGU");
    k.photo();
    k.fingers();
    k.next(Screen::Review);
    let number = k.seal();
    k.wait_printer("printed");
    assert_eq!(k.says("Take your slip from the printer."), 1);
    let pages = printer.wait_for_pages(1, Duration::from_secs(10));
    assert_eq!(pages.len(), 1, "one slip");
    assert_eq!(qr_codes_on(&pages[0]), std::slice::from_ref(&number));
    let text = &pages[0].text;
    for said in [
        "REPUBLIC OF KENYA",
        "Registration number",
        number.as_str(),
        "Name:   ANNE NDUNGU",
        "Centre: Kibera Huduma Centre",
        "Keep this slip",
    ] {
        assert!(text.contains(said), "{said:?} not on the slip:\n{text}");
    }
    let today = sajili::clock::kenyan_date(sajili::clock::Clock::now(&SystemClock));
    let date = format!(
        "Date:   {:02}/{:02}/{}",
        today.day(),
        u8::from(today.month()),
        today.year()
    );
    assert!(text.contains(&date), "{date:?} not on the slip:\n{text}");

    k.press("Print again");
    k.wait_printer("printed");
    let pages = printer.wait_for_pages(2, Duration::from_secs(10));
    assert_eq!(pages.len(), 2);
    assert!(pages[0] == pages[1], "the reprint differs from the slip");
    k.press("Finish");
    assert_eq!(k.screen(), Screen::Language);
    assert_eq!(k.window.global::<Kiosk>().get_printer(), "");
    assert_eq!(k.says("Print again"), 0);
}

#[test]
fn a_kiswahili_enrolment_gets_a_kiswahili_slip() {
    let dir = tempfile::tempdir().unwrap();
    let registry = TestRegistry::new();
    let (k, printer) = kiosk_with_printer(dir.path(), &registry);
    k.walk_alone_to_photo("31415926", "OTIENO");
    k.photo();
    k.fingers();
    k.next(Screen::Review);
    k.press("Kiswahili");
    k.press("Hifadhi usajili wangu");
    k.wait("sealing", |app| app.session().screen() == Screen::Done);
    k.wait_printer("printed");
    assert_eq!(k.says("Chukua karatasi yako kutoka kwenye printa."), 1);
    assert!(k.element("Chapisha tena").is_ok());
    let pages = printer.wait_for_pages(1, Duration::from_secs(10));
    let text = &pages[0].text;
    for said in [
        "JAMHURI YA KENYA",
        "Uthibitisho wa usajili",
        "Nambari ya usajili",
        "Jina:",
        "Tarehe:",
        "Hifadhi karatasi hii",
    ] {
        assert!(text.contains(said), "{said:?} not on the slip:\n{text}");
    }
    for english in ["REPUBLIC", "Registration", "Name", "Date", "Keep"] {
        assert!(
            !text.contains(english),
            "{english:?} on the Kiswahili slip:\n{text}"
        );
    }
    let number = k.window.global::<Kiosk>().get_registration_number();
    assert_eq!(qr_codes_on(&pages[0]), [number.to_string()]);
}

#[test]
fn a_slip_printer_out_of_paper_with_its_cover_open_or_unplugged_says_so_and_keeps_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let registry = TestRegistry::new();
    let (k, printer) = kiosk_with_printer(dir.path(), &registry);
    k.walk_alone_to_photo("14142136", "MWANGI");
    k.photo();
    k.fingers();
    k.next(Screen::Review);
    printer.set_paper_out(true);
    let number = k.seal();
    k.wait_printer("paper-out");
    assert_eq!(
        k.says(
            "The printer is out of paper. Ask the operator to load a roll, then press Print \
             again. Your enrolment is saved."
        ),
        1
    );
    let (sealed, enrolment) = k.record(&registry, 1);
    assert_eq!(sealed, number);
    assert_eq!(enrolment.demographics.names.surname, "MWANGI");

    printer.set_paper_out(false);
    printer.set_cover_open(true);
    k.press("Print again");
    k.wait_printer("cover-open");
    assert_eq!(
        k.says(
            "The printer's cover is open. Ask the operator to close it, then press Print \
             again. Your enrolment is saved."
        ),
        1
    );
    printer.set_cover_open(false);
    printer.set_unplugged(true);
    k.press("Print again");
    k.wait_printer("unplugged");
    assert_eq!(
        k.says(
            "The printer is not connected. Ask the operator to check its cable, then press \
             Print again. Your enrolment is saved."
        ),
        1
    );
    k.press("Kiswahili");
    assert_eq!(
        k.says(
            "Printa haijaunganishwa. Mwombe mhudumu aangalie waya wake, kisha bonyeza \
             Chapisha tena. Usajili wako umehifadhiwa."
        ),
        1
    );
    assert!(
        printer.pages().is_empty(),
        "nothing printed while it could not print"
    );
    // Plugged back in, the kiosk finds it ready and the slip prints.
    printer.set_unplugged(false);
    k.wait_printer("ready");
    assert_eq!(k.says("Printa iko tayari: bonyeza Chapisha tena."), 1);
    k.press("Chapisha tena");
    k.wait_printer("printed");
    assert_eq!(printer.wait_for_pages(1, Duration::from_secs(10)).len(), 1);
    k.press("Maliza");
    assert_eq!(k.screen(), Screen::Language);

    // The staff screen learns of each fault from the printer itself, between slips.
    let kiosk = k.window.global::<Kiosk>();
    let printer_word = || {
        kiosk
            .get_status()
            .iter()
            .find(|line| line.key == "printer")
            .map(|line| line.word.to_string())
    };
    for (word, shown) in [
        ("paper-out", "▲ Out of paper: load a new roll"),
        ("cover-open", "▲ Cover open: close it"),
        ("unplugged", "▲ Not connected: check the cable"),
        ("working", "● Working"),
    ] {
        printer.set_paper_out(word == "paper-out");
        printer.set_cover_open(word == "cover-open");
        printer.set_unplugged(word == "unplugged");
        k.open_staff_screen(demo::OPERATOR);
        assert_eq!(k.says("Slip printer"), 1);
        k.wait(shown, |_| printer_word().as_deref() == Some(word));
        assert!(k.says(shown) >= 1, "{shown:?} not on the staff screen");
        k.press("Close");
    }
}

#[test]
fn a_slip_printer_that_hangs_holds_up_neither_the_seal_nor_the_screen() {
    use sajili::ui::devices::{Devices, PrinterOpener};
    use sajili_drivers::printer::PrinterError;
    let dir = tempfile::tempdir().unwrap();
    let registry = TestRegistry::new();
    demo::device_with_bundle(dir.path(), &registry.bundle_json).unwrap();
    // Opening this printer takes until the test lets go.
    let (release, held) = std::sync::mpsc::channel::<()>();
    let printer: PrinterOpener = Box::new(move || {
        let _ = held.recv_timeout(Duration::from_secs(120));
        Err(PrinterError::NotAnswering)
    });
    let devices = Devices::start(
        Some(twins::camera().unwrap()),
        Some(twins::sensor(twins::prints(4)).unwrap()),
    )
    .without_input_list()
    .with_printer(printer);
    let k = open_kiosk_with(dir.path(), devices);
    k.walk_alone_to_photo("16180340", "CHEBET");
    k.photo();
    k.fingers();
    k.next(Screen::Review);
    let number = k.seal();
    k.wait_printer("printing");
    assert_eq!(k.says("Printing your slip…"), 1);
    assert_eq!(k.record(&registry, 1).0, number, "sealed before the slip");
    assert!(
        !k.element("Print again")
            .unwrap()
            .accessible_enabled()
            .unwrap_or(true)
    );
    drop(release);
    k.wait_printer("failed");
    assert_eq!(
        k.says("The printer is not answering. Ask the operator. Your enrolment is saved."),
        1
    );
    k.press("Finish");
    assert_eq!(k.screen(), Screen::Language);
}

#[test]
fn a_photo_at_a_hospital_bedside_is_taken_although_its_checks_fail_and_the_supervisor_approves_it()
{
    use sajili_record::policy::CentreKind;
    let (registry, device) = institution("hospital");
    let lying = sajili::ui::devices::Devices::start(
        Some(twins::camera_lying(15).expect("camera twin")),
        Some(twins::sensor(twins::prints(4)).expect("sensor twin")),
    )
    .without_input_list();
    let k = open_kiosk_with(device.dir.path(), lying);
    k.runs_centre_of(CentreKind::Hospital);
    k.start_assisted();
    // A hospital offers its file number in place of a document, and no prison's.
    assert!(k.says("Held by the hospital, or none: file number") > 0);
    assert_eq!(k.says("Held by the prison, or none: prison number"), 0);
    k.fill_adult("51525354", "NJERI");
    k.wait("the face checks to fail", |app| {
        app.session().photo_advice.is_some()
    });
    assert!(k.app.borrow().session().draft().photo.is_none());
    k.press("Take the photo anyway");
    k.press("Lying down");
    k.wait("the photo taken anyway", |app| {
        app.session().draft().photo.is_some()
    });
    assert_eq!(
        k.says("Taken although a check failed: Lying down. The supervisor approves it."),
        1
    );
    let overridden = k.app.borrow().session().draft().photo_override.clone();
    let overridden = overridden.expect("an override");
    assert!(!overridden.failed.is_empty());
    k.next(Screen::Fingers);
    // Her left index is in a cast: she comes back for it in two weeks.
    k.press("Left index finger");
    k.press("This finger cannot be printed");
    k.press("2 weeks");
    let today = sajili::clock::kenyan_date(sajili::clock::Clock::now(&SystemClock));
    let back = today + time::Duration::weeks(2);
    k.press("Right thumb");
    k.fingers();
    k.supervisor_seals();
    drop(k);

    let output = device.run(&["uplink", "--once"]);
    assert!(
        output.status.success(),
        "uplink: {}",
        sajili_tests::stderr(&output)
    );
    registry.process();
    let shown = registry.show(&device.id);
    assert_eq!(shown.len(), 1, "{shown:?}");
    let record = &shown[0];
    let photo = &record["enrolment"]["photo_override"];
    assert_eq!(photo["reason"], "lying_down");
    assert_eq!(
        photo["failed"],
        serde_json::to_value(&overridden.failed).unwrap()
    );
    assert_eq!(
        record["enrolment"]["staff"]["supervisor"],
        demo::SUPERVISOR.0
    );
    let codes: Vec<&str> = record["flags"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert_eq!(codes, ["photo_override", "finger_return"], "{record}");
    // The registry lists the finger to come back for, with its day.
    let stats = registry.run(&["stats"]);
    let said = sajili_tests::stdout(&stats);
    assert!(said.contains("Come back    1 fingers"), "{said}");
    assert!(
        said.contains(&format!(
            "record 1: left_index temporarily unable: to come back on {back}"
        )),
        "{said}"
    );
    assert!(
        said.contains("Flags        0 waiting for adjudication"),
        "{said}"
    );
}

#[test]
fn the_same_finger_for_two_positions_is_refused_and_the_screen_names_the_finger_to_place() {
    use sajili::biometrics::grey::Grey;
    use sajili::biometrics::matching::{Template, same_finger};
    use sajili::biometrics::synth::SyntheticFinger;
    let dir = tempfile::tempdir().unwrap();
    let registry = TestRegistry::new();
    demo::device_with_bundle(dir.path(), &registry.bundle_json).unwrap();
    // The person gives the right thumb, the right index finger, then the right thumb again
    // (another impression: placed and pressed otherwise) when the right middle finger is
    // asked for, then the right middle finger and the rest, one different finger each.
    let fingers: Vec<SyntheticFinger> = (1..=10)
        .map(|seed| SyntheticFinger::new(seed, 256, 288))
        .collect();
    let mut images = vec![
        fingers[0].impression(0),
        fingers[1].impression(0),
        fingers[0].impression(1),
    ];
    images.extend(fingers[2..].iter().map(|f| f.impression(0)));
    let devices = sajili::ui::devices::Devices::start(
        Some(twins::camera().unwrap()),
        Some(twins::sensor(images).unwrap()),
    )
    .without_input_list();
    let k = open_kiosk_with(dir.path(), devices);
    k.walk_alone_to_photo("16180399", "AKINYI");
    k.photo();
    for expected in 0..2 {
        assert_eq!(k.app.borrow().session().saved.finger, expected);
        k.press("Take print");
        k.wait("a print", |app| !app.session().capturing);
    }
    assert_eq!(k.app.borrow().session().saved.finger, 2, "two prints kept");
    k.press("Take print");
    k.wait("a print", |app| !app.session().capturing);
    {
        let app = k.app.borrow();
        let session = app.session();
        assert_eq!(session.notice.as_deref(), Some("same-finger"));
        assert_eq!(session.same_finger, Some(0), "it is the right thumb");
        assert_eq!(session.saved.finger, 2, "still the right middle finger");
        let middle = &session.draft().fingers[2];
        assert!(
            middle.best.is_none(),
            "the thumb is not kept as the middle finger"
        );
        assert_eq!(middle.attempts, 0, "the wrong finger is not an attempt");
    }
    let said = "This is the Right thumb again: it is already taken. Place the Right middle finger on the glass instead.";
    assert_eq!(k.says(said), 1);
    // The same in Kiswahili, naming both fingers in it.
    k.window
        .global::<Kiosk>()
        .invoke_act("language".into(), "sw".into());
    assert_eq!(
        k.says("Hiki ni Kidole gumba cha kulia tena: kimeshachukuliwa. Weka Kidole cha kati cha kulia kwenye kioo badala yake."),
        1
    );
    k.window
        .global::<Kiosk>()
        .invoke_act("language".into(), "en".into());
    k.fingers();
    assert_eq!(k.says(said), 0, "the notice goes with the next print");
    k.next(Screen::Review);
    k.seal();
    let (_, enrolment) = k.record(&registry, 1);
    assert_biometrics(&enrolment, &[]);
    // What the record holds as the right middle finger is that finger, not the thumb again.
    let template = |position: FingerPosition| {
        let capture = enrolment
            .fingerprints
            .iter()
            .find(|f| f.position == position)
            .unwrap();
        let FingerCapture::Image(image) = &capture.capture else {
            panic!("{position:?} not printed");
        };
        Template::new(
            &sajili::biometrics::wsq::decode(&image.data)
                .unwrap()
                .picture,
        )
        .unwrap()
    };
    let thumb = template(FingerPosition::RightThumb);
    let middle = template(FingerPosition::RightMiddle);
    let reference = |f: &SyntheticFinger| {
        Template::new(&Grey::new(256, 288, f.impression(0)).unwrap()).unwrap()
    };
    assert!(same_finger(&middle, &reference(&fingers[2])));
    assert!(!same_finger(&middle, &thumb));
}

/// A passport's machine-readable line 2 for `number` and `born`, its check digits computed as
/// ICAO 9303 says (the expiry 30 June 2031).
fn mrz_line(number: &str, born: time::Date) -> String {
    let digit =
        |field: &str| char::from(b'0' + sajili::form::mrz_check_digit(field.as_bytes()).unwrap());
    let number = format!("{number:<<9}");
    let birth = format!(
        "{:02}{:02}{:02}",
        born.year() % 100,
        u8::from(born.month()),
        born.day()
    );
    let mut line = format!(
        "{number}{}UGA{birth}{}F310630{}{}<",
        digit(&number),
        digit(&birth),
        digit("310630"),
        "<".repeat(14)
    );
    let composite = format!("{}{}{}", &line[0..10], &line[13..20], &line[21..43]);
    line.push(digit(&composite));
    line
}

impl Kiosk_ {
    /// Whether a picture labelled `label` is on screen, at a size that shows something.
    fn shows_picture(&self, label: &str) -> bool {
        ElementHandle::find_by_accessible_label(&self.window, label).any(|e| {
            e.accessible_role() == Some(i_slint_backend_testing::AccessibleRole::Image)
                && e.size().width > 10.0
                && e.size().height > 10.0
        })
    }
}

#[test]
fn a_passport_is_photographed_its_zone_checked_and_both_sealed_and_exported() {
    use sajili::kiosk::{Field, Page};
    let dir = tempfile::tempdir().unwrap();
    let registry = TestRegistry::new();
    let k = new_kiosk(dir.path(), &registry);
    k.press("English");
    k.press("I agree");
    k.press("On my own: I will type my details and follow the screen");
    k.press("Foreign resident");
    // No document chosen yet: nothing to photograph.
    assert!(!k.shows("Photograph the document"));
    k.press("Passport");
    k.fill("Document number", "AK1234567");
    k.pick_country("Choose the country  ▾", "UGA", "Uganda");
    let (typed, dob) = born_years_ago(35);
    // Later pages need the birth date for the zone's comparison: it is typed now, so the
    // zone is checked against the number alone on this page, and against both on sealing.
    let line = mrz_line("AK1234567", dob);
    // The expiry's last digit mistyped: the page says which check digit fails.
    let mut mistyped = line.clone().into_bytes();
    mistyped[26] = if mistyped[26] == b'1' { b'2' } else { b'1' };
    let mistyped = String::from_utf8(mistyped).unwrap();
    k.fill("Machine-readable zone, line 2 (optional)", &mistyped);
    k.press("Next ›");
    assert_eq!(k.screen(), Screen::Form(Page::Document));
    let error = k.error_of(Field::Mrz);
    assert!(
        error.contains("expiry date (character 28)"),
        "the message names the digit: {error}"
    );
    k.press("Machine-readable zone, line 2 (optional)");
    k.delete(44);
    k.type_keys(&line);
    assert_eq!(k.app.borrow().session().draft().value(Field::Mrz), line);

    // The document held up to the camera: found, checked and kept by itself.
    k.press_hidden("Photograph the document");
    assert_eq!(k.screen(), Screen::DocumentPhoto);
    k.wait("the document's photo to take itself", |app| {
        app.session().draft().document_photo.is_some()
    });
    assert!(k.window.global::<Kiosk>().get_document_taken());
    assert!(k.shows_picture("The document as photographed"));
    k.next(Screen::Form(Page::Document));
    assert!(k.shows("✓ Document photographed: look again"));
    k.next(Screen::Form(Page::Names));
    k.fill("Surname", "NAKATO");
    k.fill("First name", "SARAH");
    k.next(Screen::Form(Page::Birth));
    k.fill("Date of birth (day/month/year)", &typed);
    k.press("Female");
    k.pick_country("Born abroad: country  ▾", "UGA", "Uganda");
    k.next(Screen::Form(Page::About));
    k.answer_life(&Life {
        marital: "Never married",
        disability: "None",
        education: "Secondary",
        work: "Self-employed",
        ethnic_group: "MGANDA",
        county: "Nairobi",
        sub_county: "Westlands",
        location: "PARKLANDS",
    });
    k.next(Screen::Photo);
    k.photo();
    k.fingers();
    k.next(Screen::Review);
    // The review shows the document beside the face.
    assert!(k.shows_picture("The document as photographed"));
    k.seal();

    let (number, enrolment) = k.record(&registry, 1);
    let d = &enrolment.demographics;
    assert_eq!(d.document.kind, DocumentType::Passport);
    assert_eq!(d.document.mrz.as_deref(), Some(line.as_str()));
    let document = enrolment
        .document_photo
        .as_ref()
        .expect("the document's photo in the sealed record");
    assert!(document.data.len() <= sajili::biometrics::document::BUDGET_BYTES);
    let picture = sajili::biometrics::photo::Rgb::decode(&document.data).unwrap();
    assert_eq!(
        (picture.width() as u32, picture.height() as u32),
        (document.width, document.height)
    );
    // The twin holds up an ID-1 card: the cut-out has its proportions.
    let ratio = document.width as f32 / document.height as f32;
    assert!((ratio - 85.6 / 54.0).abs() < 0.03, "{ratio}");

    // And the ABIS gets it as the transaction's Type-20 record, byte for byte.
    let transaction = sajili::export::ansi_nist(&sajili::export::Transaction {
        enrolment: &enrolment,
        registration_number: &number,
        captured_at: 1_800_000_000,
        originating_agency: "dev-test",
        destination_agency: "NIIMS",
    })
    .unwrap();
    let start = transaction
        .windows(7)
        .position(|w| w == b"20.999:")
        .expect("a Type-20 image field")
        + 7;
    assert_eq!(
        &transaction[start..start + document.data.len()],
        document.data.as_slice()
    );
    assert_eq!(transaction[start + document.data.len()], 0x1C);
}
