//! An archive's value (format 1.1, docs/FORMAT.md §15.4) as the value bound to write it
//! back: exactly the value the export read.
//!
//! PostgreSQL: every value is bound in PostgreSQL's text format and read by the server as
//! the column's type (numeric keeps every digit, a float's shortest digits read back to
//! the same float, `infinity` dates and timestamps, bytea as `\x…`, arrays as array
//! literals). SQLite: each value as the storage class the export read it from.

use std::fmt::Write as _;

use base64::Engine as _;
use serde_json::Value;
use sitepack_format::database::{ColumnType, EngineKind, ScalarType};

use crate::engine::SqlValue;

/// `value` of a column of type `column_type` (the archive's), to bind on `engine`; or
/// what is wrong with it.
pub(crate) fn bind(
    value: &Value,
    column_type: ColumnType,
    engine: EngineKind,
) -> Result<SqlValue, String> {
    if value.is_null() {
        return Ok(SqlValue::Null);
    }
    match engine {
        EngineKind::Postgresql => postgres_text(value, column_type).map(SqlValue::Text),
        EngineKind::Sqlite => sqlite_value(value, column_type),
    }
}

fn mismatch(value: &Value, column_type: ColumnType) -> String {
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    format!(
        "holds {kind} where the archive's column type is {column_type}; the archive does not follow format 1.1: make it again from the database"
    )
}

fn decode_base64(text: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| {
            format!("holds bytes that are not base64 ({e}); the archive does not follow format 1.1")
        })
}

/// The text PostgreSQL reads as the value.
fn postgres_text(value: &Value, column_type: ColumnType) -> Result<String, String> {
    if column_type.array {
        let Value::Array(elements) = value else {
            return Err(mismatch(value, column_type));
        };
        let scalar = ColumnType {
            scalar: column_type.scalar,
            array: false,
        };
        let mut literal = String::from("{");
        for (i, element) in elements.iter().enumerate() {
            if i > 0 {
                literal.push(',');
            }
            if element.is_null() {
                literal.push_str("NULL");
                continue;
            }
            let text = postgres_text(element, scalar)?;
            literal.push('"');
            for c in text.chars() {
                if c == '"' || c == '\\' {
                    literal.push('\\');
                }
                literal.push(c);
            }
            literal.push('"');
        }
        literal.push('}');
        return Ok(literal);
    }
    match (column_type.scalar, value) {
        (ScalarType::Integer, Value::Number(n)) if n.is_i64() => Ok(n.to_string()),
        (ScalarType::Float, Value::Number(n)) => Ok(n.to_string()),
        (ScalarType::Float, Value::String(s))
            if matches!(s.as_str(), "NaN" | "Infinity" | "-Infinity") =>
        {
            Ok(s.clone())
        }
        (ScalarType::Boolean, Value::Bool(b)) => Ok(if *b { "true" } else { "false" }.to_owned()),
        (ScalarType::Bytes, Value::String(s)) => {
            let bytes = decode_base64(s)?;
            let mut text = String::with_capacity(2 + 2 * bytes.len());
            text.push_str("\\x");
            for byte in bytes {
                let _ = write!(text, "{byte:02x}");
            }
            Ok(text)
        }
        (ScalarType::Json, json) => serde_json::to_string(json).map_err(|e| e.to_string()),
        (
            ScalarType::Numeric
            | ScalarType::Text
            | ScalarType::Date
            | ScalarType::Time
            | ScalarType::Timestamp
            | ScalarType::Timestamptz
            | ScalarType::Uuid,
            Value::String(s),
        ) => Ok(s.clone()),
        _ => Err(mismatch(value, column_type)),
    }
}

