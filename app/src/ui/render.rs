//! Shows a session on the screens: every property of the `Kiosk` global is set from the
//! session here, and only here.

use std::rc::Rc;

use slint::{
    ComponentHandle, Image as SlintImage, Model, ModelRc, Rgb8Pixel, SharedPixelBuffer, VecModel,
};

use super::{Choice, FieldState, FingerView, Kiosk, KioskWindow, ReviewLine, StatusLine};
use crate::biometrics::photo::Rgb;
use crate::doctor::{Check, StatusFact};
use crate::fleet::Withdrawal;
use crate::form::{COUNTIES, FingerException, Language, country, county, search_countries};
use crate::kiosk::{
    CONSENT_TEXT_VERSION, DaySummary, Entry, FINGER_ACCEPT, Field, LoginPurpose, Page, Rules,
    Screen, Session, show_date,
};
use sajili_record::policy::FleetPolicy;

fn model<T: Clone + 'static>(items: Vec<T>) -> ModelRc<T> {
    ModelRc::from(Rc::new(VecModel::from(items)))
}

fn rgb_image(width: usize, height: usize, rgb: &[u8]) -> SlintImage {
    let mut buffer = SharedPixelBuffer::<Rgb8Pixel>::new(width as u32, height as u32);
    let pixels = buffer.make_mut_bytes();
    if pixels.len() == rgb.len() {
        pixels.copy_from_slice(rgb);
    }
    SlintImage::from_rgb8(buffer)
}

/// A grey print as a picture for the screen.
fn grey_image(grey: &crate::biometrics::grey::Grey) -> SlintImage {
    let mut buffer = SharedPixelBuffer::<Rgb8Pixel>::new(grey.width() as u32, grey.height() as u32);
    for (pixel, &g) in buffer.make_mut_slice().iter_mut().zip(grey.pixels()) {
        *pixel = Rgb8Pixel { r: g, g, b: g };
    }
    SlintImage::from_rgb8(buffer)
}

/// Shows a camera frame in the preview.
pub fn preview(window: &KioskWindow, frame: &sajili_drivers::camera::Frame) {
    let kiosk = window.global::<Kiosk>();
    kiosk.set_preview(rgb_image(frame.width, frame.height, &frame.rgb));
    kiosk.set_preview_live(true);
}

/// Empties the two pictures [`session`] does not set from the session on every render: the
/// camera preview (set by frames) and the decoded photo (set only when it changes). Called
/// when a session ends; the render that follows empties everything else (form values,
/// review, number and QR code) from the fresh session.
pub fn wipe(window: &KioskWindow) {
    let kiosk = window.global::<Kiosk>();
    kiosk.set_preview(SlintImage::default());
    kiosk.set_preview_live(false);
    kiosk.set_photo(SlintImage::default());
    kiosk.set_document_photo(SlintImage::default());
}

/// The parts a correction may change, in the order of `Labels.amended-fields`, with their
/// names for the review (which shows the list as one line).
const AMENDED_FIELDS: [(&str, &str, &str); 10] = [
    ("document", "Document", "Hati"),
    ("names", "Names", "Majina"),
    ("date_of_birth", "Date of birth", "Tarehe ya kuzaliwa"),
    ("sex", "Sex", "Jinsia"),
    ("place_of_birth", "Place of birth", "Mahali pa kuzaliwa"),
    ("guardians", "Parents", "Wazazi"),
    ("marital_status", "Marital status", "Hali ya ndoa"),
    ("ethnic_group", "Ethnic group", "Kabila"),
    ("residence", "Residence", "Makazi"),
    ("numbers", "Other numbers", "Nambari nyingine"),
];

/// What a field shows: a date with its slashes, a county or a country by name.
fn shown(session: &Session, field: Field) -> String {
    let value = session.draft().value(field);
    match field {
        Field::DateOfBirth => show_date(value),
        Field::County | Field::BirthCounty => value
            .parse::<u8>()
            .ok()
            .and_then(county)
            .map_or_else(String::new, |c| c.name.to_owned()),
        Field::Nationality | Field::BirthCountry => match country(value) {
            Some(c) => format!("{} ({})", c.name_in(session.language()), c.code),
            None => value.to_owned(),
        },
        Field::AmendedFields => value
            .split(',')
            .filter_map(|id| AMENDED_FIELDS.iter().find(|(known, _, _)| *known == id))
            .map(|(_, en, sw)| match session.language() {
                Language::Kiswahili => *sw,
                Language::English => *en,
            })
            .collect::<Vec<_>>()
            .join(", "),
        _ => value.to_owned(),
    }
}

