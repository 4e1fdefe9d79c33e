//! Calendar dates for changelog headings.
//!
//! The release date is always injected (tests pass a fixed one, the xtask passes today's UTC
//! date), so nothing in the planner reads the clock. A dependency on a date crate would be
//! overkill for `YYYY-MM-DD`; the calendar arithmetic is [`proofmark_types::civil`]'s, shared
//! with the other crates.

use std::fmt;
use std::str::FromStr;

use proofmark_types::civil::CivilDate;

use crate::error::Error;

/// A proleptic Gregorian calendar date, rendered as ISO 8601 `YYYY-MM-DD`.
///
/// A [`CivilDate`] whose year fits a `u16`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(CivilDate);

impl Date {
    /// Builds a date, or `None` if it does not exist (e.g. February 30th).
    pub fn new(year: u16, month: u8, day: u8) -> Option<Self> {
        CivilDate::new(i64::from(year), month, day).map(Self)
    }

    /// The UTC date of a Unix timestamp (seconds since 1970-01-01T00:00:00Z).
    ///
    /// A time after year 65535 gives 65535-12-31.
    pub fn from_unix_seconds(seconds: u64) -> Self {
        Self(CivilDate::from_unix_seconds(seconds.min(LAST_SECOND)))
    }

    /// Days from `self` to `later` (negative when `later` is earlier).
    pub fn days_until(self, later: Date) -> i64 {
        later.days_from_epoch() - self.days_from_epoch()
    }

    /// Days since 1970-01-01.
    pub(crate) fn days_from_epoch(self) -> i64 {
        self.0.to_days()
    }

    /// Today's date in UTC, from the system clock.
    pub fn today_utc() -> Self {
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        Self::from_unix_seconds(seconds)
    }
}

/// 65535-12-31T23:59:59Z, the last second whose year fits the `u16` of [`Date::new`].
const LAST_SECOND: u64 = 2_005_949_145_599;

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for Date {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || Error::BadDate { text: text.to_owned() };
        let bytes = text.as_bytes();
        if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
            return Err(bad());
        }
        let number = |range: std::ops::Range<usize>| -> Result<u16, Error> {
            let part = &text[range];
            if !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            part.parse().map_err(|_| bad())
        };
        let year = number(0..4)?;
        let month = u8::try_from(number(5..7)?).map_err(|_| bad())?;
        let day = u8::try_from(number(8..10)?).map_err(|_| bad())?;
        Self::new(year, month, day).ok_or_else(bad)
    }
}

impl serde::Serialize for Date {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let cases = [
            ("2026-11-28", Some("2026-11-28")),
            ("2024-02-29", Some("2024-02-29")),
            ("2023-02-29", None),
            ("2100-02-29", None),
            ("2000-02-29", Some("2000-02-29")),
            ("2026-13-01", None),
            ("2026-1-01", None),
            ("2026-01-00", None),
            ("+026-01-01", None),
            ("", None),
        ];
        for (text, expected) in cases {
            let got = text.parse::<Date>().ok().map(|d| d.to_string());
            assert_eq!(got.as_deref(), expected, "{text}");
        }
    }

    #[test]
    fn days_between_dates() {
        let day = |text: &str| text.parse::<Date>().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(day("2026-11-28").days_until(day("2026-12-15")), 17);
        assert_eq!(day("2024-02-28").days_until(day("2024-03-01")), 2);
        assert_eq!(day("2026-01-01").days_until(day("2025-12-31")), -1);
        assert_eq!(day("1970-01-01").days_from_epoch(), 0);
    }

    #[test]
    fn unix_seconds_match_known_dates() {
        let cases = [
            (0, "1970-01-01"),
            (951_782_400, "2000-02-29"),
            (1_798_675_200, "2026-12-31"),
            (1_798_761_599, "2026-12-31"),
            (1_798_761_600, "2027-01-01"),
            (LAST_SECOND, "65535-12-31"),
            (LAST_SECOND + 1, "65535-12-31"),
            (u64::MAX, "65535-12-31"),
        ];
        for (seconds, expected) in cases {
            assert_eq!(Date::from_unix_seconds(seconds).to_string(), expected, "{seconds}");
        }
    }
}
