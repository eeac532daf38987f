//! `sajili demo`: the kiosk on its twins with a throwaway data dir. In a window where there
//! is a display; otherwise (or with `--screenshots`) headless, walking a scripted enrolment
//! through every screen in both languages at both panel sizes, writing a PNG of each.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use i_slint_backend_testing::{AccessibleRole, ElementHandle};
use slint::ComponentHandle;

use super::{App, Display, Kiosk, KioskWindow, headless, twins};
use crate::clock::SystemClock;
use crate::device::{self, DataDir};
use crate::kiosk::{Action, Field, IDLE_WARN_MS, Page, Screen};
use crate::staff::{self, Role};
use sajili_record::policy::{Centre, CentreKind, FleetPolicy, PolicyStaff, Settings};

/// The demo's operator: staff number and PIN.
pub const OPERATOR: (&str, &str) = ("OP-1001", "123456");
/// The demo's supervisor: staff number and PIN.
pub const SUPERVISOR: (&str, &str) = ("SUP-2001", "567890");
/// The demo's official of a prison or hospital, who vouches for its numbers: staff number and
/// PIN.
pub const OFFICIAL: (&str, &str) = ("OFF-3001", "246813");
/// The panel sizes the screens are drawn at: the 10" and the 7" kiosk.
pub const SIZES: [(u32, u32); 2] = [(1280, 800), (800, 480)];

/// A fleet policy for the demo's centre, the Kibera Huduma Centre, listing the demo's two staff
/// members (their PINs hashed here as the registry hashes them), at `version`, with `settings`.
pub fn demo_policy(version: u64, settings: Settings) -> anyhow::Result<FleetPolicy> {
    let member = |(number, pin): (&str, &str), role| -> anyhow::Result<PolicyStaff> {
        Ok(PolicyStaff {
            number: number.into(),
            role,
            pin_hash: staff::hash_pin(pin).map_err(anyhow::Error::msg)?,
        })
    };
    Ok(FleetPolicy {
        format: sajili_record::policy::POLICY_FORMAT,
        version,
        issued_at: crate::clock::Clock::now(&SystemClock),
        centre: Some(Centre {
            id: "NRB-KIBERA".into(),
            name: "Kibera Huduma Centre".into(),
            kind: CentreKind::PublicOffice,
        }),
        staff: vec![
            member(OPERATOR, Role::Operator)?,
            member(SUPERVISOR, Role::Supervisor)?,
            member(OFFICIAL, Role::Operator)?,
        ],
        settings,
    })
}

/// Signs `policy` with a policy key made for the occasion and has the kiosk take it, as the
/// hand-off does with one from the registry.
pub fn take_policy(device: &device::Device, policy: &FleetPolicy) -> anyhow::Result<()> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("{e}"))?;
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    let signed = policy.sign(&key).map_err(|e| anyhow::anyhow!("{e}"))?;
    let now = crate::clock::Clock::now(&SystemClock);
    crate::fleet::take(&device.store, &signed, Some(&key.verifying_key()), now)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

/// Makes a throwaway device in `dir`: keys, a trust bundle for a registry that does not exist
/// (records stay in the outbox), and the demo's two staff members from a fleet policy for the
/// demo's centre.
pub fn throwaway_device(dir: &Path) -> anyhow::Result<device::Device> {
    let registry = age::x25519::Identity::generate();
    let ca = rcgen::generate_simple_self_signed(vec!["sajili-demo-registry".into()])
        .context("making the demo registry's certificate")?;
    let mut receipt_key = [0u8; 32];
    getrandom::fill(&mut receipt_key).map_err(|e| anyhow::anyhow!("{e}"))?;
    let receipt_key = ed25519_dalek::SigningKey::from_bytes(&receipt_key);
    let bundle = serde_json::json!({
        "format": 1,
        "registry_url": "https://registry.invalid:8443",
        "age_recipient": registry.to_public().to_string(),
        "receipt_signing_key": crate::record::hex(receipt_key.verifying_key().as_bytes()),
        "ca_certificate": ca.cert.pem(),
    });
    let device = device_with_bundle(dir, &bundle.to_string())?;
    take_policy(&device, &demo_policy(1, Settings::default())?)?;
    Ok(device)
}

/// Makes a device in `dir/device` pinned to the trust bundle `bundle_json`, with the demo's
/// two staff members.
pub fn device_with_bundle(dir: &Path, bundle_json: &str) -> anyhow::Result<device::Device> {
    std::fs::create_dir_all(dir)?;
    let bundle_path = dir.join("bundle.json");
    std::fs::write(&bundle_path, bundle_json)?;
    let data = DataDir::new(dir.join("device"));
    device::init(&data, &bundle_path, &SystemClock).context("initialising the demo device")?;
    let device = device::open(&data).context("opening the demo device")?;
    staff::add(&device.store, OPERATOR.0, Role::Operator, OPERATOR.1)?;
    staff::add(&device.store, SUPERVISOR.0, Role::Supervisor, SUPERVISOR.1)?;
    Ok(device)
}