/// Countries matching what is typed, by name in the screens' language; Kenya is not offered
/// (a nationality of a foreigner, a place of birth abroad).
fn countries(session: &Session) -> Vec<Choice> {
    let language = session.language();
    let mut found: Vec<Choice> = search_countries(&session.search)
        .filter(|c| c.code != "KEN")
        .map(|c| Choice {
            id: c.code.into(),
            label: c.name_in(language).into(),
        })
        .collect();
    // Names that begin with what is typed come first: "SO" finds Somalia before South Africa's
    // Kiswahili name, which only holds it.
    let typed = session.search.trim().to_lowercase();
    found.sort_by_key(|c| {
        let starts =
            c.label.to_lowercase().starts_with(&typed) || c.id.to_lowercase().starts_with(&typed);
        (!starts, c.label.clone())
    });
    found
}

fn qr_image(text: &str) -> SlintImage {
    let Ok(code) = qrcode::QrCode::new(text.as_bytes()) else {
        return SlintImage::default();
    };
    let modules = code.width();
    let colours = code.to_colors();
    // Four modules of quiet zone, as the standard asks, and 8 pixels a module.
    let scale = 8;
    let side = (modules + 8) * scale;
    let mut rgb = vec![255u8; side * side * 3];
    for (i, colour) in colours.iter().enumerate() {
        if *colour != qrcode::Color::Dark {
            continue;
        }
        let (mx, my) = (i % modules + 4, i / modules + 4);
        for y in my * scale..(my + 1) * scale {
            let row = y * side * 3;
            rgb[row + mx * scale * 3..row + (mx + 1) * scale * 3].fill(0);
        }
    }
    rgb_image(side, side, &rgb)
}

fn review_lines(session: &Session, language: Language) -> Vec<ReviewLine> {
    let problems = session.draft().problems(session.today, None);
    let mut lines = Vec::new();
    for page in Page::ALL {
        if page == Page::Amendment && !session.amends() {
            continue;
        }
        if page == Page::Guardian && session.draft().value(Field::GuardianName).is_empty() {
            let under_age = session
                .age()
                .is_none_or(|age| age < crate::form::AGE_OF_MAJORITY);
            if !under_age {
                continue;
            }
        }
        lines.push(ReviewLine {
            index: -1,
            value: "".into(),
            error: "".into(),
            page: Screen::Form(page).id().into(),
            choice: false,
        });
        for &field in page.fields() {
            if field == Field::Nationality
                && session.draft().value(Field::Citizenship) != "foreigner"
            {
                continue;
            }
            if skip_on_review(session, field) {
                continue;
            }
            let error = problems
                .iter()
                .find(|p| p.field == field.path())
                .map(|p| p.message(language))
                .unwrap_or_default();
            lines.push(ReviewLine {
                index: field.index() as i32,
                value: shown(session, field).into(),
                error: error.into(),
                page: Screen::Form(page).id().into(),
                choice: field.entry() == Entry::Choice
                    && !matches!(
                        field,
                        Field::County
                            | Field::SubCounty
                            | Field::BirthCounty
                            | Field::BirthCountry
                            | Field::AmendedFields
                    ),
            });
        }
    }
    lines
}

/// Lines the review leaves out: the place of birth not given (one is), a second parent not
/// given, the purpose of a new enrolment.
fn skip_on_review(session: &Session, field: Field) -> bool {
    let draft = session.draft();
    let empty = |f: Field| draft.value(f).is_empty();
    match field {
        Field::BirthCounty | Field::BirthCountry => {
            let other = if field == Field::BirthCounty {
                Field::BirthCountry
            } else {
                Field::BirthCounty
            };
            // With neither given, the one the rules ask for stays, with its message.
            let asked = if draft.value(Field::Citizenship) == "foreigner" {
                Field::BirthCountry
            } else {
                Field::BirthCounty
            };
            empty(field) && (!empty(other) || field != asked)
        }
        Field::Guardian2Relationship | Field::Guardian2Name | Field::Guardian2Id => {
            empty(Field::Guardian2Relationship)
                && empty(Field::Guardian2Name)
                && empty(Field::Guardian2Id)
        }
        Field::Purpose => !session.amends(),
        // Optional, and a passport's alone.
        Field::Mrz => empty(Field::Mrz) || draft.value(Field::DocumentKind) != "passport",
        _ => false,
    }
}