/// The SQLite value: the storage class the export read it from.
fn sqlite_value(value: &Value, column_type: ColumnType) -> Result<SqlValue, String> {
    if column_type.array {
        return Err(format!(
            "is an array ({column_type}), which SQLite cannot store: restore the archive into PostgreSQL"
        ));
    }
    let infinity = |s: &str| match s {
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ => None,
    };
    match (column_type.scalar, value) {
        (ScalarType::Integer, Value::Number(n)) => n
            .as_i64()
            .map(SqlValue::Integer)
            .ok_or_else(|| mismatch(value, column_type)),
        // A decimal as text: the column's NUMERIC affinity stores it as SQLite stores any
        // decimal written to it (an integer, a real, or the text of NaN).
        (ScalarType::Numeric, Value::String(s)) => Ok(infinity(s)
            .map_or_else(|| SqlValue::Text(s.clone()), SqlValue::Real)),
        (ScalarType::Float, Value::Number(n)) => match n.as_i64() {
            // Written without a fraction or exponent (`as_i64` reads only those): a real
            // column stores the integer as the real it is.
            Some(i) => Ok(SqlValue::Integer(i)),
            _ => n
                .to_string()
                .parse::<f64>()
                .map(SqlValue::Real)
                .map_err(|_| mismatch(value, column_type)),
        },
        (ScalarType::Float, Value::String(s)) => infinity(s).map(SqlValue::Real).ok_or_else(|| {
            format!("holds {s}, which SQLite cannot store (it stores NaN as NULL); correct the value in the source database")
        }),
        (ScalarType::Boolean, Value::Bool(b)) => Ok(SqlValue::Integer(i64::from(*b))),
        (ScalarType::Bytes, Value::String(s)) => decode_base64(s).map(SqlValue::Blob),
        (ScalarType::Json, Value::Number(n)) => Ok(n
            .as_i64()
            .map_or_else(|| SqlValue::Text(n.to_string()), SqlValue::Integer)),
        (ScalarType::Json, json) => serde_json::to_string(json)
            .map(SqlValue::Text)
            .map_err(|e| e.to_string()),
        (
            ScalarType::Text
            | ScalarType::Date
            | ScalarType::Time
            | ScalarType::Timestamp
            | ScalarType::Timestamptz
            | ScalarType::Uuid,
            Value::String(s),
        ) => Ok(SqlValue::Text(s.clone())),
        _ => Err(mismatch(value, column_type)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn of(text: &str) -> ColumnType {
        text.parse().unwrap()
    }

    #[test]
    fn postgres_arrays_are_quoted_literals() {
        let value = json!(["a\"b", null, "c\\d", ""]);
        assert_eq!(
            bind(&value, of("text[]"), EngineKind::Postgresql).unwrap(),
            SqlValue::Text(r#"{"a\"b",NULL,"c\\d",""}"#.to_owned())
        );
        assert_eq!(
            bind(&json!(["AP8Q"]), of("bytes[]"), EngineKind::Postgresql).unwrap(),
            SqlValue::Text(r#"{"\\x00ff10"}"#.to_owned())
        );
        assert_eq!(
            bind(&json!("AP8Q"), of("bytes"), EngineKind::Postgresql).unwrap(),
            SqlValue::Text(r"\x00ff10".to_owned())
        );
    }

    #[test]
    fn postgres_scalars_are_the_text_the_server_reads_back_exactly() {
        let text =
            |value: Value, column: &str| match bind(&value, of(column), EngineKind::Postgresql) {
                Ok(SqlValue::Text(text)) => text,
                other => panic!("{value} as {column}: {other:?}"),
            };
        assert_eq!(
            text(json!(-9_223_372_036_854_775_808_i64), "integer"),
            "-9223372036854775808"
        );
        assert_eq!(text(json!(0.1), "float"), "0.1");
        assert_eq!(text(json!("-Infinity"), "float"), "-Infinity");
        assert_eq!(text(json!("NaN"), "float"), "NaN");
        assert_eq!(text(json!(false), "boolean"), "false");
        assert_eq!(text(json!(true), "boolean"), "true");
        assert_eq!(text(json!("12.50"), "numeric"), "12.50");
        assert_eq!(text(json!("infinity"), "date"), "infinity");
        assert_eq!(
            text(json!({"b": [1, "x"], "a": null}), "json"),
            r#"{"b":[1,"x"],"a":null}"#
        );
        assert_eq!(text(json!(""), "bytes"), r"\x");
        assert_eq!(text(json!([]), "integer[]"), "{}");
        assert_eq!(
            text(json!([1, null, -2]), "integer[]"),
            r#"{"1",NULL,"-2"}"#
        );
        assert_eq!(
            bind(&Value::Null, of("integer"), EngineKind::Postgresql).unwrap(),
            SqlValue::Null
        );
        // Anything but the encoding of the column's type is refused, never guessed at.
        for (value, column) in [
            (json!("7"), "integer"),
            (json!(1.5), "integer"),
            (json!("nan"), "float"),
            (json!(1), "boolean"),
            (json!(12.5), "numeric"),
            (json!("AP8"), "bytes"),
            (json!(1), "text"),
            (json!("x"), "integer[]"),
            (json!(["x"]), "integer[]"),
        ] {
            let error = bind(&value, of(column), EngineKind::Postgresql);
            let Err(message) = error else {
                panic!("{value} as {column}: {error:?}");
            };
            assert!(message.contains("format 1.1"), "{message}");
        }
    }

    #[test]
    fn sqlite_keeps_integers_apart_from_reals_and_json_text() {
        let value = |value: Value, column: &str| bind(&value, of(column), EngineKind::Sqlite);
        assert_eq!(value(json!(3), "float").unwrap(), SqlValue::Integer(3));
        assert_eq!(value(json!(3.0), "float").unwrap(), SqlValue::Real(3.0));
        assert_eq!(value(json!(1e300), "float").unwrap(), SqlValue::Real(1e300));
        assert_eq!(
            value(json!("Infinity"), "float").unwrap(),
            SqlValue::Real(f64::INFINITY)
        );
        assert_eq!(value(json!(7), "json").unwrap(), SqlValue::Integer(7));
        // As an archive's line spells them: a fraction or an exponent is no integer.
        let parsed = |text: &str| serde_json::from_str::<Value>(text).unwrap();
        assert_eq!(
            value(parsed("1e2"), "float").unwrap(),
            SqlValue::Real(100.0)
        );
        assert_eq!(value(parsed("2.0"), "float").unwrap(), SqlValue::Real(2.0));
        assert_eq!(
            value(parsed("1e2"), "json").unwrap(),
            SqlValue::Text("1e+2".to_owned())
        );
        assert_eq!(
            value(json!(1.5), "json").unwrap(),
            SqlValue::Text("1.5".to_owned())
        );
        assert_eq!(
            value(json!([1, {"a": 2}]), "json").unwrap(),
            SqlValue::Text(r#"[1,{"a":2}]"#.to_owned())
        );
        assert_eq!(
            value(json!("12.50"), "numeric").unwrap(),
            SqlValue::Text("12.50".to_owned())
        );
        assert_eq!(
            value(json!("Infinity"), "numeric").unwrap(),
            SqlValue::Real(f64::INFINITY)
        );
        assert_eq!(
            value(json!("2026-01-01"), "date").unwrap(),
            SqlValue::Text("2026-01-01".to_owned())
        );
        assert_eq!(
            value(json!("AP8Q"), "bytes").unwrap(),
            SqlValue::Blob(vec![0, 0xff, 0x10])
        );
        assert_eq!(value(json!(-5), "integer").unwrap(), SqlValue::Integer(-5));
        assert_eq!(value(Value::Null, "text").unwrap(), SqlValue::Null);
        let refused = value(json!([1]), "integer[]").unwrap_err();
        assert!(refused.contains("PostgreSQL"), "{refused}");
        assert!(value(json!(1.5), "integer").is_err());
        assert!(value(json!(false), "text").is_err());
    }

    #[test]
    fn sqlite_values_take_their_storage_class() {
        assert_eq!(
            bind(&json!("-Infinity"), of("numeric"), EngineKind::Sqlite).unwrap(),
            SqlValue::Real(f64::NEG_INFINITY)
        );
        assert_eq!(
            bind(&json!(true), of("boolean"), EngineKind::Sqlite).unwrap(),
            SqlValue::Integer(1)
        );
        assert_eq!(
            bind(&json!(0.1), of("float"), EngineKind::Sqlite).unwrap(),
            SqlValue::Real(0.1)
        );
        assert!(bind(&json!("NaN"), of("float"), EngineKind::Sqlite).is_err());
        assert!(bind(&json!("x"), of("integer"), EngineKind::Sqlite).is_err());
    }
}
