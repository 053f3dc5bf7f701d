//! The SQL sitepack sends: identifiers quoted, values always bound as parameters.

use sitepack_format::database::TenantValue;

/// How a statement's parameters are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `?1`, `?2`, … (SQLite).
    Sqlite,
    /// `$1`, `$2`, … (PostgreSQL).
    Postgres,
}

impl Dialect {
    /// The placeholder of the `n`th parameter (from 1).
    #[must_use]
    pub fn placeholder(self, n: usize) -> String {
        match self {
            Self::Sqlite => format!("?{n}"),
            Self::Postgres => format!("${n}"),
        }
    }
}

/// `name` as an SQL identifier: in double quotes, each `"` doubled, so that no name can
/// end the identifier early (both engines follow the standard here).
#[must_use]
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A parameter value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    /// An integer.
    Integer(i64),
    /// Text.
    Text(String),
}

impl From<&TenantValue> for Param {
    fn from(value: &TenantValue) -> Self {
        match value {
            TenantValue::Integer(n) => Self::Integer(*n),
            TenantValue::Text(s) => Self::Text(s.clone()),
        }
    }
}

/// The rows of one table that a plan selects: `SELECT <columns> FROM <table> WHERE
/// <filter> ORDER BY <order>`. The engine writes the select list (it knows how to read
/// each type); the filter and the order are the plan's, already in the engine's dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowQuery {
    /// The table (unquoted).
    pub table: String,
    /// The `WHERE` condition, or `None` for every row.
    pub filter: Option<String>,
    /// The parameters the filter's placeholders stand for, in order.
    pub params: Vec<Param>,
    /// The columns to order by (unquoted): the primary key, else every column.
    pub order_by: Vec<String>,
}

impl RowQuery {
    /// `FROM … WHERE … ORDER BY …`, for an engine to put its select list in front of.
    #[must_use]
    pub fn from_clause(&self, schema: Option<&str>) -> String {
        let mut sql = String::from(" FROM ");
        if let Some(schema) = schema {
            sql.push_str(&quote_ident(schema));
            sql.push('.');
        }
        sql.push_str(&quote_ident(&self.table));
        if let Some(filter) = &self.filter {
            sql.push_str(" WHERE ");
            sql.push_str(filter);
        }
        if !self.order_by.is_empty() {
            sql.push_str(" ORDER BY ");
            let keys: Vec<String> = self.order_by.iter().map(|c| quote_ident(c)).collect();
            sql.push_str(&keys.join(", "));
        }
        sql
    }
}

impl RowQuery {
    /// The filter with its placeholders renumbered to follow `before` other parameters
    /// (`$1` becomes `$3` after two), for a statement that binds those first; `None`
    /// for every row. Placeholders are renumbered only outside quoted identifiers: a
    /// plan's filter holds no string literal (every value is a parameter).
    #[must_use]
    pub fn filter_after(&self, before: usize, dialect: Dialect) -> Option<String> {
        let filter = self.filter.as_deref()?;
        let marker = match dialect {
            Dialect::Sqlite => '?',
            Dialect::Postgres => '$',
        };
        let mut out = String::with_capacity(filter.len() + 8);
        let mut quoted = false;
        let mut chars = filter.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '"' {
                // A doubled quote inside an identifier toggles twice: still inside.
                quoted = !quoted;
                out.push(c);
            } else if c == marker && !quoted && chars.peek().is_some_and(char::is_ascii_digit) {
                let mut digits = String::new();
                while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                    digits.push(d);
                    chars.next();
                }
                let n: usize = digits.parse().unwrap_or(0);
                out.push_str(&dialect.placeholder(n + before));
            } else {
                out.push(c);
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_renumbered_outside_identifiers_only() {
        let query = RowQuery {
            table: "t".into(),
            filter: Some(
                "\"a$1\" = $1 AND (\"b\"\"$2\" IN (SELECT \"id\" FROM \"p\" WHERE \"x\" = $2)) OR $10 = $12".into(),
            ),
            params: Vec::new(),
            order_by: Vec::new(),
        };
        assert_eq!(
            query.filter_after(3, Dialect::Postgres).unwrap(),
            "\"a$1\" = $4 AND (\"b\"\"$2\" IN (SELECT \"id\" FROM \"p\" WHERE \"x\" = $5)) OR $13 = $15"
        );
        let sqlite = RowQuery {
            filter: Some("\"?1\" = ?1 AND \"c\" = ?2".into()),
            ..query.clone()
        };
        assert_eq!(
            sqlite.filter_after(1, Dialect::Sqlite).unwrap(),
            "\"?1\" = ?2 AND \"c\" = ?3"
        );
        assert_eq!(query.filter_after(0, Dialect::Postgres), query.filter);
        let every = RowQuery {
            filter: None,
            ..query
        };
        assert_eq!(every.filter_after(2, Dialect::Postgres), None);
    }

    #[test]
    fn identifiers_cannot_escape_their_quotes() {
        assert_eq!(quote_ident("users"), "\"users\"");
        assert_eq!(
            quote_ident("a\"; DROP TABLE x; --"),
            "\"a\"\"; DROP TABLE x; --\""
        );
    }

    #[test]
    fn queries_quote_the_table_and_keys() {
        let query = RowQuery {
            table: "Order Items".into(),
            filter: Some("\"org_id\" = $1".into()),
            params: vec![Param::Text("acme".into())],
            order_by: vec!["id".into(), "line".into()],
        };
        assert_eq!(
            query.from_clause(Some("public")),
            " FROM \"public\".\"Order Items\" WHERE \"org_id\" = $1 ORDER BY \"id\", \"line\""
        );
        assert_eq!(Dialect::Postgres.placeholder(2), "$2");
        assert_eq!(Dialect::Sqlite.placeholder(2), "?2");
    }
}
