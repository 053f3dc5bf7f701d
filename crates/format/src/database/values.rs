//! How one value of a column is written (docs/FORMAT.md §15.4): the rules a reader checks
//! every row against, and a restore (next) relies on.
//!
//! The messages say what kind of value was found, never the value itself: a row can hold
//! anything, a secret included.

use serde_json::Value;

use super::{Column, EngineKind, ScalarType};

/// Checks `value` as a value of `column` of a database read with `engine`. `null` is a
/// value only of a nullable column (elements of an array may always be `null`).
///
/// The error says what is wrong with it (not naming the column: the caller does).
pub fn check_value(column: &Column, engine: EngineKind, value: &Value) -> Result<(), String> {
    let expected = column.column_type;
    if value.is_null() {
        return if column.nullable {
            Ok(())
        } else {
            Err(format!(
                "is null, but the column is NOT NULL: it must hold {}",
                describe(expected.scalar, engine, expected.array)
            ))
        };
    }
    if !expected.array {
        return check_scalar(expected.scalar, engine, value)
            .map_err(|found| mismatch(expected.scalar, engine, false, &found));
    }
    let Value::Array(elements) = value else {
        return Err(mismatch(expected.scalar, engine, true, &kind_of(value)));
    };
    for (index, element) in elements.iter().enumerate() {
        if element.is_null() {
            continue;
        }
        if let Err(found) = check_scalar(expected.scalar, engine, element) {
            return Err(format!(
                "element {index} {}",
                mismatch(expected.scalar, engine, false, &found)
            ));
        }
    }
    Ok(())
}

fn mismatch(scalar: ScalarType, engine: EngineKind, array: bool, found: &str) -> String {
    format!(
        "must hold {}, but holds {found}",
        describe(scalar, engine, array)
    )
}

/// What a value of the type looks like, for messages.
fn describe(scalar: ScalarType, engine: EngineKind, array: bool) -> String {
    let one = match (scalar, engine) {
        (ScalarType::Integer, _) => "a JSON integer from -2^63 to 2^63-1",
        (ScalarType::Numeric, _) => {
            "a string of a decimal with every digit (\"12.50\"), or \"NaN\", \"Infinity\", \"-Infinity\""
        }
        (ScalarType::Float, _) => {
            "a JSON number, or the string \"NaN\", \"Infinity\" or \"-Infinity\""
        }
        (ScalarType::Boolean, _) => "true or false",
        (ScalarType::Text, _) => "a string without U+0000",
        (ScalarType::Bytes, _) => "a string of standard base64 with padding",
        (ScalarType::Json, _) => "any JSON value",
        (ScalarType::Uuid, _) => "a lowercase hyphenated UUID string",
        (
            ScalarType::Date | ScalarType::Time | ScalarType::Timestamp | ScalarType::Timestamptz,
            EngineKind::Sqlite,
        ) => "a string (the text as SQLite stores it)",
        (ScalarType::Date, EngineKind::Postgresql) => {
            "a date string YYYY-MM-DD, or \"infinity\" or \"-infinity\""
        }
        (ScalarType::Time, EngineKind::Postgresql) => "a time string HH:MM:SS[.ffffff]",
        (ScalarType::Timestamp, EngineKind::Postgresql) => {
            "a timestamp string YYYY-MM-DDTHH:MM:SS[.ffffff], or \"infinity\" or \"-infinity\""
        }
        (ScalarType::Timestamptz, EngineKind::Postgresql) => {
            "an RFC 3339 timestamp with its offset, YYYY-MM-DDTHH:MM:SS[.ffffff]+HH:MM (or Z), or \"infinity\" or \"-infinity\""
        }
    };
    if array {
        format!("a JSON array whose elements are null or {one}")
    } else {
        one.to_owned()
    }
}

/// The JSON kind of a value, as messages name it (never the value).
fn kind_of(value: &Value) -> String {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
    .to_owned()
}

