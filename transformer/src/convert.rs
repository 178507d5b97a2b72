//! Value conversions from CIF to database columns.

use chrono::{NaiveDate, NaiveDateTime};
use msgmig_schemas::cif::Value;
use msgmig_schemas::db::limits::datetime_fits;

/// The four timestamp formats of the old migrator, tried in order. A value in
/// none of them quarantines the deposition: never "now" (as the old migrator did).
pub fn parse_timestamp(value: &Value) -> Option<NaiveDateTime> {
    let s = value.as_text()?.trim();
    for fmt in ["%Y-%m-%d %H:%M:%S", "%d-%b-%Y %H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            // A leap second (23:59:60, which chrono accepts) or a year outside DATETIME's
            // range would be stored altered by MySQL (0000-00-00): refused.
            return datetime_fits(&t).then_some(t);
        }
    }
    for fmt in ["%Y-%m-%d", "%d-%b-%Y"] {
        if let Ok(d) = NaiveDate::parse_from_str(s, fmt) {
            return d.and_hms_opt(0, 0, 0).filter(datetime_fits);
        }
    }
    None
}

/// An integer column: text must be an integer; a null marker becomes the DDL default.
pub enum IntValue {
    Parsed(i32),
    Defaulted,
    Invalid,
}

pub fn parse_int(value: &Value) -> IntValue {
    match value {
        Value::Text(s) => s.trim().parse().map_or(IntValue::Invalid, IntValue::Parsed),
        _ => IntValue::Defaulted,
    }
}

pub use msgmig_schemas::db::limits::Limit;

/// `Some(reason)` when `s` does not fit: [`Limit::refuses`].
pub fn check_limit(column: &str, s: &str, limit: Limit) -> Option<String> {
    limit.refuses(column, s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_in_the_four_formats_and_nothing_else() {
        let t = |s: &str| parse_timestamp(&Value::text(s)).map(|t| t.to_string());
        assert_eq!(
            t("2022-08-09 16:28:27").as_deref(),
            Some("2022-08-09 16:28:27")
        );
        assert_eq!(t("2022-08-09").as_deref(), Some("2022-08-09 00:00:00"));
        assert_eq!(
            t("09-Aug-2022 16:28:27").as_deref(),
            Some("2022-08-09 16:28:27")
        );
        assert_eq!(t("09-Aug-2022").as_deref(), Some("2022-08-09 00:00:00"));
        assert_eq!(t("2022/08/09"), None);
        assert_eq!(t("2022-02-30 00:00:00"), None);
        assert_eq!(t("2016-12-31 23:59:60"), None, "a leap second");
        assert_eq!(t("0000-00-00 00:00:00"), None, "the zero date");
        assert_eq!(t("0999-12-31 00:00:00"), None, "before DATETIME's range");
        assert_eq!(t("1000-01-01"), Some("1000-01-01 00:00:00".into()));
        assert_eq!(parse_timestamp(&Value::Unknown), None);
    }

    #[test]
    fn limits_count_characters_for_varchar() {
        assert!(check_limit("sender", &"é".repeat(150), Limit::Chars(150)).is_none());
        assert!(check_limit("sender", &"é".repeat(151), Limit::Chars(150)).is_some());
        assert!(check_limit("subject", &"é".repeat(40_000), Limit::Bytes(65_535)).is_some());
    }
}