/// Whether a window can be opened here.
pub fn has_display() -> bool {
    ["DISPLAY", "WAYLAND_DISPLAY"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
}

/// Looks at each screen as it is photographed: its name and the window (tests measure the
/// labels on it).
pub type Inspect = Box<dyn FnMut(&str, &KioskWindow) -> anyhow::Result<()>>;

/// Drives an [`App`] as a person would, and photographs each screen.
pub struct Walk<'a> {
    /// The kiosk.
    pub app: App,
    screen: &'a headless::Screen,
    size: (u32, u32),
    out: Option<PathBuf>,
    prefix: String,
    shots: usize,
    /// Shots taken under each prefix, so a walk taken up again numbers on.
    taken: std::collections::BTreeMap<String, usize>,
    /// A hash of each picture of this walk so far, with its name: two states drawn alike
    /// mean a shot missed what it was meant to show.
    drawn: Vec<(u64, String)>,
    inspect: Option<Inspect>,
    /// What the screens sent when a button was pressed, for the kiosk to act on.
    pressed: Rc<RefCell<Vec<(String, String)>>>,
    /// Larger text and high contrast chosen again each time a session ends, as someone who
    /// needs them would.
    accessible: bool,
    /// The printer twin, whose slips the walk writes out beside the screens.
    printer: Option<sajili_drivers::printer::PrinterTwin>,
}

impl<'a> Walk<'a> {
    /// A walk on `app`, drawn at `size`; with `out`, each screen is written there as a PNG.
    pub fn new(
        app: App,
        screen: &'a headless::Screen,
        size: (u32, u32),
        out: Option<PathBuf>,
    ) -> Self {
        let pressed = Rc::new(RefCell::new(Vec::new()));
        let queue = pressed.clone();
        app.window()
            .global::<Kiosk>()
            .on_act(move |name, value| queue.borrow_mut().push((name.into(), value.into())));
        Self {
            pressed,
            app,
            screen,
            size,
            out,
            prefix: String::new(),
            shots: 0,
            taken: Default::default(),
            drawn: Vec::new(),
            inspect: None,
            accessible: false,
            printer: None,
        }
    }

    /// Writes the slips `printer` prints beside the screens (once per language).
    pub fn print_on(&mut self, printer: sajili_drivers::printer::PrinterTwin) {
        self.printer = Some(printer);
    }

    /// Waits for the slip of the record just sealed, and writes it out as
    /// `printer-slip-<language>.png` the first time a walk in that language seals one.
    fn slip(&mut self, language: &str) -> anyhow::Result<()> {
        use super::devices::PrinterState;
        if self.printer.is_none() {
            return Ok(());
        }
        self.wait(Duration::from_secs(30), |app| {
            app.slip_printing() == Some(PrinterState::Printed)
        })?;
        let (Some(out), Some(printer)) = (&self.out, &self.printer) else {
            return Ok(());
        };
        let path = out.join(format!("printer-slip-{language}.png"));
        if path.exists() {
            return Ok(());
        }
        let page = printer
            .pages()
            .pop()
            .context("the printer twin printed no slip")?;
        std::fs::write(&path, &page.png).with_context(|| format!("writing {}", path.display()))
    }

    /// Has `inspect` look at every screen as it is photographed.
    pub fn inspect_with(&mut self, inspect: Inspect) {
        self.inspect = Some(inspect);
    }

    /// Starts the shots of another language or size: numbered from 1 under `prefix`.
    fn begin(&mut self, size: (u32, u32), language: &str) {
        self.taken.insert(self.prefix.clone(), self.shots);
        self.size = size;
        self.prefix = format!("{}x{}-{language}", size.0, size.1);
        self.shots = self.taken.get(&self.prefix).copied().unwrap_or(0);
        self.drawn.clear();
    }

    fn act(&mut self, name: &str, value: &str) {
        self.app.act(name, value);
        if self.accessible && self.app.display() == Display::default() {
            self.app.act("display", "large-text");
            self.app.act("display", "high-contrast");
        }
    }