/// Checks one non-null scalar; the error describes what was found instead.
fn check_scalar(scalar: ScalarType, engine: EngineKind, value: &Value) -> Result<(), String> {
    let text = value.as_str();
    let ok = match scalar {
        ScalarType::Integer => {
            return match value {
                Value::Number(n) if n.is_i64() => Ok(()),
                Value::Number(n) if n.is_u64() => Err("an integer beyond 2^63-1".to_owned()),
                _ => Err(kind_of(value)),
            };
        }
        ScalarType::Numeric => text.is_some_and(|t| is_special_float(t) || is_decimal(t)),
        ScalarType::Float => value.is_number() || text.is_some_and(is_special_float),
        ScalarType::Boolean => value.is_boolean(),
        ScalarType::Text => {
            return match text {
                Some(t) if t.contains('\0') => Err("a string with U+0000".to_owned()),
                Some(_) => Ok(()),
                None => Err(kind_of(value)),
            };
        }
        ScalarType::Bytes => text.is_some_and(is_base64),
        ScalarType::Json => true,
        ScalarType::Uuid => text.is_some_and(is_uuid),
        ScalarType::Date | ScalarType::Time | ScalarType::Timestamp | ScalarType::Timestamptz
            if engine == EngineKind::Sqlite =>
        {
            text.is_some()
        }
        ScalarType::Date => text.is_some_and(|t| is_infinity(t) || is_date(t)),
        ScalarType::Time => text.is_some_and(is_time),
        ScalarType::Timestamp => {
            text.is_some_and(|t| is_infinity(t) || is_timestamp(t) == Some(""))
        }
        ScalarType::Timestamptz => {
            text.is_some_and(|t| is_infinity(t) || is_timestamp(t).is_some_and(is_offset))
        }
    };
    let takes_strings = !matches!(scalar, ScalarType::Boolean);
    if ok {
        Ok(())
    } else if text.is_some() && takes_strings {
        Err("a string of another shape".to_owned())
    } else {
        Err(kind_of(value))
    }
}

fn is_special_float(text: &str) -> bool {
    matches!(text, "NaN" | "Infinity" | "-Infinity")
}

fn is_infinity(text: &str) -> bool {
    matches!(text, "infinity" | "-infinity")
}

fn all_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// `-?D+(.D+)?`: every digit written, no exponent, no `+`.
fn is_decimal(text: &str) -> bool {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    match unsigned.split_once('.') {
        Some((whole, fraction)) => all_digits(whole) && all_digits(fraction),
        None => all_digits(unsigned),
    }
}

/// Standard base64 (RFC 4648 §4) with padding, as an encoder writes it: the unused bits
/// of the last character are zero.
fn is_base64(text: &str) -> bool {
    fn sextet(b: u8) -> Option<u8> {
        match b {
            b'A'..=b'Z' => Some(b - b'A'),
            b'a'..=b'z' => Some(b - b'a' + 26),
            b'0'..=b'9' => Some(b - b'0' + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return false;
    }
    let padding = bytes.iter().rev().take_while(|&&b| b == b'=').count();
    if padding > 2 {
        return false;
    }
    let data = &bytes[..bytes.len() - padding];
    let Some(values) = data.iter().map(|&b| sextet(b)).collect::<Option<Vec<u8>>>() else {
        return false;
    };
    // With one `=`, the last character carries 2 unused bits; with two, 4.
    let unused_mask = match padding {
        1 => 0b11,
        2 => 0b1111,
        _ => 0,
    };
    values.last().is_none_or(|last| last & unused_mask == 0)
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, lowercase hexadecimal.
fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => matches!(b, b'0'..=b'9' | b'a'..=b'f'),
        })
}

/// Two ASCII digits as a number.
fn two_digits(text: &str) -> Option<u8> {
    (text.len() == 2 && all_digits(text))
        .then(|| text.parse().ok())
        .flatten()
}

/// `YYYY-MM-DD`, a day of the proleptic Gregorian calendar, year 0000–9999.
fn is_date(text: &str) -> bool {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' || !all_digits(&text[..4]) {
        return false;
    }
    let (Ok(year), Some(month), Some(day)) = (
        text[..4].parse::<i32>(),
        two_digits(&text[5..7]),
        two_digits(&text[8..10]),
    ) else {
        return false;
    };
    time::Month::try_from(month)
        .ok()
        .and_then(|month| time::Date::from_calendar_date(year, month, day).ok())
        .is_some()
}

