//! The end of a kiosk's day, counted from its audit log: enrolments per operator and the
//! exceptions a supervisor reads before closing (sign-offs, refusals, lockouts, sessions that
//! ended without a record).
//!
//! "Today" is the calendar day in East Africa Time by the device's clock, the day the staff at
//! the screen are living; a wrong clock gives a wrong day, never a wrong record.

use time::Date;

use crate::clock::kenyan_date;
use crate::store::AuditEvent;

/// What one day held, counted from the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DaySummary {
    /// Records sealed per operator (a staff number, or `self-service`), most first, then by
    /// name.
    pub enrolments: Vec<(String, u64)>,
    /// Supervisors' sign-offs given (assisted enrolments, finger exceptions).
    pub sign_offs: u64,
    /// Sign-offs refused (an operator trying to approve their own enrolment).
    pub sign_offs_refused: u64,
    /// Staff numbers made to wait after too many wrong PINs.
    pub lockouts: u64,
    /// Enrolments a supervisor discarded after they were locked.
    pub discarded: u64,
    /// Enrolments left unfinished: walked away from, backed out of, started over.
    pub abandoned: u64,
    /// Applicants who did not consent.
    pub declined: u64,
}

impl DaySummary {
    /// Records sealed that day, all operators.
    pub fn total(&self) -> u64 {
        self.enrolments.iter().map(|(_, count)| count).sum()
    }
}

/// Counts the events of `events` that happened on `day` (East Africa Time).
pub fn summarise_day(events: &[AuditEvent], day: Date) -> DaySummary {
    let mut summary = DaySummary::default();
    let mut per_operator: std::collections::BTreeMap<&str, u64> = Default::default();
    for event in events.iter().filter(|e| kenyan_date(e.at) == day) {
        let counter = match event.action.as_str() {
            "record.sealed" => {
                *per_operator.entry(event.actor.as_str()).or_default() += 1;
                continue;
            }
            "staff.signoff" => &mut summary.sign_offs,
            "staff.signoff_refused" => &mut summary.sign_offs_refused,
            "staff.login_locked" => &mut summary.lockouts,
            // The supervisor's own event (`session.discarded_by_supervisor`) comes with this
            // one: counting both would count each enrolment twice.
            "session.discarded" => &mut summary.discarded,
            "session.abandoned" | "session.idle_wipe" | "session.started_over" => {
                &mut summary.abandoned
            }
            "session.declined" => &mut summary.declined,
            _ => continue,
        };
        *counter += 1;
    }
    let mut enrolments: Vec<(String, u64)> = per_operator
        .into_iter()
        .map(|(actor, count)| (actor.to_owned(), count))
        .collect();
    enrolments.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    summary.enrolments = enrolments;
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-26 00:30 EAT (21:30 UTC the day before).
    const JUST_AFTER_MIDNIGHT: i64 = 1_795_642_200;

    fn event(at: i64, actor: &str, action: &str) -> AuditEvent {
        AuditEvent {
            at,
            actor: actor.into(),
            action: action.into(),
            subject: String::new(),
        }
    }

    fn today() -> Date {
        kenyan_date(JUST_AFTER_MIDNIGHT)
    }

    #[test]
    fn the_day_starts_at_midnight_east_africa_time() {
        assert_eq!(
            today(),
            Date::from_calendar_date(2026, time::Month::November, 26).expect("date")
        );
        assert_ne!(kenyan_date(JUST_AFTER_MIDNIGHT - 3600), today());
    }

    #[test]
    fn enrolments_are_counted_per_operator_most_first() {
        let at = JUST_AFTER_MIDNIGHT + 8 * 3600;
        let events = [
            event(at, "OP-2", "record.sealed"),
            event(at + 1, "self-service", "record.sealed"),
            event(at + 2, "OP-1", "record.sealed"),
            event(at + 3, "OP-2", "record.sealed"),
            event(at + 4, "OP-2", "staff.login"),
            event(at + 5, "OP-1", "record.sealed"),
            event(at + 6, "OP-2", "record.sealed"),
        ];
        let day = summarise_day(&events, today());
        assert_eq!(
            day.enrolments,
            [
                ("OP-2".to_owned(), 3),
                ("OP-1".to_owned(), 2),
                ("self-service".to_owned(), 1)
            ]
        );
        assert_eq!(day.total(), 6);
    }

    #[test]
    fn events_of_yesterday_and_tomorrow_are_not_counted() {
        let events = [
            // 23:59 EAT on the 25th.
            event(JUST_AFTER_MIDNIGHT - 31 * 60, "OP-1", "record.sealed"),
            event(JUST_AFTER_MIDNIGHT - 31 * 60, "SUP-1", "staff.signoff"),
            event(JUST_AFTER_MIDNIGHT, "OP-1", "record.sealed"),
            event(JUST_AFTER_MIDNIGHT + 24 * 3600, "OP-1", "record.sealed"),
        ];
        let day = summarise_day(&events, today());
        assert_eq!(day.enrolments, [("OP-1".to_owned(), 1)]);
        assert_eq!(day.sign_offs, 0);
    }

    #[test]
    fn exceptions_are_counted_once_each() {
        let at = JUST_AFTER_MIDNIGHT + 3600;
        let events = [
            event(at, "SUP-1", "staff.signoff"),
            event(at, "OP-1", "staff.signoff_refused"),
            event(at, "OP-1", "staff.login_refused"),
            event(at, "OP-1", "staff.login_locked"),
            event(at, "SUP-1", "session.discarded_by_supervisor"),
            event(at, "OP-1", "session.discarded"),
            event(at, "self-service", "session.idle_wipe"),
            event(at, "self-service", "session.abandoned"),
            event(at, "self-service", "session.started_over"),
            event(at, "self-service", "session.declined"),
            event(at, "OP-1", "session.locked"),
        ];
        let day = summarise_day(&events, today());
        assert_eq!(
            day,
            DaySummary {
                enrolments: Vec::new(),
                sign_offs: 1,
                sign_offs_refused: 1,
                lockouts: 1,
                discarded: 1,
                abandoned: 3,
                declined: 1,
            }
        );
    }
}