    /// Draws the screen, and writes it out when asked to.
    fn shot(&mut self, name: &str) -> anyhow::Result<()> {
        self.shots += 1;
        let rgb = self.screen.render(self.size.0, self.size.1);
        let hash = {
            use std::hash::{Hash, Hasher};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            rgb.hash(&mut hasher);
            hasher.finish()
        };
        if let Some((_, same)) = self.drawn.iter().find(|(h, _)| *h == hash) {
            bail!(
                "{}: the {name} screen is drawn exactly like the {same} screen: the shot missed \
                 what it was meant to show",
                self.prefix
            );
        }
        self.drawn.push((hash, name.to_owned()));
        if let Some(inspect) = &mut self.inspect {
            inspect(&format!("{}-{name}", self.prefix), self.app.window())?;
        }
        let Some(out) = &self.out else {
            return Ok(());
        };
        let path = out.join(format!("{}-{:02}-{name}.png", self.prefix, self.shots));
        headless::write_png(&path, self.size.0, self.size.1, &rgb)
            .with_context(|| format!("writing {}", path.display()))
    }

    fn type_into(&mut self, field: Field, text: &str) {
        self.act("focus", &field.index().to_string());
        for c in text.chars() {
            self.act("key", &c.to_string());
        }
    }

    fn choose(&mut self, field: Field, id: &str) {
        self.act("choose", &format!("{}={id}", field.index()));
    }

    fn next(&mut self, expect: Screen) -> anyhow::Result<()> {
        self.act("next", "");
        self.expect(expect)
    }

    fn expect(&self, screen: Screen) -> anyhow::Result<()> {
        let now = self.app.session().screen();
        if now != screen {
            bail!(
                "expected the {} screen, the kiosk shows {} ({:?})",
                screen.id(),
                now.id(),
                self.app.session().problems
            );
        }
        Ok(())
    }

    /// Polls the kiosk until `done` says so, up to `limit`.
    fn wait(&mut self, limit: Duration, done: impl Fn(&App) -> bool) -> anyhow::Result<()> {
        let start = Instant::now();
        while !done(&self.app) {
            if start.elapsed() > limit {
                bail!(
                    "the kiosk did not get there in {limit:?} (screen {}, notice {:?})",
                    self.app.session().screen().id(),
                    self.app.session().notice
                );
            }
            std::thread::sleep(Duration::from_millis(10));
            self.app.poll();
        }
        Ok(())
    }

    /// Presses the button labelled `label`, as a person would. Some of what is on screen is
    /// the screen's own (the fingers screen's list of reasons), so no session action opens
    /// it: the walk must touch the button that does.
    fn press(&mut self, label: &str) -> anyhow::Result<()> {
        let button = ElementHandle::find_by_accessible_label(self.app.window(), label)
            .find(|e| e.accessible_role() == Some(AccessibleRole::Button))
            .with_context(|| {
                format!(
                    "no button {label:?} on the {} screen",
                    self.app.session().screen().id()
                )
            })?;
        button.invoke_accessible_default_action();
        let sent = std::mem::take(&mut *self.pressed.borrow_mut());
        for (name, value) in sent {
            self.act(&name, &value);
        }
        Ok(())
    }

    /// Leaves the kiosk untouched for a minute and a second: the idle countdown shows.
    fn leave_alone(&mut self) {
        // A touch starts the idle time from zero; the clock is then moved on by hand.
        self.act("touch", "");
        self.app.poll_at(0);
        self.app.poll_at(IDLE_WARN_MS + 1_000);
    }

    fn login(&mut self, who: (&str, &str)) {
        self.act("login-field", "staff");
        for c in who.0.chars() {
            self.act("key", &c.to_string());
        }
        self.act("next", "");
        for c in who.1.chars() {
            self.act("key", &c.to_string());
        }
    }
}

