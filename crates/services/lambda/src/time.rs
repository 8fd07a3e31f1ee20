//! Date formats Lambda answers with (no time crate: the arithmetic is small and exact).

/// (year, month 1-12, day 1-31) of a day count since 1970-01-01 (proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Howard Hinnant's algorithm: shift the era to start in March so leap days fall last.
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

struct Parts {
    year: i64,
    month: u32,
    day: u32,
    hour: i64,
    minute: i64,
    second: i64,
    millis: i64,
}

fn parts(ms: i64) -> Parts {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    Parts {
        year,
        month,
        day,
        hour: in_day / 3_600_000,
        minute: in_day / 60_000 % 60,
        second: in_day / 1000 % 60,
        millis: in_day % 1000,
    }
}

/// `2019-09-27T19:38:20.000+0000`: LastModified, CreatedDate, CreationTime.
pub fn lambda_timestamp(ms: i64) -> String {
    let p = parts(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}+0000",
        p.year, p.month, p.day, p.hour, p.minute, p.second, p.millis
    )
}

/// `2019-11-14T18:16:05.568Z`: destination records.
pub fn iso_millis_z(ms: i64) -> String {
    let p = parts(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        p.year, p.month, p.day, p.hour, p.minute, p.second, p.millis
    )
}

/// `12/Mar/2020:19:03:58 +0000`: the function-URL event's `requestContext.time`.
pub fn clf_time(ms: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let p = parts(ms);
    let mon = MONTHS
        .get((p.month as usize).saturating_sub(1))
        .copied()
        .unwrap_or("Jan");
    format!(
        "{:02}/{}/{:04}:{:02}:{:02}:{:02} +0000",
        p.day, mon, p.year, p.hour, p.minute, p.second
    )
}

/// `YYYY/MM/DD` of a time (log stream names).
pub fn ymd_slashes(ms: i64) -> String {
    let p = parts(ms);
    format!("{:04}/{:02}/{:02}", p.year, p.month, p.day)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        // 2019-09-27T19:38:20Z = 1569613100 s.
        assert_eq!(
            lambda_timestamp(1_569_613_100_123),
            "2019-09-27T19:38:20.123+0000"
        );
        assert_eq!(iso_millis_z(0), "1970-01-01T00:00:00.000Z");
        // 2020-03-12T19:03:58Z = 1584039838 s.
        assert_eq!(clf_time(1_584_039_838_000), "12/Mar/2020:19:03:58 +0000");
        // Leap day.
        assert_eq!(ymd_slashes(1_709_164_800_000), "2024/02/29");
    }
}
