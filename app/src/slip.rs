//! The acknowledgement slip the receipt printer gives an applicant once their record is
//! sealed: the registration number large and as a QR code, their name, the date, the centre
//! and what to do next, in the session's language. This module only says what is on it, as
//! ESC/POS bytes; printing belongs to the printer's thread (`ui::devices`).

use sajili_drivers::printer::escpos::{Align, COLUMNS, Job, QrLevel};
use time::Date;
use zeroize::Zeroize;

use crate::form::Language;

/// Dots a QR module: a 16-symbol number makes a 29-module code, 232 dots (29 mm) across.
const QR_MODULE: u8 = 8;

/// What one slip says. The name is wiped from memory when the slip is dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Slip {
    /// The registration number.
    pub number: String,
    /// The applicant's names, as entered.
    pub name: String,
    /// The day the record was sealed (Kenyan time).
    pub date: Date,
    /// The centre's name, when the fleet policy gives one.
    pub centre: Option<String>,
    /// The language the applicant used.
    pub language: Language,
}

impl std::fmt::Debug for Slip {
    // The number is not personal; the name stays out of any log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Slip({}, {})", self.number, self.language.code())
    }
}

impl Drop for Slip {
    fn drop(&mut self) {
        self.name.zeroize();
    }
}

/// The slip's fixed words in one language.
pub struct Words {
    /// The issuer, at the top.
    pub issuer: &'static str,
    /// What the slip is.
    pub title: &'static str,
    /// Above the number.
    pub number: &'static str,
    /// Before the name.
    pub name: &'static str,
    /// Before the date.
    pub date: &'static str,
    /// Before the centre.
    pub centre: &'static str,
    /// What to do next.
    pub next: &'static str,
    /// At the foot.
    pub keep: &'static str,
}

/// The slip's words in `language`.
pub fn words(language: Language) -> Words {
    match language {
        Language::English => Words {
            issuer: "REPUBLIC OF KENYA",
            title: "Acknowledgement of enrolment",
            number: "Registration number",
            name: "Name",
            date: "Date",
            centre: "Centre",
            next: "Your card will be made from this enrolment. Collect it at the centre \
                   where you enrolled when you are told it is ready, with this slip and the \
                   document you enrolled with.",
            keep: "Keep this slip: you need its number to collect your card.",
        },
        Language::Kiswahili => Words {
            issuer: "JAMHURI YA KENYA",
            title: "Uthibitisho wa usajili",
            number: "Nambari ya usajili",
            name: "Jina",
            date: "Tarehe",
            centre: "Kituo",
            next: "Kadi yako itatengenezwa kutokana na usajili huu. Ichukue katika kituo \
                   ulichojisajili utakapoarifiwa iko tayari, pamoja na karatasi hii na hati \
                   uliyotumia kujisajili.",
            keep: "Hifadhi karatasi hii: utahitaji nambari yake kuchukua kadi yako.",
        },
    }
}

/// `text` broken into lines of at most `width` characters, at spaces where it can be (a word
/// longer than a line is cut).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        while word.len() > width {
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            lines.push(word.drain(..width).collect());
        }
        let word: String = word.into_iter().collect();
        let needed = line.chars().count() + usize::from(!line.is_empty()) + word.chars().count();
        if needed > width && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

impl Slip {
    /// The ESC/POS job that prints it.
    pub fn job(&self) -> Vec<u8> {
        let words = words(self.language);
        let rule = "-".repeat(COLUMNS);
        let mut job = Job::new();
        job.align(Align::Centre)
            .bold(true)
            .line(words.issuer)
            .bold(false)
            .line(words.title)
            .line(&rule)
            .line(words.number)
            .size(2, 2)
            .bold(true)
            .line(&self.number)
            .size(1, 1)
            .bold(false)
            .feed(1)
            .qr(self.number.as_bytes(), QR_MODULE, QrLevel::M)
            .feed(1)
            .align(Align::Left);
        let date = format!(
            "{:02}/{:02}/{}",
            self.date.day(),
            u8::from(self.date.month()),
            self.date.year()
        );
        let mut facts = vec![(words.name, self.name.as_str()), (words.date, &date)];
        if let Some(centre) = &self.centre {
            facts.push((words.centre, centre));
        }
        let label_width = facts
            .iter()
            .map(|(l, _)| l.chars().count())
            .max()
            .unwrap_or(0)
            + 2;
        for (label, value) in facts {
            let mut lines = wrap(value, COLUMNS - label_width).into_iter();
            job.bold(true)
                .text(&format!("{:<label_width$}", format!("{label}:")))
                .bold(false)
                .line(&lines.next().unwrap_or_default());
            for more in lines {
                job.text(&" ".repeat(label_width)).line(&more);
            }
        }
        job.line(&rule);
        for line in wrap(words.next, COLUMNS) {
            job.line(&line);
        }
        job.feed(1).bold(true);
        for line in wrap(words.keep, COLUMNS) {
            job.line(&line);
        }
        job.bold(false).feed(4).cut(0);
        job.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sajili_drivers::printer::interpret::{Op, interpret};

    fn slip(language: Language) -> Slip {
        Slip {
            number: "KE7Q-2M4D-0001-X".into(),
            name: "WANJIKU MUTHONI NJERI".into(),
            date: time::macros::date!(2026 - 11 - 27),
            centre: Some("Huduma Centre GPO".into()),
            language,
        }
    }

    fn text_of(bytes: &[u8]) -> String {
        interpret(bytes)
            .into_iter()
            .map(|op| match op {
                Op::Text(t) => String::from_utf8_lossy(&t).into_owned(),
                Op::LineFeed => "\n".into(),
                _ => String::new(),
            })
            .collect()
    }

    #[test]
    fn the_slip_says_who_when_where_and_carries_the_number_as_a_qr_code() {
        let bytes = slip(Language::English).job();
        let text = text_of(&bytes);
        for said in [
            "KE7Q-2M4D-0001-X",
            "Name:   WANJIKU MUTHONI NJERI\n",
            "Date:   27/11/2026\n",
            "Centre: Huduma Centre GPO\n",
            "Keep this slip",
        ] {
            assert!(text.contains(said), "{said:?} not in:\n{text}");
        }
        let ops = interpret(&bytes);
        assert!(ops.contains(&Op::QrStore(b"KE7Q-2M4D-0001-X".to_vec())));
        assert_eq!(ops.last(), Some(&Op::Cut));
        assert!(text.lines().all(|l| l.chars().count() <= COLUMNS), "{text}");
    }

    #[test]
    fn in_kiswahili_every_word_is_kiswahili_and_a_slip_without_a_centre_leaves_it_out() {
        let mut sw = slip(Language::Kiswahili);
        sw.centre = None;
        let text = text_of(&sw.job());
        for said in [
            "JAMHURI YA KENYA",
            "Nambari ya usajili",
            "Jina:",
            "Tarehe:",
            "Hifadhi",
        ] {
            assert!(text.contains(said), "{said:?} not in:\n{text}");
        }
        for english in ["Name", "Date", "Keep", "REPUBLIC", "Kituo", "Centre"] {
            assert!(!text.contains(english), "{english:?} in:\n{text}");
        }
    }

    #[test]
    fn wrapping_breaks_at_spaces_and_cuts_only_words_longer_than_a_line() {
        assert_eq!(wrap("a bb ccc dddd", 6), ["a bb", "ccc", "dddd"]);
        assert_eq!(wrap("abcdefgh ij", 3), ["abc", "def", "gh", "ij"]);
        assert!(wrap("", 5).is_empty());
    }
}