/// Which photos the screens hold (a key of each JPEG's buffer), so each is decoded once, not
/// on every touch.
#[derive(Debug, Default)]
pub struct Shown {
    photo: Option<usize>,
    document: Option<usize>,
}

/// A picture decoded from `image`, when its key differs from `shown`'s.
fn changed_picture(
    image: Option<&crate::biometrics::Image>,
    shown: &mut Option<usize>,
) -> Option<SlintImage> {
    let key = image.map(|p| p.data.as_ptr() as usize ^ p.data.len());
    if key == *shown {
        return None;
    }
    *shown = key;
    Some(
        image
            .and_then(|p| Rgb::decode(&p.data).ok())
            .map(|rgb| rgb_image(rgb.width(), rgb.height(), rgb.pixels()))
            .unwrap_or_default(),
    )
}

/// Sets every property of the screens from `session`. `pictures` remembers which photos the
/// screens hold, so each is decoded once, not on every touch.
pub fn session(window: &KioskWindow, session: &Session, pictures: &mut Shown) {
    let kiosk = window.global::<Kiosk>();
    let language = session.language();
    let screen = session.screen();
    let draft = session.draft();
    kiosk.set_screen(screen.id().into());
    kiosk.set_staff_tab(session.staff_tab.id().into());
    kiosk.set_language(language.code().into());
    kiosk.set_notice(session.notice.clone().unwrap_or_default().into());
    kiosk.set_countdown(
        session
            .countdown_ms()
            .map_or(-1, |ms| ms.div_ceil(1000) as i32),
    );
    // A locked session has no way back: only its operator's PIN or a supervisor opens it.
    let locked = screen == Screen::Login && session.saved.login == Some(LoginPurpose::Resume);
    kiosk.set_can_go_back(
        !locked
            && !matches!(
                screen,
                Screen::Language
                    | Screen::Done
                    | Screen::Sealing
                    | Screen::Declined
                    | Screen::Withdrawn
            ),
    );
    kiosk.set_can_start_over(session.can_start_over());
    kiosk.set_confirm_start_over(session.confirm_start_over);
    kiosk.set_next_label(
        match screen {
            Screen::Review => "seal",
            Screen::Login => "sign-in",
            _ => "next",
        }
        .into(),
    );
    kiosk.set_foreigner(draft.value(Field::Citizenship) == "foreigner");

    let page_fields: &[Field] = match screen {
        Screen::Form(page) => page.fields(),
        _ => &[],
    };
    let fields: Vec<FieldState> = Field::ALL
        .iter()
        .map(|&field| {
            let error = if page_fields.contains(&field) || field == Field::GuardianName {
                session
                    .problems
                    .iter()
                    .find(|p| {
                        p.field == field.path()
                            || (field == Field::GuardianName && p.field == "guardians")
                    })
                    .map(|p| p.message(language))
                    .unwrap_or_default()
            } else {
                String::new()
            };
            FieldState {
                value: draft.value(field).into(),
                shown: shown(session, field).into(),
                error: error.into(),
            }
        })
        .collect();
    kiosk.set_fields(model(fields));
    let focus = session.saved.focus.filter(|f| page_fields.contains(f));
    kiosk.set_focus(focus.map_or(-1, |f| f.index() as i32));
    kiosk.set_keyboard(
        match focus.map(Field::entry) {
            // Capitals, digits and the zone's filler `<`.
            _ if focus == Some(Field::Mrz) => "mrz",
            Some(Entry::Letters) => "letters",
            Some(Entry::Digits) => "digits",
            Some(Entry::Text) => "text",
            _ => "none",
        }
        .into(),
    );
    if kiosk.get_counties().row_count() == 0 {
        // By name: people look for their county's name, not its number.
        let mut counties: Vec<Choice> = COUNTIES
            .iter()
            .map(|c| Choice {
                id: c.code.to_string().into(),
                label: c.name.into(),
            })
            .collect();
        counties.sort_by(|a, b| a.label.cmp(&b.label));
        kiosk.set_counties(model(counties));
    }
    let sub_counties = draft
        .value(Field::County)
        .parse::<u8>()
        .ok()
        .and_then(county)
        .map(|c| {
            c.sub_counties
                .iter()
                .map(|name| Choice {
                    id: (*name).into(),
                    label: (*name).into(),
                })
                .collect()
        })
        .unwrap_or_default();
    kiosk.set_sub_counties(model(sub_counties));
    kiosk.set_countries(model(countries(session)));
    kiosk.set_search(session.search.clone().into());
    let amended = draft.value(Field::AmendedFields);
    kiosk.set_amended(model(
        AMENDED_FIELDS
            .iter()
            .map(|(id, _, _)| amended.split(',').any(|chosen| chosen == *id))
            .collect(),
    ));

    kiosk.set_login_purpose(
        match session.saved.login {
            Some(LoginPurpose::Operator) => "operator",
            Some(LoginPurpose::Supervisor) => "supervisor",
            Some(LoginPurpose::Status) => "status",
            Some(LoginPurpose::Resume) => "resume",
            Some(LoginPurpose::Discard) => "discard",
            Some(LoginPurpose::Official) => "official",
            None => "",
        }
        .into(),
    );
    kiosk.set_login_staff(session.login_staff.clone().into());
    kiosk.set_login_pin_length(session.login_pin.len() as i32);
    kiosk.set_login_on_pin(session.login_on_pin);
    kiosk.set_login_wait(
        session
            .login_wait_ms
            .map_or(-1, |ms| ms.div_ceil(1000).min(i32::MAX as u64) as i32),
    );

    kiosk.set_photo_advice(session.photo_advice.clone().unwrap_or_default().into());
    kiosk.set_photo_taken(draft.photo.is_some());
    // The bedside override is a hospital's, for an operator.
    kiosk.set_photo_bedside(
        draft.mode == Some(crate::kiosk::Mode::Assisted)
            && session.rules.centre == sajili_record::policy::CentreKind::Hospital,
    );
    kiosk.set_photo_override(
        draft
            .photo_override
            .as_ref()
            .and_then(|o| o.reason)
            .and_then(|reason| serde_json::to_value(reason).ok())
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
            .into(),
    );
    kiosk.set_steady(session.steady_frames as i32);
    if !matches!(screen, Screen::Photo | Screen::DocumentPhoto) {
        kiosk.set_preview_live(false);
    }
    if let Some(image) = changed_picture(draft.photo.as_ref(), &mut pictures.photo) {
        kiosk.set_photo(image);
    }
    kiosk.set_document_advice(session.document_advice.clone().unwrap_or_default().into());
    kiosk.set_document_taken(draft.document_photo.is_some());
    kiosk.set_document_photographable(draft.has_document_to_photograph());
    if let Some(image) = changed_picture(draft.document_photo.as_ref(), &mut pictures.document) {
        kiosk.set_document_photo(image);
    }

    let fingers = draft
        .fingers
        .iter()
        .map(|slot| {
            let score = slot.best.as_ref().map_or(-1, |(_, s)| i32::from(*s));
            FingerView {
                state: match (&slot.exception, score) {
                    (Some(_), _) => "exception",
                    (None, s) if s >= i32::from(FINGER_ACCEPT) => "done",
                    (None, s) if s >= 0 => "poor",
                    _ => "pending",
                }
                .into(),
                score,
            }
        })
        .collect();
    kiosk.set_fingers(model(fingers));
    let current = draft.fingers.get(session.saved.finger);
    kiosk.set_finger(session.saved.finger as i32);
    kiosk.set_finger_attempts(current.map_or(0, |s| i32::from(s.attempts)));
    let exception = current.and_then(|s| s.exception);
    kiosk.set_finger_exception(
        match exception {
            // The one exception with a value: its name alone picks the words.
            Some(FingerException::TemporarilyUnable { .. }) => "temporarily_unable".to_owned(),
            other => other
                .and_then(|e| serde_json::to_value(e).ok())
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
        }
        .into(),
    );
    kiosk.set_finger_return_on(
        match exception {
            Some(FingerException::TemporarilyUnable { return_on }) => format!(
                "{:02}/{:02}/{}",
                return_on.day(),
                return_on.month() as u8,
                return_on.year()
            ),
            _ => String::new(),
        }
        .into(),
    );
    kiosk.set_last_score(
        session
            .last_print
            .as_ref()
            .map_or(-1, |(s, _)| i32::from(*s)),
    );
    kiosk.set_finger_picture(
        session
            .last_picture
            .as_ref()
            .map(grey_image)
            .unwrap_or_default(),
    );
    kiosk.set_finger_same_as(session.same_finger.map_or(-1, |f| f as i32));
    kiosk.set_finger_advice(model(
        session
            .last_print
            .as_ref()
            .map(|(_, advice)| advice.iter().map(|a| a.as_str().into()).collect())
            .unwrap_or_default(),
    ));
    kiosk.set_capturing(session.capturing);
    kiosk.set_assisted(draft.mode == Some(crate::kiosk::Mode::Assisted));

    if matches!(screen, Screen::Review | Screen::Sealing) {
        kiosk.set_review(model(review_lines(session, language)));
        let others: Vec<slint::SharedString> = session
            .problems
            .iter()
            .filter(|p| !Field::ALL.iter().any(|f| f.path() == p.field))
            .map(|p| p.message(language).into())
            .collect();
        kiosk.set_review_problems(model(others));
    } else if kiosk.get_review().row_count() > 0 {
        // The review's lines live only as long as the review is on screen.
        kiosk.set_review(model(Vec::new()));
        kiosk.set_review_problems(model(Vec::new()));
    }
    match &session.sealed {
        Some(number) if screen == Screen::Done => {
            if kiosk.get_registration_number() != number.as_str() {
                kiosk.set_registration_number(number.as_str().into());
                kiosk.set_qr(qr_image(number));
            }
        }
        _ => {
            if !kiosk.get_registration_number().is_empty() {
                kiosk.set_registration_number("".into());
                kiosk.set_qr(SlintImage::default());
            }
        }
    }
}

