//! Property tests for [`proofmark_types::civil`]: days round-trip through dates, and dates and
//! RFC 3339 timestamps agree with GNU `date -u`, the independent judge (one `date -f -` process
//! per batch of Unix times).
//!
//! Gated on the `date` binary through `proofmark_test_support::require_tool`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use proofmark_types::civil::{CivilDate, rfc3339_utc};
use proptest::prelude::*;

/// 9999-12-31T23:59:59Z: past it `%Y` grows a fifth digit and RFC 3339 has no form.
const LAST_SECOND: u64 = 253_402_300_799;
/// 1000-01-01 in days since 1970: before it glibc's `%Y` drops the leading zero.
const FIRST_FOUR_DIGIT_DAY: i64 = -354_285;

/// `date -u -d @N +FORMAT` for every `N` in `seconds`, one line each.
fn judge(date: &Path, seconds: &[i64], format: &str) -> Vec<String> {
    let mut child = Command::new(date)
        .args(["-u", "-f", "-", &format!("+{format}")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let input: String = seconds.iter().map(|s| format!("@{s}\n")).collect();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "date failed on {seconds:?}");
    String::from_utf8(out.stdout).unwrap().lines().map(str::to_owned).collect()
}

fn date_tool() -> Option<std::path::PathBuf> {
    proofmark_test_support::require_tool("date", "coreutils")
}

#[test]
fn known_dates() {
    let cases = [
        (0, "1970-01-01T00:00:00Z"),
        (951_782_400, "2000-02-29T00:00:00Z"),
        (1_772_496_000, "2026-03-03T00:00:00Z"),
        (1_796_212_245, "2026-12-02T11:50:45Z"),
        (1_798_761_599, "2026-12-31T23:59:59Z"),
        (1_798_761_600, "2027-01-01T00:00:00Z"),
        (4_107_542_400, "2100-03-01T00:00:00Z"),
        (LAST_SECOND, "9999-12-31T23:59:59Z"),
    ];
    for (seconds, expected) in cases {
        assert_eq!(rfc3339_utc(seconds), expected, "{seconds}");
        assert_eq!(CivilDate::from_unix_seconds(seconds).to_string(), expected[..10], "{seconds}");
    }
    assert_eq!(CivilDate::from_days(-1).to_string(), "1969-12-31");
    assert_eq!(CivilDate::from_days(-719_528).to_string(), "0000-01-01");
    assert_eq!(CivilDate::new(2000, 2, 29).map(CivilDate::to_days), Some(11_016));
    for (year, month, day) in
        [(2100, 2, 29), (2023, 2, 29), (2026, 4, 31), (2026, 13, 1), (2026, 1, 0)]
    {
        assert_eq!(CivilDate::new(year, month, day), None, "{year}-{month}-{day}");
    }
    // The far ends neither overflow nor lose the round trip.
    for days in [i64::MIN, i64::MIN + 1, i64::MAX - 1, i64::MAX] {
        assert_eq!(CivilDate::from_days(days).to_days(), days);
    }
    assert!(rfc3339_utc(u64::MAX).ends_with("T07:00:15Z"), "{}", rfc3339_utc(u64::MAX));
}

proptest! {
    #[test]
    fn days_round_trip(days in any::<i64>()) {
        let date = CivilDate::from_days(days);
        prop_assert_eq!(date.to_days(), days);
        prop_assert_eq!(CivilDate::new(date.year(), date.month(), date.day()), Some(date));
        if let Some(next) = days.checked_add(1) {
            prop_assert!(CivilDate::from_days(next) > date, "the day after {date} sorts after it");
        }
    }

    #[test]
    fn new_accepts_exactly_the_dates_from_days(
        year in -1_000_000i64..1_000_000,
        month in 0u8..=13,
        day in 0u8..=32,
    ) {
        match CivilDate::new(year, month, day) {
            Some(date) => prop_assert_eq!(CivilDate::from_days(date.to_days()), date),
            // Every real date of the month comes out of `from_days`, so a refused one is not real.
            None => prop_assert!(
                !(1..=12).contains(&month)
                    || day == 0
                    || {
                        let first = CivilDate::new(year, month, 1).unwrap().to_days();
                        (first..first + 31).all(|d| {
                            let c = CivilDate::from_days(d);
                            (c.year(), c.month(), c.day()) != (year, month, day)
                        })
                    },
                "{year}-{month}-{day} refused but real"
            ),
        }
    }
}

proptest! {
    // Each case is one `date` process judging 64 times.
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn rfc3339_agrees_with_gnu_date(seconds in prop::collection::vec(0..=LAST_SECOND, 64)) {
        let Some(date) = date_tool() else { return Ok(()) };
        let signed: Vec<i64> = seconds.iter().map(|&s| i64::try_from(s).unwrap()).collect();
        let expected = judge(&date, &signed, "%Y-%m-%dT%H:%M:%SZ");
        let ours: Vec<String> = seconds.iter().map(|&s| rfc3339_utc(s)).collect();
        prop_assert_eq!(ours, expected);
    }

    #[test]
    fn dates_before_1970_agree_with_gnu_date(
        days in prop::collection::vec(FIRST_FOUR_DIGIT_DAY..=0, 64),
    ) {
        let Some(date) = date_tool() else { return Ok(()) };
        let seconds: Vec<i64> = days.iter().map(|d| d * 86_400).collect();
        let expected = judge(&date, &seconds, "%Y-%m-%d");
        let ours: Vec<String> = days.iter().map(|&d| CivilDate::from_days(d).to_string()).collect();
        prop_assert_eq!(ours, expected);
    }
}