/// `HH:MM:SS[.f{1,6}]`, hours 00–23 (or exactly `24:00:00`, which PostgreSQL allows).
fn is_time(text: &str) -> bool {
    let (clock, fraction) = match text.split_once('.') {
        Some((clock, fraction)) => (clock, Some(fraction)),
        None => (text, None),
    };
    if fraction.is_some_and(|f| f.len() > 6 || !all_digits(f)) {
        return false;
    }
    let b = clock.as_bytes();
    if b.len() != 8 || b[2] != b':' || b[5] != b':' {
        return false;
    }
    let (Some(hour), Some(minute), Some(second)) = (
        two_digits(&clock[..2]),
        two_digits(&clock[3..5]),
        two_digits(&clock[6..8]),
    ) else {
        return false;
    };
    let midnight_end = hour == 24
        && minute == 0
        && second == 0
        && fraction.is_none_or(|f| f.bytes().all(|b| b == b'0'));
    (hour < 24 && minute < 60 && second < 60) || midnight_end
}

/// `YYYY-MM-DDTHH:MM:SS[.ffffff]` followed by anything: gives what follows (the offset of
/// a `timestamptz`, empty for a `timestamp`) when the date and time are valid.
fn is_timestamp(text: &str) -> Option<&str> {
    let (date, rest) = text.split_at_checked(10)?;
    let rest = rest.strip_prefix('T')?;
    let clock_end = rest
        .find(|c: char| c != '.' && c != ':' && !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (clock, offset) = rest.split_at(clock_end);
    (is_date(date) && is_time(clock) && !clock.starts_with("24")).then_some(offset)
}

/// `Z`, or `+HH:MM` / `-HH:MM` with hours 00–23 and minutes 00–59 (RFC 3339).
fn is_offset(offset: &str) -> bool {
    if offset == "Z" {
        return true;
    }
    let Some(rest) = offset.strip_prefix(['+', '-']) else {
        return false;
    };
    let b = rest.as_bytes();
    b.len() == 5
        && b[2] == b':'
        && two_digits(&rest[..2]).is_some_and(|h| h < 24)
        && two_digits(&rest[3..]).is_some_and(|m| m < 60)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn column(type_name: &str, nullable: bool) -> Column {
        Column {
            name: "c".into(),
            column_type: type_name.parse().unwrap(),
            declared: type_name.into(),
            nullable,
            has_default: false,
        }
    }

    /// Each type with values it takes and values it refuses, on PostgreSQL.
    #[test]
    #[expect(clippy::too_many_lines, reason = "one table of cases")]
    fn each_type_takes_its_encoding_and_nothing_else() {
        let table: &[(&str, &[Value], &[Value])] = &[
            (
                "integer",
                &[
                    json!(0),
                    json!(-9_223_372_036_854_775_808_i64),
                    json!(i64::MAX),
                ],
                &[
                    json!(9_223_372_036_854_775_808_u64),
                    json!(1.5),
                    json!("1"),
                    json!(true),
                ],
            ),
            (
                "numeric",
                &[
                    json!("12.50"),
                    json!("-0.001"),
                    json!("7"),
                    json!("NaN"),
                    json!("Infinity"),
                    json!("-Infinity"),
                ],
                &[
                    json!(12.5),
                    json!("1e5"),
                    json!("+1"),
                    json!(".5"),
                    json!("5."),
                    json!("1,5"),
                    json!("nan"),
                    json!(""),
                ],
            ),
            (
                "float",
                &[
                    json!(1.5),
                    json!(-3),
                    json!(1e300),
                    json!("NaN"),
                    json!("-Infinity"),
                ],
                &[json!("1.5"), json!("inf"), json!(true)],
            ),
            (
                "boolean",
                &[json!(true), json!(false)],
                &[json!(1), json!("true")],
            ),
            (
                "text",
                &[json!(""), json!("é\n\t")],
                &[json!("a\u{0}b"), json!(1)],
            ),
            (
                "bytes",
                &[
                    json!(""),
                    json!("AA=="),
                    json!("AAE="),
                    json!("AAEC"),
                    json!("+/+/"),
                ],
                &[
                    json!("AA="),
                    json!("AB=="),
                    json!("AAF="),
                    json!("A==="),
                    json!("AA-_"),
                    json!("AA==AA=="),
                    json!(5),
                ],
            ),
            (
                "date",
                &[
                    json!("2026-02-28"),
                    json!("2024-02-29"),
                    json!("0001-01-01"),
                    json!("infinity"),
                    json!("-infinity"),
                ],
                &[
                    json!("2026-02-29"),
                    json!("2026-13-01"),
                    json!("26-01-01"),
                    json!("2026-01-01T00:00:00"),
                    json!("Infinity"),
                ],
            ),
            (
                "time",
                &[
                    json!("00:00:00"),
                    json!("23:59:59.999999"),
                    json!("24:00:00"),
                    json!("12:30:00.5"),
                ],
                &[
                    json!("24:00:01"),
                    json!("12:60:00"),
                    json!("12:00"),
                    json!("12:00:00.1234567"),
                    json!("12:00:00+02:00"),
                    json!("infinity"),
                ],
            ),
            (
                "timestamp",
                &[
                    json!("2026-11-22T08:30:00"),
                    json!("2026-11-22T08:30:00.123456"),
                    json!("infinity"),
                ],
                &[
                    json!("2026-11-22 08:30:00"),
                    json!("2026-11-22T08:30:00Z"),
                    json!("2026-11-22T24:00:00"),
                    json!("2026-11-22"),
                ],
            ),
            (
                "timestamptz",
                &[
                    json!("2026-11-22T08:30:00+00:00"),
                    json!("2026-11-22T08:30:00.5-05:30"),
                    json!("2026-11-22T08:30:00Z"),
                    json!("-infinity"),
                ],
                &[
                    json!("2026-11-22T08:30:00"),
                    json!("2026-11-22T08:30:00+0200"),
                    json!("2026-11-22T08:30:00+24:00"),
                    json!(0),
                ],
            ),
            (
                "json",
                &[json!({"a": [1, null]}), json!("x"), json!(3)],
                &[],
            ),
            (
                "uuid",
                &[json!("123e4567-e89b-12d3-a456-426614174000")],
                &[
                    json!("123E4567-E89B-12D3-A456-426614174000"),
                    json!("123e4567e89b12d3a456426614174000"),
                    json!("{123e4567-e89b-12d3-a456-426614174000}"),
                ],
            ),
            (
                "integer[]",
                &[json!([]), json!([1, null, 3])],
                &[json!(1), json!([1, "2"]), json!([[1]])],
            ),
            ("text[]", &[json!(["a", null])], &[json!("a"), json!([1])]),
        ];
        for (type_name, good, bad) in table {
            let c = column(type_name, false);
            for value in *good {
                assert_eq!(
                    check_value(&c, EngineKind::Postgresql, value),
                    Ok(()),
                    "{type_name} {value}"
                );
            }
            for value in *bad {
                let message = check_value(&c, EngineKind::Postgresql, value)
                    .expect_err(&format!("{type_name} took {value}"));
                if let Some(text) = value.as_str().filter(|t| t.len() > 4) {
                    assert!(!message.contains(text), "{message} repeats the value");
                }
            }
        }
    }

    #[test]
    fn null_is_a_value_of_nullable_columns_only() {
        for type_name in ["integer", "json", "text[]"] {
            let message = check_value(&column(type_name, false), EngineKind::Sqlite, &Value::Null)
                .unwrap_err();
            assert!(message.contains("NOT NULL"), "{message}");
            assert_eq!(
                check_value(&column(type_name, true), EngineKind::Sqlite, &Value::Null),
                Ok(())
            );
        }
    }

    #[test]
    fn dates_and_times_of_sqlite_are_any_text() {
        for type_name in ["date", "time", "timestamp", "timestamptz"] {
            let c = column(type_name, false);
            assert_eq!(
                check_value(&c, EngineKind::Sqlite, &json!("yesterday, 5pm")),
                Ok(())
            );
            assert!(check_value(&c, EngineKind::Sqlite, &json!(1_700_000_000)).is_err());
            assert!(check_value(&c, EngineKind::Postgresql, &json!("yesterday, 5pm")).is_err());
        }
    }

    #[test]
    fn array_messages_name_the_element() {
        let message = check_value(
            &column("uuid[]", true),
            EngineKind::Postgresql,
            &json!([null, "X"]),
        )
        .unwrap_err();
        assert!(message.starts_with("element 1 "), "{message}");
    }
}