/// The status screen's lines: last sync, devices, queue, disk. Words are translated by the
/// screens (`Labels.status-word`); the details beside them are data.
pub fn status_lines(device: &crate::device::Device, health: &[StatusFact]) -> ModelRc<StatusLine> {
    let mut facts = vec![last_sync_fact(device)];
    facts.extend(health.iter().cloned());
    match device.store.status() {
        Ok(status) => {
            facts.push(queue_fact(&status));
            facts.push(StatusFact::detail(
                "sent",
                status.receipts.to_string(),
                true,
            ));
            facts.push(StatusFact::detail(
                "journal",
                status.in_progress.to_string(),
                true,
            ));
        }
        Err(error) => facts.push(StatusFact::error("queue", error)),
    }
    facts.extend(crate::doctor::quick_checks(device));
    lines(facts)
}

fn lines(facts: Vec<StatusFact>) -> ModelRc<StatusLine> {
    model(
        facts
            .into_iter()
            .map(|fact| StatusLine {
                key: fact.key.into(),
                word: fact.word.into(),
                detail: fact.detail.into(),
                good: fact.good,
            })
            .collect(),
    )
}

/// What the fleet policy and the registry say: the languages offered, the policy on the staff
/// screen, the withdrawal's words.
pub fn fleet(
    window: &KioskWindow,
    rules: &Rules,
    policy: Option<&FleetPolicy>,
    withdrawal: Option<&Withdrawal>,
) {
    let kiosk = window.global::<Kiosk>();
    kiosk.set_offer_english(rules.offers(Language::English));
    kiosk.set_offer_kiswahili(rules.offers(Language::Kiswahili));
    kiosk.set_policy_version(policy.map_or(0, |p| p.version.min(i32::MAX as u64) as i32));
    let centre = policy.and_then(|p| p.centre.as_ref());
    kiosk.set_centre_name(centre.map_or_else(String::new, |c| c.name.clone()).into());
    kiosk.set_centre_kind(centre.map_or("", |c| c.kind.as_str()).into());
    let consent = policy
        .map(|p| p.settings.consent_version.as_str())
        .filter(|version| *version != CONSENT_TEXT_VERSION)
        .unwrap_or_default();
    kiosk.set_policy_consent(consent.into());
    kiosk.set_build_consent(CONSENT_TEXT_VERSION.into());
    kiosk.set_withdrawn_detail(
        withdrawal
            .and_then(|w| w.detail.clone())
            .unwrap_or_default()
            .into(),
    );
}

