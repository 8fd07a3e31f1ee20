//! ISO 8601 timestamps for the XML and query protocols (`2011-07-15T23:28:33.359Z`),
//! without a date-time dependency.

/// Days since 1970-01-01 to a civil (year, month, day); Howard Hinnant's algorithm.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Formats epoch seconds as `YYYY-MM-DDTHH:MM:SSZ`, with `.mmm` when the time has
/// milliseconds (as AWS does for STS expirations).
pub fn format_iso8601(secs: f64) -> String {
    let millis_total = if secs.is_finite() {
        (secs * 1000.0).round() as i64
    } else {
        0
    };
    let secs_total = millis_total.div_euclid(1000);
    let millis = millis_total.rem_euclid(1000);
    let days = secs_total.div_euclid(86_400);
    let sod = secs_total.rem_euclid(86_400);
    let (y, mo, d) = civil_from_days(days);
    let (h, mi, s) = (sod / 3600, (sod % 3600) / 60, sod % 60);
    if millis == 0 {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    } else {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{millis:03}Z")
    }
}

fn digits(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)` to epoch seconds.
pub fn parse_iso8601(s: &str) -> Option<f64> {
    let (date, time) = s.split_once(['T', 't'])?;
    let mut dp = date.splitn(3, '-');
    let y = digits(dp.next()?)?;
    let mo = u32::try_from(digits(dp.next()?)?).ok()?;
    let d = u32::try_from(digits(dp.next()?)?).ok()?;
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let (clock, offset_secs) = if let Some(c) = time.strip_suffix(['Z', 'z']) {
        (c, 0i64)
    } else if let Some(i) = time.rfind(['+', '-']) {
        let (c, off) = time.split_at(i);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (oh, om) = off
            .get(1..)?
            .split_once(':')
            .unwrap_or((off.get(1..)?, "0"));
        (c, sign * (digits(oh)? * 3600 + digits(om)? * 60))
    } else {
        (time, 0)
    };
    let (hms, frac) = match clock.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (clock, None),
    };
    let mut tp = hms.splitn(3, ':');
    let h = digits(tp.next()?)?;
    let mi = digits(tp.next()?)?;
    let sec = digits(tp.next().unwrap_or("0"))?;
    if h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let frac_secs = match frac {
        Some(f) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => {
            format!("0.{f}").parse::<f64>().ok()?
        }
        Some(_) => return None,
        None => 0.0,
    };
    let days = days_from_civil(y, mo, d);
    let whole = days * 86_400 + h * 3600 + mi * 60 + sec - offset_secs;
    Some(whole as f64 + frac_secs)
}

const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Formats epoch seconds as an HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`), the format of
/// timestamps in restJson/restXml headers.
pub fn format_http_date(secs: f64) -> String {
    let secs_total = if secs.is_finite() {
        secs.floor() as i64
    } else {
        0
    };
    let days = secs_total.div_euclid(86_400);
    let sod = secs_total.rem_euclid(86_400);
    let (y, mo, d) = civil_from_days(days);
    let wd = WEEKDAYS
        .get(days.rem_euclid(7) as usize)
        .copied()
        .unwrap_or("Thu");
    let mon = MONTHS.get(mo as usize - 1).copied().unwrap_or("Jan");
    let (h, mi, s) = (sod / 3600, (sod % 3600) / 60, sod % 60);
    format!("{wd}, {d:02} {mon} {y:04} {h:02}:{mi:02}:{s:02} GMT")
}

/// Parses an HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`) to epoch seconds.
pub fn parse_http_date(s: &str) -> Option<f64> {
    let rest = s.split_once(", ").map_or(s, |(_, r)| r);
    let mut parts = rest.split_ascii_whitespace();
    let d = u32::try_from(digits(parts.next()?)?).ok()?;
    let mon = parts.next()?;
    let mo = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(mon))? as u32 + 1;
    let y = digits(parts.next()?)?;
    let mut tp = parts.next()?.splitn(3, ':');
    let h = digits(tp.next()?)?;
    let mi = digits(tp.next()?)?;
    let sec = digits(tp.next()?)?;
    if !matches!(parts.next(), Some("GMT") | Some("UTC") | None) || !(1..=31).contains(&d) {
        return None;
    }
    if h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    Some((days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec) as f64)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        assert_eq!(format_iso8601(0.0), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_iso8601(1_310_772_513.359),
            "2011-07-15T23:28:33.359Z"
        );
        assert_eq!(
            parse_iso8601("2011-07-15T23:28:33.359Z"),
            Some(1_310_772_513.359)
        );
        assert_eq!(parse_iso8601("1970-01-01T01:00:00+01:00"), Some(0.0));
        assert_eq!(parse_iso8601("nonsense"), None);
        assert_eq!(
            format_http_date(784_111_777.0),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777.0)
        );
        assert_eq!(parse_http_date("Sun, 06 Nov 1994"), None);
    }
}