/// The scripted enrolment: a 16-year-old with her mother, assisted, her left little finger
/// bandaged; the status screen and a refused consent on the way. Returns the registration
/// number.
pub fn scripted_enrolment(walk: &mut Walk<'_>, language: &str) -> anyhow::Result<String> {
    // Buttons the walk presses by their label, in the walk's language.
    let tr = |en: &'static str, sw: &'static str| if language == "sw" { sw } else { en };
    walk.expect(Screen::Language)?;
    walk.shot("language")?;
    walk.act("status", "");
    // Staff screens speak the walk's language too (the switch is on every screen).
    walk.act("language", language);
    walk.expect(Screen::Login)?;
    walk.shot("login-staff")?;
    walk.login(SUPERVISOR);
    walk.act("next", "");
    walk.expect(Screen::Status)?;
    walk.shot("status")?;
    walk.act("back", "");

    walk.act("language", language);
    walk.expect(Screen::Consent)?;
    walk.shot("consent")?;
    walk.act("decline", "");
    walk.expect(Screen::Declined)?;
    walk.shot("declined")?;
    walk.act("finish", "");

    walk.act("language", language);
    walk.act("agree", "guardian");
    walk.expect(Screen::Mode)?;
    walk.shot("mode")?;
    // Walked away from before choosing: the countdown to the wipe. A touch keeps the session.
    walk.leave_alone();
    walk.shot("mode-idle")?;
    walk.act("touch", "");
    walk.expect(Screen::Mode)?;
    walk.act("mode", "assisted");
    walk.expect(Screen::Login)?;
    walk.login(OPERATOR);
    walk.shot("login-operator")?;
    walk.next(Screen::Form(crate::kiosk::Page::Document))?;
    walk.shot("document")?;
    walk.choose(Field::Citizenship, "kenyan");
    walk.choose(Field::DocumentKind, "birth_certificate");
    walk.type_into(Field::DocumentNumber, "40912345");
    walk.choose(Field::Purpose, "new");
    walk.shot("document-filled")?;
    // The certificate held up to the camera, kept by itself: the review shows it. (The
    // passport walk photographs each step of this.)
    walk.act("document-photo", "");
    walk.expect(Screen::DocumentPhoto)?;
    walk.wait(Duration::from_secs(30), |app| {
        app.session().draft().document_photo.is_some()
    })?;
    walk.next(Screen::Form(crate::kiosk::Page::Document))?;
    // The page a correction of an earlier enrolment asks, with its rules' messages; this
    // enrolment is a new one, so the walk goes back and says so.
    walk.choose(Field::Purpose, "correction");
    walk.next(Screen::Form(crate::kiosk::Page::Amendment))?;
    walk.type_into(Field::Amends, "HWSA-QAY5-0001-Z");
    walk.choose(Field::AmendedFields, "names");
    walk.choose(Field::AmendedFields, "date_of_birth");
    walk.act("next", "");
    // The keyboard hidden, so the whole page shows with its messages.
    walk.act("focus", "-1");
    walk.shot("amendment")?;
    walk.act("back", "");
    walk.expect(Screen::Form(crate::kiosk::Page::Document))?;
    walk.choose(Field::Purpose, "new");
    walk.next(Screen::Form(crate::kiosk::Page::Names))?;
    walk.act("next", "");
    walk.shot("names-problems")?;
    walk.type_into(Field::Surname, "WANJIKU");
    walk.type_into(Field::FirstName, "AMANI");
    walk.type_into(Field::OtherNames, "NJERI");
    walk.next(Screen::Form(crate::kiosk::Page::Birth))?;
    walk.type_into(Field::DateOfBirth, "14032010");
    walk.choose(Field::Sex, "female");
    // The country list, found by typing: shown, then closed for the county.
    walk.act("focus", "-1");
    walk.press(tr(
        "Born abroad: country  ▾",
        "Alizaliwa nje ya Kenya: nchi  ▾",
    ))?;
    for c in "SO".chars() {
        walk.act("search", &format!("{}{c}", walk.app.session().search));
    }
    walk.shot("birth-country-list")?;
    walk.press(tr("Close the list", "Funga orodha"))?;
    walk.choose(Field::BirthCounty, "22");
    walk.shot("birth")?;
    walk.next(Screen::Form(crate::kiosk::Page::Guardian))?;
    walk.choose(Field::GuardianRelationship, "mother");
    walk.type_into(Field::GuardianName, "GRACE WANJIKU");
    walk.type_into(Field::GuardianId, "22334455");
    walk.choose(Field::Guardian2Relationship, "father");
    walk.type_into(Field::Guardian2Name, "JOSEPH KAMAU");
    // Both parents in sight.
    walk.act("focus", "-1");
    walk.shot("guardian")?;
    walk.next(Screen::Form(crate::kiosk::Page::About))?;
    walk.choose(Field::MaritalStatus, "single");
    walk.choose(Field::Disability, "none");
    walk.shot("about")?;
    walk.next(Screen::Form(crate::kiosk::Page::Work))?;
    walk.choose(Field::Education, "primary");
    walk.choose(Field::Employment, "student");
    walk.shot("work")?;
    walk.next(Screen::Form(crate::kiosk::Page::Residence))?;
    walk.type_into(Field::EthnicGroup, "KIKUYU");
    walk.choose(Field::County, "22");
    walk.choose(Field::SubCounty, "Githunguri");
    walk.type_into(Field::Location, "IKINU");
    walk.shot("residence")?;
    walk.next(Screen::Form(crate::kiosk::Page::Numbers))?;
    walk.shot("numbers")?;
    walk.next(Screen::Photo)?;
    walk.wait(Duration::from_secs(20), |app| {
        app.session().photo_advice.is_some() || app.session().steady_frames > 0
    })?;
    walk.shot("photo-live")?;
    // The camera's cable comes out, and is put back.
    walk.app
        .apply(Action::DeviceFault(Some("camera-unplugged".into())));
    walk.shot("photo-camera-unplugged")?;
    walk.app.apply(Action::DeviceFault(None));
    walk.wait(Duration::from_secs(30), |app| {
        app.session().draft().photo.is_some()
    })?;
    walk.shot("photo-taken")?;
    walk.next(Screen::Fingers)?;
    walk.shot("fingers")?;
    // "Start over" asks first; "no" goes on with everything kept.
    walk.act("start-over", "");
    walk.shot("start-over")?;
    walk.act("confirm-start-over", "no");
    walk.expect(Screen::Fingers)?;
    // The fingerprint reader stops answering, and comes back.
    walk.app
        .apply(Action::DeviceFault(Some("sensor-failed".into())));
    walk.shot("fingers-sensor-failed")?;
    walk.app.apply(Action::DeviceFault(None));
    // The left little finger (index 9) is bandaged today: the applicant says why.
    walk.act("finger", "9");
    walk.press(tr(
        "This finger cannot be printed",
        "Kidole hiki hakiwezi kutoa alama",
    ))?;
    walk.shot("fingers-why-not")?;
    walk.press(tr("Injured or bandaged", "Kimeumia au kimefungwa bendeji"))?;
    // The kiosk moves on to the next finger; going back to this one shows why it has none.
    walk.act("finger", "9");
    walk.shot("fingers-not-printed")?;
    walk.act("finger", "0");
    // A wet thumb (ridges run together): its picture beside its weak score (30), scored on
    // the sensor's path.
    let finger = |pixels: Vec<u8>, kept: &[crate::kiosk::KeptPrint]| {
        let image = sajili_drivers::fingerprint::FingerImage {
            width: 256,
            height: 288,
            pixels,
        };
        match super::devices::process_print(&image, kept) {
            Some(super::devices::DeviceEvent::Print {
                image,
                score,
                advice,
                check,
            }) => Ok(Action::FingerCaptured {
                image,
                score,
                advice,
                check,
            }),
            _ => bail!("a synthetic print was not scored"),
        }
    };
    let thumb = crate::biometrics::synth::SyntheticFinger::new(1, 256, 288);
    let wet = crate::biometrics::synth::Impression::poor(crate::biometrics::synth::Flaw::Wet, 1.0);
    walk.app.apply(finger(thumb.render(&wet, 1), &[])?);
    walk.shot("fingers-weak-print")?;
    // The thumb kept, the index finger asked for, and the thumb given again: refused, and
    // the screen names both.
    for _ in 0..crate::kiosk::FINGER_ATTEMPTS {
        if walk.app.session().saved.finger != 0 {
            break;
        }
        walk.act("capture", "");
        walk.wait(Duration::from_secs(30), |app| !app.session().capturing)?;
    }
    let kept = walk.app.session().kept_prints();
    // Whichever of the twin's fingers was taken as the thumb, given again.
    let again = walk.app.session().draft().fingers[0]
        .best
        .as_ref()
        .and_then(|(image, _)| crate::biometrics::wsq::decode(&image.data).ok())
        .map(|decoded| decoded.picture.pixels().to_vec())
        .context("no thumb kept")?;
    walk.app.apply(finger(again, &kept)?);
    if walk.app.session().same_finger != Some(0) {
        bail!("the thumb given again was not caught");
    }
    walk.shot("fingers-same-finger")?;
    let mut shot_print = false;
    for _ in 0..40 {
        let pending = walk
            .app
            .session()
            .draft()
            .fingers
            .iter()
            .any(|slot| !slot.done(crate::kiosk::FINGER_ATTEMPTS, crate::kiosk::FINGER_ACCEPT));
        if !pending {
            break;
        }
        walk.act("capture", "");
        walk.wait(Duration::from_secs(30), |app| !app.session().capturing)?;
        // After the first print, whatever its score: a good print moves the kiosk on to
        // the next finger at once (and hides its score), so waiting for a score on screen
        // shot the last print only, drawn exactly like "fingers-done".
        if !shot_print {
            walk.shot("fingers-print")?;
            shot_print = true;
        }
    }
    walk.shot("fingers-done")?;
    walk.next(Screen::Login)?;
    walk.login(SUPERVISOR);
    walk.shot("login-supervisor")?;
    walk.next(Screen::Review)?;
    walk.shot("review")?;
    walk.act("next", "");
    walk.expect(Screen::Sealing)?;
    walk.shot("sealing")?;
    walk.wait(Duration::from_secs(30), |app| {
        app.session().screen() == Screen::Done
    })?;
    // Shown once the slip is out, so the screen says the same on every run.
    walk.slip(language)?;
    walk.shot("done")?;
    let number = walk
        .app
        .session()
        .sealed
        .clone()
        .context("sealed without a registration number")?;
    walk.act("finish", "");
    walk.expect(Screen::Language)?;
    end_of_day(walk, language)?;
    Ok(number)
}

