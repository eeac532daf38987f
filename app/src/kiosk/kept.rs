//! No finger taken twice: what the session holds for the same-finger check, and what a print
//! brings back from the sensor's thread, where it is scored and matched.
//!
//! The session keeps the minutiae template of each finger's best print while the enrolment
//! lasts (never journalled: a session back from the journal sends the prints themselves, and
//! the sensor's thread finds their minutiae again). Each capture takes the other fingers' kept
//! prints along; the thread compares the new print with each and says which finger it is, if
//! it is one of them. Templates are wiped when dropped, so they go with the session.

use sha2::{Digest, Sha256};

use super::draft::Draft;
use crate::biometrics::Image;
use crate::biometrics::grey::Grey;
use crate::biometrics::matching::Template;

/// A print the enrolment already keeps under another finger position.
#[derive(Debug, Clone, PartialEq)]
pub struct KeptPrint {
    /// Its finger position (0 right thumb .. 9 left little finger).
    pub finger: usize,
    /// What to compare a new print with.
    pub reference: Reference,
}

/// A kept print as the sensor's thread gets it.
#[derive(Debug, Clone, PartialEq)]
pub enum Reference {
    /// Its minutiae, found when it was taken.
    Template(Template),
    /// The print itself (WSQ), when this session has no template for it (it came back from
    /// the journal after a power cut).
    Print(Image),
}

/// What the sensor's thread found about a print besides its quality.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PrintCheck {
    /// Its minutiae, kept with the print if it becomes the finger's best.
    pub template: Option<Template>,
    /// The finger position of a kept print it matched: the same finger presented again.
    pub same_as: Option<usize>,
    /// The picture, shown beside its quality (a smudge is seen before a score is read).
    pub picture: Option<Grey>,
}

/// The templates of the prints kept, each tied to the print it came from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeptTemplates {
    /// Finger position, SHA-256 of the print's WSQ bytes, its template.
    entries: Vec<(usize, [u8; 32], Template)>,
}

fn digest(image: &Image) -> [u8; 32] {
    Sha256::digest(&image.data).into()
}

impl KeptTemplates {
    /// Keeps `template` as the one of `finger`'s print `image`, in place of any before.
    pub fn keep(&mut self, finger: usize, image: &Image, template: Template) {
        self.entries.retain(|(f, _, _)| *f != finger);
        self.entries.push((finger, digest(image), template));
    }

    /// The prints `draft` keeps under positions other than `current`, each with its template
    /// when one was found for that very print (a print replaced or cleared since has none).
    pub fn others(&self, draft: &Draft, current: usize) -> Vec<KeptPrint> {
        draft
            .fingers
            .iter()
            .enumerate()
            .filter(|(finger, slot)| *finger != current && slot.exception.is_none())
            .filter_map(|(finger, slot)| {
                let (image, _) = slot.best.as_ref()?;
                let hash = digest(image);
                let reference = self
                    .entries
                    .iter()
                    .find(|(f, h, _)| *f == finger && *h == hash)
                    .map_or_else(
                        || Reference::Print(image.clone()),
                        |(_, _, template)| Reference::Template(template.clone()),
                    );
                Some(KeptPrint { finger, reference })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::biometrics::ImageFormat;
    use crate::biometrics::synth::SyntheticFinger;
    use crate::kiosk::{Action, Screen, Session};

    fn print(n: u8) -> Image {
        Image {
            format: ImageFormat::Wsq,
            width: 256,
            height: 288,
            data: vec![n; 8],
        }
    }

    fn template(seed: u64) -> Template {
        let finger = SyntheticFinger::new(seed, 256, 288);
        Template::new(&Grey::new(256, 288, finger.impression(0)).expect("picture"))
            .expect("template")
    }

    fn on_fingers() -> Session {
        let today = time::Date::from_calendar_date(2026, time::Month::November, 27).expect("day");
        let mut session = Session::new(1, today);
        session.saved.screen = Screen::Fingers;
        session
    }

    fn captured(session: &mut Session, n: u8, check: PrintCheck) {
        session.apply(Action::CaptureFinger);
        session.apply(Action::FingerCaptured {
            image: print(n),
            score: 80,
            advice: Vec::new(),
            check,
        });
    }

    #[test]
    fn a_finger_already_kept_is_refused_for_another_position_and_named() {
        let mut s = on_fingers();
        let thumb = template(1);
        captured(
            &mut s,
            1,
            PrintCheck {
                template: Some(thumb.clone()),
                ..PrintCheck::default()
            },
        );
        assert_eq!(
            s.saved.finger, 1,
            "the thumb is kept, the index finger comes"
        );
        assert_eq!(
            s.kept_prints(),
            vec![KeptPrint {
                finger: 0,
                reference: Reference::Template(thumb.clone()),
            }],
            "the next capture is compared with the thumb's template"
        );
        captured(
            &mut s,
            2,
            PrintCheck {
                template: Some(thumb),
                same_as: Some(0),
                picture: None,
            },
        );
        assert_eq!(s.notice.as_deref(), Some("same-finger"));
        assert_eq!(s.same_finger, Some(0));
        assert_eq!(s.saved.finger, 1, "the index finger is still asked for");
        let index = &s.draft().fingers[1];
        assert!(index.best.is_none() && index.attempts == 0, "{index:?}");
        // The right finger next: kept, and the notice goes.
        captured(&mut s, 3, PrintCheck::default());
        assert_eq!(s.notice, None);
        assert_eq!(s.same_finger, None);
        assert!(s.draft().fingers[1].best.is_some());
        assert_eq!(s.saved.finger, 2);
    }

    #[test]
    fn a_print_without_its_template_is_sent_whole_and_a_replaced_one_is_not_matched_by_its_old_template()
     {
        let mut s = on_fingers();
        // Back from the journal: the thumb's print is there, its template is not.
        s.saved.draft.fingers[0].best = Some((print(1), 80));
        s.saved.finger = 1;
        assert_eq!(
            s.kept_prints(),
            vec![KeptPrint {
                finger: 0,
                reference: Reference::Print(print(1)),
            }]
        );
        s.kept.keep(0, &print(9), template(1));
        assert!(
            matches!(s.kept_prints()[0].reference, Reference::Print(_)),
            "a template of another print is not the kept print's"
        );
        s.kept.keep(0, &print(1), template(1));
        assert!(matches!(
            s.kept_prints()[0].reference,
            Reference::Template(_)
        ));
        // The current finger and fingers with an exception are left out.
        s.saved.finger = 0;
        assert!(s.kept_prints().is_empty());
    }
}
