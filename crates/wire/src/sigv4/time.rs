//! Timestamps as SigV4 writes them: ISO-8601 basic (`20261126T000000Z`) in `X-Amz-Date`
//! and the credential scope, IMF-fixdate (`Thu, 26 Nov 2026 00:00:00 GMT`) in `Date`.
//!
//! Hand-rolled (civil-from-days arithmetic) rather than pulling a date crate into the
//! hot path: SigV4 needs exactly these two formats and seconds since the epoch.

use std::fmt;

/// A point in time with second precision, as carried by a signed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AmzDate {
    epoch_secs: i64,
}

/// Years outside this range are not something a client signs with; bounding them keeps
/// the arithmetic far away from overflow.
const YEAR_MIN: i64 = 1970;
const YEAR_MAX: i64 = 9999;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];

impl AmzDate {
    pub fn from_epoch_secs(epoch_secs: i64) -> Self {
        Self { epoch_secs }
    }

    /// From milliseconds since the epoch (the unit of `nimbus_core::Clock`), truncated.
    pub fn from_epoch_millis(epoch_millis: i64) -> Self {
        Self {
            epoch_secs: epoch_millis.div_euclid(1000),
        }
    }

    pub fn epoch_secs(&self) -> i64 {
        self.epoch_secs
    }

    /// Parses ISO-8601 basic format `YYYYMMDDTHHMMSSZ`, the only form AWS accepts in
    /// `X-Amz-Date`.
    pub fn parse_basic(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() != 16 || b.get(8) != Some(&b'T') || b.get(15) != Some(&b'Z') {
            return None;
        }
        let year = digits(b, 0, 4)?;
        let month = digits(b, 4, 2)?;
        let day = digits(b, 6, 2)?;
        let hour = digits(b, 9, 2)?;
        let minute = digits(b, 11, 2)?;
        let second = digits(b, 13, 2)?;
        Self::from_parts(year, month, day, hour, minute, second)
    }

    /// Parses the HTTP `Date` header (IMF-fixdate, RFC 7231), e.g.
    /// `Thu, 26 Nov 2026 00:00:00 GMT`. The weekday is not cross-checked: clients that
    /// get it wrong still mean the date they wrote.
    pub fn parse_http_date(s: &str) -> Option<Self> {
        let s = s.trim();
        let rest = s.split_once(", ").map(|(_, r)| r)?;
        let mut parts = rest.split(' ');
        let day = parts.next()?.parse::<i64>().ok()?;
        let month_name = parts.next()?;
        let year = parts.next()?.parse::<i64>().ok()?;
        let time = parts.next()?;
        if parts.next()? != "GMT" || parts.next().is_some() {
            return None;
        }
        let month = MONTHS.iter().position(|m| *m == month_name)? as i64 + 1;
        let mut hms = time.split(':');
        let hour = hms.next()?.parse::<i64>().ok()?;
        let minute = hms.next()?.parse::<i64>().ok()?;
        let second = hms.next()?.parse::<i64>().ok()?;
        if hms.next().is_some() {
            return None;
        }
        Self::from_parts(year, month, day, hour, minute, second)
    }

    fn from_parts(
        year: i64,
        month: i64,
        day: i64,
        hour: i64,
        minute: i64,
        second: i64,
    ) -> Option<Self> {
        if !(YEAR_MIN..=YEAR_MAX).contains(&year)
            || !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year, month)
            || !(0..=23).contains(&hour)
            || !(0..=59).contains(&minute)
            // 60 admits a leap second as written; it just rolls into the next minute.
            || !(0..=60).contains(&second)
        {
            return None;
        }
        let days = days_from_civil(year, month, day);
        Some(Self {
            epoch_secs: days * 86_400 + hour * 3_600 + minute * 60 + second,
        })
    }

    fn civil(&self) -> (i64, i64, i64, i64, i64, i64) {
        let days = self.epoch_secs.div_euclid(86_400);
        let secs_of_day = self.epoch_secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        (
            y,
            m,
            d,
            secs_of_day / 3_600,
            (secs_of_day % 3_600) / 60,
            secs_of_day % 60,
        )
    }

    /// `YYYYMMDDTHHMMSSZ`.
    pub fn to_basic(&self) -> String {
        let (y, mo, d, h, mi, s) = self.civil();
        format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z")
    }

    /// `YYYYMMDD`, the date element of a credential scope.
    pub fn date_stamp(&self) -> String {
        let (y, mo, d, ..) = self.civil();
        format!("{y:04}{mo:02}{d:02}")
    }

    /// Whether `text` is [`date_stamp`](Self::date_stamp), without formatting one: every
    /// signed request asks.
    pub fn is_date_stamp(&self, text: &str) -> bool {
        let (y, mo, d, ..) = self.civil();
        if !(0..=9999).contains(&y) {
            return text == self.date_stamp();
        }
        let digits = [
            y / 1000,
            y / 100 % 10,
            y / 10 % 10,
            y % 10,
            mo / 10,
            mo % 10,
            d / 10,
            d % 10,
        ];
        text.len() == digits.len()
            && text
                .bytes()
                .zip(digits)
                .all(|(b, n)| i64::from(b) == i64::from(b'0') + n)
    }

    /// IMF-fixdate for the HTTP `Date` response header.
    pub fn to_http_date(&self) -> String {
        let (y, mo, d, h, mi, s) = self.civil();
        let weekday = WEEKDAYS
            .get(self.epoch_secs.div_euclid(86_400).rem_euclid(7) as usize)
            .copied()
            .unwrap_or("Thu");
        let month = MONTHS
            .get((mo - 1).clamp(0, 11) as usize)
            .copied()
            .unwrap_or("Jan");
        format!("{weekday}, {d:02} {month} {y:04} {h:02}:{mi:02}:{s:02} GMT")
    }

    /// ISO-8601 extended with milliseconds, as STS and IAM write timestamps
    /// (`2026-11-26T00:00:00Z`).
    pub fn to_iso8601(&self) -> String {
        let (y, mo, d, h, mi, s) = self.civil();
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    }

    pub fn plus_secs(&self, secs: i64) -> Self {
        Self {
            epoch_secs: self.epoch_secs.saturating_add(secs),
        }
    }
}