/// The scripted enrolment with larger text and high contrast, chosen on the first screen.
fn accessible_enrolment(walk: &mut Walk<'_>, language: &str) -> anyhow::Result<String> {
    walk.expect(Screen::Language)?;
    walk.act("language", language);
    walk.expect(Screen::Consent)?;
    walk.act("display", "open");
    walk.shot("display")?;
    walk.act("display", "large-text");
    walk.act("display", "high-contrast");
    walk.shot("display-chosen")?;
    walk.act("display", "close");
    // Back to the first screen, where the scripted walk starts: that ends the session, and
    // with it the settings, which the walk then chooses again.
    walk.accessible = true;
    walk.act("back", "");
    let number = scripted_enrolment(walk, language);
    walk.accessible = false;
    // Back to the usual display for the walks that follow.
    let display = walk.app.display();
    if display.large_text {
        walk.act("display", "large-text");
    }
    if display.high_contrast {
        walk.act("display", "high-contrast");
    }
    number
}

/// The staff screen after the enrolment: the end of the day, then the device test, running
/// and done.
fn end_of_day(walk: &mut Walk<'_>, language: &str) -> anyhow::Result<()> {
    walk.act("status", "");
    walk.act("language", language);
    walk.login(SUPERVISOR);
    walk.act("next", "");
    walk.expect(Screen::Status)?;
    walk.act("staff-tab", "day");
    walk.shot("end-of-day")?;
    walk.act("staff-tab", "devices");
    if walk.app.device_checks().is_some() {
        bail!("pressing \"Test devices\" did not start the test");
    }
    walk.shot("test-devices-running")?;
    walk.wait(Duration::from_secs(60), |app| app.device_checks().is_some())?;
    walk.shot("test-devices")?;
    walk.act("back", "");
    walk.expect(Screen::Language)
}

