//! Calendar dates and RFC 3339 UTC timestamps from Unix time, without a date crate.
//!
//! Changelog headings, dependency reports and attestation annotations each need "this Unix
//! time as a UTC date"; this is the one place that does the arithmetic (Howard Hinnant's
//! `civil_from_days` and `days_from_civil`, <https://howardhinnant.github.io/date_algorithms.html>).
//! Nothing here reads the clock: callers pass the time in, so tests can pin it.

use std::fmt;

/// Seconds in a UTC day (Unix time has no leap seconds).
const SECONDS_PER_DAY: u64 = 86_400;
/// Days in a 400-year Gregorian era.
const DAYS_PER_ERA: i128 = 146_097;
/// Days from 0000-03-01 to 1970-01-01: the algorithms count from a March 1st so that the leap
/// day falls at the end of a year.
const EPOCH_SHIFT: i128 = 719_468;

/// A proleptic Gregorian calendar date, shown as ISO 8601 `YYYY-MM-DD`.
///
/// Every value is a real date whose day count since 1970-01-01 fits an `i64`, so
/// [`CivilDate::to_days`] cannot overflow.
///
/// ```
/// use proofmark_types::civil::CivilDate;
///
/// let leap = CivilDate::from_days(11_016);
/// assert_eq!(leap.to_string(), "2000-02-29");
/// assert_eq!((leap.year(), leap.month(), leap.day()), (2000, 2, 29));
/// assert_eq!(CivilDate::new(2000, 2, 29).map(CivilDate::to_days), Some(11_016));
/// assert_eq!(CivilDate::new(2100, 2, 29), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CivilDate {
    // Field order is the sort order.
    year: i64,
    month: u8,
    day: u8,
}

impl CivilDate {
    /// The date, or `None` if it does not exist (February 30th, month 13, …) or lies so far
    /// from 1970 that its day count does not fit an `i64`.
    pub fn new(year: i64, month: u8, day: u8) -> Option<Self> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        i64::try_from(days_from_civil(year, month, day)).ok()?;
        Some(Self { year, month, day })
    }

    /// The date `days` days after 1970-01-01 (before it when negative).
    pub fn from_days(days: i64) -> Self {
        // i128 so that no `days` overflows; the year then stays within ±2.6e16.
        let z = i128::from(days) + EPOCH_SHIFT;
        let era = z.div_euclid(DAYS_PER_ERA);
        let doe = z.rem_euclid(DAYS_PER_ERA); // day of era, 0..=146_096
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // year of era, 0..=399
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of the March-based year
        let mp = (5 * doy + 2) / 153; // month counted from March, 0..=11
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i128::from(month <= 2);
        Self {
            // In range by construction: |year| < 2^55, month 1..=12, day 1..=31.
            year: i64::try_from(year).unwrap_or(i64::MAX),
            month: u8::try_from(month).unwrap_or(1),
            day: u8::try_from(day).unwrap_or(1),
        }
    }

    /// The UTC date of a Unix time (seconds since 1970-01-01T00:00:00Z).
    pub fn from_unix_seconds(seconds: u64) -> Self {
        // u64::MAX / 86_400 < 2^48, so the conversion cannot fail.
        Self::from_days(i64::try_from(seconds / SECONDS_PER_DAY).unwrap_or(i64::MAX))
    }

    /// Days since 1970-01-01 (negative before it); the inverse of [`CivilDate::from_days`].
    pub fn to_days(self) -> i64 {
        // `new` and `from_days` only build dates whose count fits.
        i64::try_from(days_from_civil(self.year, self.month, self.day)).unwrap_or(i64::MAX)
    }

    /// The year (astronomical numbering: 0 is 1 BC).
    pub fn year(self) -> i64 {
        self.year
    }

    /// The month, 1 to 12.
    pub fn month(self) -> u8 {
        self.month
    }

    /// The day of the month, 1 to 31.
    pub fn day(self) -> u8 {
        self.day
    }
}

/// `YYYY-MM-DD`; a year outside 0 to 9999 prints with its sign or more digits.
impl fmt::Display for CivilDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// A Unix time as RFC 3339 UTC with whole seconds, `2026-12-02T11:50:45Z`: the form Go's
/// `time.RFC3339` prints, which cosign writes into annotations and custom predicates.
///
/// ```
/// assert_eq!(proofmark_types::civil::rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
/// ```
pub fn rfc3339_utc(seconds: u64) -> String {
    let date = CivilDate::from_unix_seconds(seconds);
    let rem = seconds % SECONDS_PER_DAY;
    format!("{date}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Days in `month` of `year` (Gregorian leap rule).
fn days_in_month(year: i64, month: u8) -> u8 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Howard Hinnant's `days_from_civil`, in i128 so that no i64 year overflows.
fn days_from_civil(year: i64, month: u8, day: u8) -> i128 {
    let (month, day) = (i128::from(month), i128::from(day));
    let year = i128::from(year) - i128::from(month <= 2);
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let doy = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * DAYS_PER_ERA + doe - EPOCH_SHIFT
}
