//! Times as pages show them and as the JSON API sends them: one routine each, on the `time`
//! crate.

use time::{OffsetDateTime, format_description::well_known::Rfc3339, macros::format_description};

/// A timestamp as a UTC date and time; `None` when it is out of range.
fn date_time(time: &prost_types::Timestamp) -> Option<OffsetDateTime> {
    let nanos = i128::from(time.seconds) * 1_000_000_000 + i128::from(time.nanos);
    OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}

/// A timestamp as pages show it: `YYYY-MM-DD HH:MM UTC`.
pub fn format_time(time: &prost_types::Timestamp) -> String {
    let shown = format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    date_time(time).and_then(|time| time.format(&shown).ok()).unwrap_or_default()
}

/// A timestamp in RFC 3339, as every time in the JSON API is: `2026-01-02T03:04:05Z`, with the
/// fraction of a second when there is one.
pub fn rfc3339(time: &prost_types::Timestamp) -> String {
    date_time(time).and_then(|time| time.format(&Rfc3339).ok()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_as_utc_dates() {
        assert_eq!(format_time(&prost_types::Timestamp { seconds: 0, nanos: 0 }), "1970-01-01 00:00 UTC");
        assert_eq!(format_time(&prost_types::Timestamp { seconds: 1_795_700_000, nanos: 0 }), "2026-11-26 13:33 UTC");
    }

    #[test]
    fn times_are_rfc3339() {
        assert_eq!(rfc3339(&prost_types::Timestamp { seconds: 1_795_700_007, nanos: 0 }), "2026-11-26T13:33:27Z");
        let fraction = prost_types::Timestamp { seconds: 1_795_700_007, nanos: 250_000_000 };
        assert_eq!(rfc3339(&fraction), "2026-11-26T13:33:27.25Z");
    }
}