/// The registry withdraws the demo's device: the screen that takes over, at each size and
/// in each language (the walks have ended: nothing enrols after this).
fn withdrawn(walk: &mut Walk<'_>) -> anyhow::Result<()> {
    let notice = crate::fleet::Withdrawal {
        learnt_at: crate::clock::Clock::now(&SystemClock),
        detail: Some("reported stolen from the Kibera Huduma Centre".into()),
    };
    crate::fleet::note_withdrawal(&walk.app.device().store, &notice)?;
    walk.app.refresh_fleet();
    for size in SIZES {
        for language in ["en", "sw"] {
            walk.begin(size, language);
            walk.act("language", language);
            walk.expect(Screen::Withdrawn)?;
            walk.shot("withdrawn")?;
        }
    }
    Ok(())
}

/// The assisted routes a prison's and a hospital's kiosks offer (issue 19): the same device
/// given a prison's policy, then a hospital's, at each size and in each language; the
/// document the institution holds, its number in its place, and the official who vouches
/// for it. Each walk starts over before the photo.
fn institutions(walk: &mut Walk<'_>) -> anyhow::Result<()> {
    let places = [
        (CentreKind::Prison, "Kamiti Maximum Prison", "prison_number"),
        (
            CentreKind::Hospital,
            "Kenyatta National Hospital",
            "hospital_file",
        ),
    ];
    for (version, (kind, name, stand_in)) in (2..).zip(places) {
        let mut policy = demo_policy(version, Settings::default())?;
        policy.centre = Some(Centre {
            id: format!("DEMO-{}", kind.as_str().to_uppercase()),
            name: name.into(),
            kind,
        });
        take_policy(walk.app.device(), &policy)?;
        walk.app.refresh_fleet();
        for size in SIZES {
            for language in ["en", "sw"] {
                walk.begin(size, &format!("{}-{language}", kind.as_str()));
                walk.act("language", language);
                walk.expect(Screen::Consent)?;
                walk.act("agree", "applicant");
                walk.act("mode", "assisted");
                walk.login(OPERATOR);
                walk.act("next", "");
                walk.expect(Screen::Form(Page::Document))?;
                walk.choose(Field::Citizenship, "kenyan");
                walk.choose(Field::DocumentKind, stand_in);
                walk.type_into(Field::DocumentNumber, "KAM-2026-0142");
                walk.act("focus", "-1");
                walk.shot("document-held")?;
                walk.next(Screen::Login)?;
                walk.shot("login-official")?;
                walk.login(OFFICIAL);
                walk.act("next", "");
                walk.expect(Screen::Form(Page::Names))?;
                walk.act("start-over", "");
                walk.act("confirm-start-over", "yes");
                walk.expect(Screen::Language)?;
            }
        }
    }
    Ok(())
}