/// The staff screen's end of day: enrolments today per operator, the day's exceptions, and
/// what waits to be sent.
pub fn day(
    window: &KioskWindow,
    device: &crate::device::Device,
    today: time::Date,
    summary: &DaySummary,
) {
    let kiosk = window.global::<Kiosk>();
    kiosk.set_day_date(today.to_string().into());
    kiosk.set_day_total(summary.total().min(i32::MAX as u64) as i32);
    kiosk.set_day_operators(model(
        summary
            .enrolments
            .iter()
            .map(|(operator, count)| StatusLine {
                // A staff number, or `self-service` (translated by the screens).
                key: operator.as_str().into(),
                word: "".into(),
                detail: count.to_string().into(),
                good: true,
            })
            .collect(),
    ));
    let status = device.store.status();
    let mut exceptions = vec![
        StatusFact::detail("signoffs", summary.sign_offs.to_string(), true),
        StatusFact::detail(
            "signoffs_refused",
            summary.sign_offs_refused.to_string(),
            summary.sign_offs_refused == 0,
        ),
        StatusFact::detail(
            "lockouts",
            summary.lockouts.to_string(),
            summary.lockouts == 0,
        ),
        StatusFact::detail(
            "discarded",
            summary.discarded.to_string(),
            summary.discarded == 0,
        ),
        StatusFact::detail("abandoned", summary.abandoned.to_string(), true),
        StatusFact::detail("declined", summary.declined.to_string(), true),
    ];
    let mut sync = Vec::new();
    match &status {
        Ok(status) => {
            exceptions.push(StatusFact::detail(
                "records_refused",
                status.records_refused.to_string(),
                status.records_refused == 0,
            ));
            sync.push(queue_fact(status));
        }
        Err(error) => sync.push(StatusFact::error("queue", error)),
    }
    sync.push(last_sync_fact(device));
    kiosk.set_day_exceptions(lines(exceptions));
    kiosk.set_day_sync(lines(sync));
}

