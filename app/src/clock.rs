//! Time, as far as a device without a clock battery can know it.
//!
//! The device's clock may read 1970 after a power cut, or a far future after a bad sync.
//! Records are never dated before the clock floor: the latest of the build time, the last
//! record sealed, and (with the uplink) the last time the registry signed. A wrong clock can
//! make a date late; it can never lose a record or break the chain's order.

use time::{Date, OffsetDateTime, UtcOffset};

/// When this build was made, Unix seconds: no record is dated earlier.
pub const BUILD_TIME: i64 = parse_build_time(env!("SAJILI_BUILD_TIME"));

const fn parse_build_time(text: &str) -> i64 {
    let bytes = text.as_bytes();
    let mut value: i64 = 0;
    let mut index = 0;
    while index < bytes.len() {
        value = value * 10 + (bytes[index] - b'0') as i64;
        index += 1;
    }
    value
}

/// Kenya keeps East Africa Time all year (UTC+3, no daylight saving).
pub const EAST_AFRICA_TIME: UtcOffset = match UtcOffset::from_hms(3, 0, 0) {
    Ok(offset) => offset,
    Err(_) => UtcOffset::UTC,
};

/// A source of the current time, so tests can set a wrong clock.
pub trait Clock {
    /// Now, Unix seconds, as the device's clock reads it (possibly wrong).
    fn now(&self) -> i64;
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        OffsetDateTime::now_utc().unix_timestamp()
    }
}

/// A clock stopped at a set time (tests, and the clock-skew checks).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub i64);

impl Clock for FixedClock {
    fn now(&self) -> i64 {
        self.0
    }
}

/// The time to date a record: the clock, raised to the floor if it reads earlier.
pub fn floored(clock_now: i64, stored_floor: Option<i64>) -> i64 {
    clock_now
        .max(BUILD_TIME)
        .max(stored_floor.unwrap_or(i64::MIN))
}

/// The calendar date in Kenya at Unix time `at`.
pub fn kenyan_date(at: i64) -> Date {
    OffsetDateTime::from_unix_timestamp(at)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .to_offset(EAST_AFRICA_TIME)
        .date()
}

/// `at` (Unix seconds) as East Africa Time, e.g. `2026-11-26 09:41:07 EAT`.
pub fn format_eat(at: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .map(|t| t.to_offset(EAST_AFRICA_TIME))
        .and_then(|t| t.format(&format).ok())
        .map_or_else(|| at.to_string(), |text| format!("{text} EAT"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn a_clock_reading_1970_is_raised_to_the_floor() {
        assert_eq!(floored(0, None), BUILD_TIME);
        assert_eq!(floored(0, Some(BUILD_TIME + 500)), BUILD_TIME + 500);
        assert_eq!(
            floored(BUILD_TIME + 900, Some(BUILD_TIME + 500)),
            BUILD_TIME + 900
        );
        let build_time = std::hint::black_box(BUILD_TIME);
        assert!(
            build_time > 1_700_000_000,
            "build time {build_time} was not recorded"
        );
    }

    #[test]
    fn dates_are_kenyan_dates() {
        // 2026-11-24 22:30 UTC is already 01:30 on the 25th in Nairobi; 20:30 UTC is not.
        assert_eq!(kenyan_date(1_795_559_400), date!(2026 - 11 - 25));
        assert_eq!(kenyan_date(1_795_552_200), date!(2026 - 11 - 24));
    }
}