/// A foreign resident's passport (issue 18), at each size and in each language: its
/// machine-readable line typed with a digit wrong and the message naming it, then the
/// passport held up to the camera, found and kept. Each walk starts over after the document
/// page.
fn passport(walk: &mut Walk<'_>) -> anyhow::Result<()> {
    // A line for passport AK1234567 (Uganda, born 1 January 1990, expiring 30 June 2031),
    // its check digits right, and the same with the expiry's last digit mistyped.
    const LINE: &str = "AK12345678UGA9001011F3106305<<<<<<<<<<<<<<<6";
    const MISTYPED: &str = "AK12345678UGA9001011F3106315<<<<<<<<<<<<<<<6";
    for size in SIZES {
        for language in ["en", "sw"] {
            walk.begin(size, &format!("passport-{language}"));
            walk.act("language", language);
            walk.expect(Screen::Consent)?;
            walk.act("agree", "applicant");
            walk.act("mode", "self_service");
            walk.expect(Screen::Form(Page::Document))?;
            walk.choose(Field::Citizenship, "foreigner");
            walk.choose(Field::DocumentKind, "passport");
            walk.type_into(Field::DocumentNumber, "AK1234567");
            walk.choose(Field::Nationality, "UGA");
            walk.type_into(Field::Mrz, MISTYPED);
            walk.act("next", "");
            walk.expect(Screen::Form(Page::Document))?;
            walk.shot("document-zone-mistyped")?;
            walk.act("focus", &Field::Mrz.index().to_string());
            for _ in 0..MISTYPED.len() {
                walk.act("backspace", "");
            }
            walk.type_into(Field::Mrz, LINE);
            walk.act("focus", "-1");
            walk.act("document-photo", "");
            walk.expect(Screen::DocumentPhoto)?;
            // The first frame in which the passport is found, before it is kept.
            walk.wait(Duration::from_secs(30), |app| {
                app.session().document_steady > 0 || app.session().document_advice.is_some()
            })?;
            if walk.app.session().draft().document_photo.is_none() {
                walk.shot("document-photo-live")?;
            }
            walk.wait(Duration::from_secs(30), |app| {
                app.session().draft().document_photo.is_some()
            })?;
            walk.shot("document-photo-taken")?;
            walk.next(Screen::Form(Page::Document))?;
            walk.shot("document-photographed")?;
            walk.next(Screen::Form(Page::Names))?;
            walk.act("start-over", "");
            walk.act("confirm-start-over", "yes");
            walk.expect(Screen::Language)?;
        }
    }
    Ok(())
}

/// Runs the demo headless: every screen, both languages, both sizes, into `out`.
pub fn screenshots(out: &Path, data: &Path) -> anyhow::Result<Vec<String>> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    walk_everything(Some(out), data, None)
}

/// Walks the scripted enrolment in both languages at both sizes, headless; with `out`, writes
/// each screen there; `inspect` looks at each screen. Returns the registration numbers.
pub fn walk_everything(
    out: Option<&Path>,
    data: &Path,
    inspect: Option<Inspect>,
) -> anyhow::Result<Vec<String>> {
    let screen = headless::install().map_err(|e| anyhow::anyhow!("{e}"))?;
    let device = throwaway_device(data)?;
    let (devices, printer) = twins::devices_with_printer(4).map_err(|e| anyhow::anyhow!(e))?;
    let ui = KioskWindow::new().map_err(|e| anyhow::anyhow!("{e}"))?;
    ui.show().map_err(|e| anyhow::anyhow!("{e}"))?;
    let app = App::new(device, devices, Box::new(SystemClock), ui);
    let mut walk = Walk::new(app, &screen, SIZES[0], out.map(Path::to_path_buf));
    walk.inspect = inspect;
    walk.print_on(printer);
    let mut numbers = Vec::new();
    for size in SIZES {
        for language in ["en", "sw"] {
            walk.begin(size, language);
            let number = scripted_enrolment(&mut walk, language)?;
            println!("{}: sealed {number}, {} screens", walk.prefix, walk.shots);
            numbers.push(number);
        }
    }
    // Larger text and high contrast, where text is tightest (the small panel, Kiswahili)
    // and on the large panel in English.
    for (size, language) in [(SIZES[1], "sw"), (SIZES[0], "en")] {
        walk.begin(size, &format!("large-{language}"));
        let number = accessible_enrolment(&mut walk, language)?;
        println!("{}: sealed {number}, {} screens", walk.prefix, walk.shots);
        numbers.push(number);
    }
    institutions(&mut walk)?;
    passport(&mut walk)?;
    withdrawn(&mut walk)?;
    // The bedside needs another camera: a kiosk of its own, drawn on the same screen.
    let inspect = walk.inspect.take();
    drop(walk);
    bedside(&screen, out, &data.join("hospital"), inspect)?;
    Ok(numbers)
}