impl fmt::Display for AmzDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_basic())
    }
}

fn digits(b: &[u8], start: usize, len: usize) -> Option<i64> {
    let slice = b.get(start..start + len)?;
    let mut v = 0i64;
    for c in slice {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some(v)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn basic_format_round_trips() {
        let d = AmzDate::parse_basic("20150830T123600Z").unwrap();
        assert_eq!(d.epoch_secs(), 1_440_938_160);
        assert_eq!(d.to_basic(), "20150830T123600Z");
        assert_eq!(d.date_stamp(), "20150830");
        assert_eq!(d.to_http_date(), "Sun, 30 Aug 2015 12:36:00 GMT");
        assert_eq!(d.to_iso8601(), "2015-08-30T12:36:00Z");
    }

    #[test]
    fn basic_format_rejects_garbage() {
        for bad in [
            "",
            "201",
            "2015-08-30T12:36:00Z",
            "20150830T123600",
            "20151330T123600Z",
            "20150230T123600Z",
            "20150830T243600Z",
            "2015083aT123600Z",
            "20150830X123600Z",
        ] {
            assert!(AmzDate::parse_basic(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn leap_days() {
        assert!(AmzDate::parse_basic("20240229T000000Z").is_some());
        assert!(AmzDate::parse_basic("20230229T000000Z").is_none());
        assert!(AmzDate::parse_basic("20000229T000000Z").is_some());
        assert!(AmzDate::parse_basic("21000229T000000Z").is_none());
    }

    #[test]
    fn http_date_parses() {
        let d = AmzDate::parse_http_date("Sun, 30 Aug 2015 12:36:00 GMT").unwrap();
        assert_eq!(d.to_basic(), "20150830T123600Z");
        assert!(AmzDate::parse_http_date("30 Aug 2015 12:36:00 GMT").is_none());
        assert!(AmzDate::parse_http_date("Sun, 30 Foo 2015 12:36:00 GMT").is_none());
        assert!(AmzDate::parse_http_date("Sun, 30 Aug 2015 12:36:00 UTC").is_none());
    }

    #[test]
    fn date_stamp_check_matches_the_formatted_stamp() {
        for secs in [
            0i64,
            86_399,
            86_400,
            951_782_400,
            1_700_000_000,
            4_102_444_800,
        ] {
            let t = AmzDate::from_epoch_millis(secs * 1000);
            let stamp = t.date_stamp();
            assert!(t.is_date_stamp(&stamp), "{stamp}");
            assert!(!t.is_date_stamp(&stamp[..7]));
            assert!(!t.is_date_stamp("2026112"));
            let mut other = stamp.into_bytes();
            other[7] = if other[7] == b'9' { b'0' } else { other[7] + 1 };
            assert!(!t.is_date_stamp(std::str::from_utf8(&other).unwrap()));
        }
    }

    #[test]
    fn civil_round_trip_over_many_days() {
        // Every day from 1970 to ~2100 converts back to itself.
        for day in (0..47_000).step_by(7) {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
        }
    }

    #[test]
    fn from_millis_truncates() {
        assert_eq!(AmzDate::from_epoch_millis(1_999).epoch_secs(), 1);
        assert_eq!(AmzDate::from_epoch_millis(0).to_basic(), "19700101T000000Z");
    }
}