/// The device test's findings, or that it runs.
pub fn device_checks(window: &KioskWindow, running: bool, checks: &[Check]) {
    let kiosk = window.global::<Kiosk>();
    kiosk.set_devices_testing(running);
    kiosk.set_device_checks(lines(
        checks
            .iter()
            .map(|check| StatusFact {
                key: check.kind,
                word: match (check.fitted, check.ok) {
                    (false, _) => "not-fitted",
                    (true, true) => "working",
                    (true, false) => "not-working",
                },
                detail: if check.device.is_empty() {
                    check.detail.clone()
                } else {
                    format!("{}: {}", check.device, check.detail)
                },
                good: check.ok,
            })
            .collect(),
    ));
}

fn queue_fact(status: &crate::store::StoreStatus) -> StatusFact {
    StatusFact::detail(
        "queue",
        format!(
            "{} ({} KB)",
            status.queue_depth,
            status.bytes_waiting / 1024
        ),
        status.queue_depth < 500,
    )
}

fn last_sync_fact(device: &crate::device::Device) -> StatusFact {
    let uplink =
        crate::uplink::state::UplinkState::load(&crate::spool::Spool::new(device.data.root()));
    match (uplink.last_success, &uplink.last_error) {
        (Some(at), _) => StatusFact::detail("last_sync", crate::clock::format_eat(at), true),
        (None, Some(error)) => StatusFact {
            detail: error.clone(),
            ..StatusFact::word("last_sync", "never", false)
        },
        (None, None) => StatusFact::word("last_sync", "never", false),
    }
}