/// A hospital's kiosk at a bedside (issue 19), at each size and in each language: the
/// camera sees someone lying down, so no face check passes; the operator takes the photo
/// anyway with a reason, and a finger in a cast is recorded with the day to come back.
fn bedside(
    screen: &headless::Screen,
    out: Option<&Path>,
    data: &Path,
    inspect: Option<Inspect>,
) -> anyhow::Result<()> {
    let device = throwaway_device(data)?;
    let mut policy = demo_policy(2, Settings::default())?;
    policy.centre = Some(Centre {
        id: "DEMO-HOSPITAL".into(),
        name: "Kenyatta National Hospital".into(),
        kind: CentreKind::Hospital,
    });
    take_policy(&device, &policy)?;
    let devices = super::devices::Devices::start(
        Some(twins::camera_lying(15).map_err(|e| anyhow::anyhow!(e))?),
        Some(twins::sensor(twins::prints(4)).map_err(|e| anyhow::anyhow!(e))?),
    )
    .without_input_list();
    let ui = KioskWindow::new().map_err(|e| anyhow::anyhow!("{e}"))?;
    ui.show().map_err(|e| anyhow::anyhow!("{e}"))?;
    let app = App::new(device, devices, Box::new(SystemClock), ui);
    let mut walk = Walk::new(app, screen, SIZES[0], out.map(Path::to_path_buf));
    walk.inspect = inspect;
    for size in SIZES {
        for language in ["en", "sw"] {
            walk.begin(size, &format!("bedside-{language}"));
            bedside_enrolment(&mut walk, language)?;
        }
    }
    Ok(())
}

/// One bedside walk, up to the finger in a cast; then the session is started over.
fn bedside_enrolment(walk: &mut Walk<'_>, language: &str) -> anyhow::Result<()> {
    walk.expect(Screen::Language)?;
    walk.act("language", language);
    walk.act("agree", "applicant");
    walk.act("mode", "assisted");
    walk.login(OPERATOR);
    walk.next(Screen::Form(Page::Document))?;
    walk.choose(Field::Citizenship, "kenyan");
    walk.choose(Field::DocumentKind, "national_id");
    walk.type_into(Field::DocumentNumber, "51525354");
    walk.choose(Field::Purpose, "new");
    walk.next(Screen::Form(Page::Names))?;
    walk.type_into(Field::Surname, "NJERI");
    walk.type_into(Field::FirstName, "MARY");
    walk.next(Screen::Form(Page::Birth))?;
    walk.type_into(Field::DateOfBirth, "02021961");
    walk.choose(Field::Sex, "female");
    walk.choose(Field::BirthCounty, "47");
    walk.next(Screen::Form(Page::About))?;
    walk.choose(Field::MaritalStatus, "widowed");
    walk.choose(Field::Disability, "physical");
    walk.next(Screen::Form(Page::Work))?;
    walk.choose(Field::Education, "secondary");
    walk.choose(Field::Employment, "retired");
    walk.next(Screen::Form(Page::Residence))?;
    walk.type_into(Field::EthnicGroup, "KIKUYU");
    walk.choose(Field::County, "47");
    walk.choose(Field::SubCounty, "Kibra");
    walk.type_into(Field::Location, "LAINI SABA");
    walk.next(Screen::Form(Page::Numbers))?;
    walk.next(Screen::Photo)?;
    walk.wait(Duration::from_secs(30), |app| {
        app.session().photo_advice.is_some()
    })?;
    walk.shot("photo-bedside")?;
    let tr = |en: &'static str, sw: &'static str| if language == "sw" { sw } else { en };
    walk.press(tr("Take the photo anyway", "Piga picha hata hivyo"))?;
    walk.shot("photo-bedside-why")?;
    walk.press(tr("Lying down", "Amelala"))?;
    walk.wait(Duration::from_secs(30), |app| {
        app.session().draft().photo.is_some()
    })?;
    walk.shot("photo-bedside-taken")?;
    walk.next(Screen::Fingers)?;
    // The left index finger (6) is in a cast.
    walk.act("finger", "6");
    walk.press(tr(
        "This finger cannot be printed",
        "Kidole hiki hakiwezi kutoa alama",
    ))?;
    walk.shot("fingers-why-not-hospital")?;
    walk.press(tr("2 weeks", "wiki 2"))?;
    walk.act("finger", "6");
    walk.shot("fingers-come-back")?;
    walk.act("start-over", "");
    walk.act("confirm-start-over", "yes");
    walk.expect(Screen::Language)
}

/// The kiosk in a window on the twins, until the window is closed.
pub fn window(data: &Path) -> anyhow::Result<()> {
    let device = throwaway_device(data)?;
    let devices = twins::devices(4).map_err(|e| anyhow::anyhow!(e))?;
    let ui = KioskWindow::new().map_err(|e| anyhow::anyhow!("{e}"))?;
    let app = App::new(device, devices, Box::new(SystemClock), ui);
    super::run(app).map_err(|e| anyhow::anyhow!("{e}"))
}
