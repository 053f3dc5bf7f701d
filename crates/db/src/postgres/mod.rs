//! PostgreSQL: one schema of one database, read in one `REPEATABLE READ READ ONLY`
//! transaction, rows streamed and their values decoded from the binary protocol.
//!
//! Values travel in PostgreSQL's binary form wherever it is exact and cheap to decode
//! (integers, floats, booleans, text, bytea, dates and times, UUIDs); `numeric` and
//! `json`/`jsonb` are selected as text (`col::text`), which PostgreSQL writes with every
//! digit. Domains are read as their base type, enums as their label.

use std::error::Error as StdError;
use std::fmt::Write as _;
use std::io::Write as _;
use std::pin::pin;
use std::str::FromStr;
use std::time::Duration;

use base64::Engine as _;
use bytes::BytesMut;
use futures_util::StreamExt as _;
use postgres::config::{Host, SslMode};
use postgres::error::SqlState;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{Format, FromSql, IsNull, Kind, ToSql, Type, to_sql_checked};
use postgres::{Client, NoTls, Row, Statement};
use serde_json::Value;
use sitepack_format::database::{Column, ColumnType, EngineKind, ForeignKey, ScalarType};
use sitepack_format::{CREDENTIAL_MASK, error_chain};
use tokio_postgres::Config;

use crate::engine::{
    DeleteEffect, EncodedValues, RowSource, SequenceMove, SnapshotReader, SqlValue, Verbatim,
    WriteEngine,
};
use crate::sql::{Dialect, Param, RowQuery, quote_ident};
use crate::{ColumnInfo, DbError, Engine, TableInfo};

mod row_reader;

use row_reader::{RowReader, Stop};

/// How long connecting may take before the server counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long [`Engine::hold_tables`] waits for a session that is changing a table.
const LOCK_TIMEOUT: &str = "10s";

/// A connection to one PostgreSQL database, reading the tables of one schema.
pub struct PostgresEngine {
    client: Client,
    /// The settings `client` connected with, for the connection rows are read on.
    config: Config,
    /// The snapshot's id as `pg_export_snapshot` gave it, once a second connection asked.
    exported: Option<String>,
    /// The tables [`Engine::hold_tables`] locked, qualified: a second connection locks
    /// them too before it reads.
    held: Vec<String>,
    schema: String,
    session: Session,
    version: String,
}

/// What every snapshot sets, on each of its connections: the text PostgreSQL writes
/// independent of the role's defaults, and no statement or idle timeout of a role's
/// cutting a long backup short (as `pg_dump`). Each connection bounds its wait for a lock
/// too ([`LOCK_TIMEOUT`]).
const SNAPSHOT_SETTINGS: &str = "SET LOCAL TimeZone = 'UTC';
             SET LOCAL DateStyle = 'ISO';
             SET LOCAL extra_float_digits = 3;
             SET LOCAL statement_timeout = 0;
             SET LOCAL idle_in_transaction_session_timeout = 0;";

/// What errors say about the connection.
#[derive(Clone)]
struct Session {
    /// The role sitepack connected as (`current_user`), for permission errors.
    role: String,
    /// `host:port`, for errors about the connection.
    server: String,
}

impl PostgresEngine {
    /// Connects to the database `url` names (`postgres://user@host:port/db` or
    /// `host=… dbname=…`) and checks that `schema` exists and can be read. `password`,
    /// when given, replaces the URL's.
    pub fn connect(url: &str, password: Option<&str>, schema: &str) -> Result<Self, DbError> {
        let mut config = Config::from_str(url).map_err(|e| DbError::Connect {
            url: shown_target(url, None),
            reason: format!(
                "not a PostgreSQL connection URL ({}): write it as postgres://USER@HOST:PORT/DATABASE",
                error_chain(&e)
            ),
        })?;
        if let Some(password) = password {
            config.password(password);
        }
        Self::connect_with(config, url, schema)
    }

    /// Connects with `config` (a descriptor's, whose password it holds), calling it `url`
    /// in messages (with any password there masked), and checks that `schema` exists and
    /// can be read.
    pub fn connect_with(mut config: Config, url: &str, schema: &str) -> Result<Self, DbError> {
        config
            .application_name("sitepack")
            .connect_timeout(CONNECT_TIMEOUT);
        let known_password = config
            .get_password()
            .and_then(|p| std::str::from_utf8(p).ok())
            .unwrap_or_default()
            .to_owned();
        let target = scrub(shown_target(url, Some(&config)), &known_password);
        let server = server_of(&config);
        if matches!(config.get_ssl_mode(), SslMode::Require) {
            return Err(DbError::Connect {
                url: target,
                reason: "the URL asks for TLS (sslmode=require), which sitepack's PostgreSQL \
                         connection does not offer: connect over a trusted network (the same machine, or a \
                         private network) with sslmode=prefer or sslmode=disable"
                    .to_owned(),
            });
        }
        let client = postgres::Config::from(config.clone())
            .connect(NoTls)
            .map_err(|e| {
                let reason = connect_failure(&e, &config, &server);
                DbError::Connect {
                    url: target.clone(),
                    reason: scrub(reason, &known_password),
                }
            })?;
        let mut engine = Self {
            client,
            config,
            exported: None,
            held: Vec::new(),
            schema: schema.to_owned(),
            session: Session {
                role: String::new(),
                server,
            },
            version: String::new(),
        };
        engine.check_session(&target)?;
        Ok(engine)
    }

    /// Reads the server's version and the role, and checks the schema is there and usable.
    fn check_session(&mut self, target: &str) -> Result<(), DbError> {
        let row = self
            .client
            .query_one(
                "SELECT current_setting('server_version'), current_user::text, \
                 (SELECT has_schema_privilege(oid, 'USAGE') FROM pg_namespace WHERE nspname = $1)",
                &[&self.schema],
            )
            .map_err(|e| {
                self.session
                    .query_error("reading the server's version".into(), &e)
            })?;
        let version: String = row.get(0);
        // Debian and others append their build (`15.20 (Debian 15.20-0+deb12u1)`).
        version
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .clone_into(&mut self.version);
        self.session.role = row.get(1);
        let database = self
            .config
            .get_dbname()
            .unwrap_or(&self.session.role)
            .to_owned();
        match row.get::<_, Option<bool>>(2) {
            Some(true) => Ok(()),
            Some(false) => Err(DbError::Connect {
                url: target.to_owned(),
                reason: format!(
                    "role \"{}\" may not use schema \"{}\": GRANT USAGE ON SCHEMA {} TO {}",
                    self.session.role,
                    self.schema,
                    quote_ident(&self.schema),
                    quote_ident(&self.session.role)
                ),
            }),
            None => Err(DbError::Connect {
                url: target.to_owned(),
                reason: format!(
                    "schema \"{}\" does not exist in database \"{database}\" on {}: check the descriptor's schema",
                    self.schema, self.session.server
                ),
            }),
        }
    }

    /// Runs `sql` (one or more statements, no parameters).
    fn execute_batch(&mut self, sql: &str, what: &str) -> Result<(), DbError> {
        self.client
            .batch_execute(sql)
            .map_err(|e| self.session.query_error(what.to_owned(), &e))
    }

    /// The one row of `select` (`SELECT count(*)`, …) over the rows `query` selects, in
    /// no order, its parameters bound; `what` names it in an error.
    fn query_unordered(
        &mut self,
        select: &str,
        query: &RowQuery,
        what: &str,
    ) -> Result<Row, DbError> {
        let unordered = RowQuery {
            order_by: Vec::new(),
            ..query.clone()
        };
        let sql = format!("{select}{}", unordered.from_clause(Some(&self.schema)));
        let texts = text_params(&query.params);
        let params: Vec<TextParam<'_>> = texts.iter().map(|t| TextParam(t)).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
        self.client
            .query_one(&sql, &refs)
            .map_err(|e| self.session.query_error(what.to_owned(), &e))
    }

    /// `"schema"."table"`.
    fn qualified(&self, table: &str) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(table))
    }

    /// Each table's columns, in order; `None` for a table without columns.
    fn reflect_columns(&mut self) -> Result<Vec<(String, Option<ColumnInfo>)>, DbError> {
        let rows = self
            .client
            .query(REFLECT_COLUMNS, &[&self.schema])
            .map_err(|e| {
                self.session
                    .query_error("reading the tables' columns".into(), &e)
            })?;
        Ok(rows
            .iter()
            .map(|row| {
                let table: String = row.get(0);
                let Some(name) = row.get::<_, Option<String>>(1) else {
                    return (table, None);
                };
                let scalar = scalar_of_catalog(row.get(5), row.get(6));
                let column_type = if row.get(7) {
                    let element: Option<u32> = row.get(8);
                    let element_kind: Option<&str> = row.get(9);
                    element
                        .zip(element_kind)
                        .and_then(|(oid, kind)| scalar_of_catalog(oid, kind))
                        .map(|scalar| ColumnType {
                            scalar,
                            array: true,
                        })
                } else {
                    scalar.map(|scalar| ColumnType {
                        scalar,
                        array: false,
                    })
                };
                let column = ColumnInfo {
                    name,
                    declared: row.get(2),
                    column_type,
                    nullable: row.get(3),
                    has_default: row.get(4),
                };
                (table, Some(column))
            })
            .collect())
    }
}

impl Session {
    /// A failed statement as an error that says what to do where PostgreSQL's reason is
    /// one sitepack can explain.
    fn query_error(&self, what: String, error: &postgres::Error) -> DbError {
        let reason = match error.as_db_error() {
            Some(db) if *db.code() == SqlState::INSUFFICIENT_PRIVILEGE => {
                let grant = if db.message().contains("for schema") {
                    "GRANT USAGE on that schema"
                } else {
                    "GRANT SELECT on it"
                };
                format!(
                    "{}: role \"{}\" may not read it; {grant} TO {}",
                    db.message(),
                    self.role,
                    quote_ident(&self.role)
                )
            }
            Some(db) if *db.code() == SqlState::LOCK_NOT_AVAILABLE => format!(
                "another session has been changing it for more than {LOCK_TIMEOUT} (a schema \
                 change such as ALTER TABLE, or a maintenance command): run the backup again \
                 when it is done"
            ),
            Some(db)
                if *db.code() == SqlState::UNDEFINED_TABLE
                    || *db.code() == SqlState::UNDEFINED_COLUMN =>
            {
                format!(
                    "{}: the database's schema changed during the backup; run it again",
                    db.message()
                )
            }
            // Operator intervention: the server ended the session (shut down, restarting,
            // or `pg_terminate_backend`).
            Some(db) if db.code().code().starts_with("57P") => format!(
                "{}: the connection to {} was lost; check that the server is still running and \
                 run the backup again",
                db.message(),
                self.server
            ),
            Some(db) => {
                let mut reason = db.message().to_owned();
                if let Some(detail) = db.detail() {
                    reason.push_str(" (");
                    reason.push_str(detail);
                    reason.push(')');
                }
                reason
            }
            None if error.is_closed() => format!(
                "the connection to {} was lost: check that the server is still running and run the backup again",
                self.server
            ),
            None if StdError::source(error).is_some_and(<dyn StdError>::is::<std::io::Error>) => {
                format!(
                    "the connection to {} was lost ({}): check that the server is still running \
                     and run the backup again",
                    self.server,
                    error_chain(error)
                )
            }
            None => error_chain(error),
        };
        DbError::Query { what, reason }
    }
}

/// The ordinary and partitioned tables of schema `$1` (not the partitions themselves),
/// their columns in order (a table without columns has one row of NULLs), each with its
/// type seen through domains: `typtype`, and for an array its element's base type.
///
/// Generated and identity columns count as having a default (a restore lets the
/// database compute them).
const REFLECT_COLUMNS: &str = "
WITH RECURSIVE domain_chain(domain_oid, type_oid) AS (
    SELECT oid, typbasetype FROM pg_type WHERE typtype = 'd'
  UNION
    SELECT d.domain_oid, t.typbasetype
    FROM domain_chain d JOIN pg_type t ON t.oid = d.type_oid
    WHERE t.typtype = 'd'
),
domain_base(domain_oid, base_oid) AS (
    SELECT d.domain_oid, d.type_oid
    FROM domain_chain d JOIN pg_type t ON t.oid = d.type_oid
    WHERE t.typtype <> 'd'
)
SELECT c.relname::text,
       a.attname::text,
       format_type(a.atttypid, a.atttypmod),
       NOT a.attnotnull,
       a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '',
       t.oid,
       t.typtype::text,
       t.typelem <> 0 AND t.typlen = -1,
       e.oid,
       e.typtype::text
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_type t
  ON t.oid = COALESCE((SELECT base_oid FROM domain_base WHERE domain_oid = a.atttypid), a.atttypid)
LEFT JOIN pg_type e
  ON t.typelem <> 0 AND t.typlen = -1
 AND e.oid = COALESCE((SELECT base_oid FROM domain_base WHERE domain_oid = t.typelem), t.typelem)
WHERE n.nspname = $1
  AND c.relkind IN ('r', 'p')
  AND NOT c.relispartition
ORDER BY c.relname, a.attnum";

/// Primary keys (`p`), unique constraints and unique indexes (`u`) and foreign keys (`f`)
/// of the tables of schema `$1`, columns in key order, by table then name. A unique index
/// counts when it is valid, whole (not partial) and on columns (no expression): it
/// identifies a row as a unique constraint does (one a foreign key references too; the
/// indexes of constraints are the constraints'). A referenced table of another schema is
/// written `schema.table`.
const REFLECT_CONSTRAINTS: &str = "
SELECT relname, contype, columns, referenced_table, referenced_columns FROM (
SELECT c.relname::text AS relname,
       k.conname::text AS name,
       k.contype::text AS contype,
       ARRAY(SELECT a.attname::text
             FROM unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum
             ORDER BY u.ord) AS columns,
       CASE WHEN fn.nspname = $1 THEN fc.relname::text
            ELSE fn.nspname::text || '.' || fc.relname::text END AS referenced_table,
       ARRAY(SELECT a.attname::text
             FROM unnest(k.confkey) WITH ORDINALITY AS u(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.attnum
             ORDER BY u.ord) AS referenced_columns
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class fc ON fc.oid = k.confrelid
LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
WHERE n.nspname = $1
  AND c.relkind IN ('r', 'p')
  AND NOT c.relispartition
  AND k.contype IN ('p', 'u', 'f')
UNION ALL
SELECT c.relname::text, ic.relname::text, 'u',
       ARRAY(SELECT a.attname::text
             FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS u(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = u.attnum
             WHERE u.ord <= i.indnkeyatts
             ORDER BY u.ord),
       NULL, NULL
FROM pg_index i
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1
  AND c.relkind IN ('r', 'p')
  AND NOT c.relispartition
  AND i.indisunique AND i.indisvalid AND NOT i.indisprimary
  AND i.indpred IS NULL AND i.indexprs IS NULL
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k
                  WHERE k.conindid = i.indexrelid AND k.contype IN ('p', 'u', 'x'))
) AS keys
ORDER BY relname, name";

impl Engine for PostgresEngine {
    fn kind(&self) -> EngineKind {
        EngineKind::Postgresql
    }

    fn version(&self) -> String {
        self.version.clone()
    }

    fn begin_snapshot(&mut self) -> Result<(), DbError> {
        // The final SELECT takes the snapshot now rather than at the first read.
        let begin = format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;
             {SNAPSHOT_SETTINGS}
             SET LOCAL lock_timeout = '{LOCK_TIMEOUT}';
             SELECT 1"
        );
        self.exported = None;
        self.held.clear();
        self.execute_batch(&begin, "starting the snapshot")
    }

    fn reflect(&mut self) -> Result<Vec<TableInfo>, DbError> {
        let mut tables: Vec<TableInfo> = Vec::new();
        for (table, column) in self.reflect_columns()? {
            match tables.last_mut() {
                Some(last) if last.name == table => last.columns.extend(column),
                _ => tables.push(TableInfo {
                    name: table,
                    columns: column.into_iter().collect(),
                    primary_key: Vec::new(),
                    unique: Vec::new(),
                    foreign_keys: Vec::new(),
                }),
            }
        }
        let constraints = self
            .client
            .query(REFLECT_CONSTRAINTS, &[&self.schema])
            .map_err(|e| {
                self.session
                    .query_error("reading the tables' keys".into(), &e)
            })?;
        for row in &constraints {
            let table: &str = row.get(0);
            let Ok(index) = tables.binary_search_by(|t| t.name.as_str().cmp(table)) else {
                continue;
            };
            let info = &mut tables[index];
            let columns: Vec<String> = row.get(2);
            match row.get::<_, &str>(1) {
                "p" => info.primary_key = columns,
                "u" => info.unique.push(columns),
                _ => info.foreign_keys.push(ForeignKey {
                    columns,
                    table: row.get(3),
                    references: row.get(4),
                }),
            }
        }
        for info in &mut tables {
            info.drop_repeated_unique();
        }
        Ok(tables)
    }

    fn hold_tables(&mut self, tables: &[&str]) -> Result<(), DbError> {
        if tables.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = tables.to_vec();
        // Checked first so that the error names every table the role cannot read (a
        // failed LOCK names only the first).
        let unreadable = self
            .client
            .query(
                "SELECT t FROM unnest($1::text[]) AS t \
                 WHERE NOT has_table_privilege(format('%I.%I', $2::text, t), 'SELECT')",
                &[&names, &self.schema],
            )
            .map_err(|e| {
                self.session
                    .query_error("checking the tables can be read".into(), &e)
            })?;
        if !unreadable.is_empty() {
            let list: Vec<String> = unreadable
                .iter()
                .map(|row| self.qualified(row.get(0)))
                .collect();
            return Err(DbError::Query {
                what: format!("reading {}", list.join(", ")),
                reason: format!(
                    "permission denied: role \"{}\" may not read it; GRANT SELECT ON {} TO {}",
                    self.session.role,
                    list.join(", "),
                    quote_ident(&self.session.role)
                ),
            });
        }
        // One table at a time: a lock that cannot be had is named on its own.
        let list: Vec<String> = tables.iter().map(|t| self.qualified(t)).collect();
        for table in &list {
            let sql = format!("LOCK TABLE {table} IN ACCESS SHARE MODE");
            self.client
                .batch_execute(&sql)
                .map_err(|e| self.session.query_error(format!("holding {table}"), &e))?;
        }
        self.held = list;
        Ok(())
    }

    fn count(&mut self, query: &RowQuery) -> Result<u64, DbError> {
        let what = format!("counting the rows of table \"{}\"", query.table);
        let row = self.query_unordered("SELECT count(*)", query, &what)?;
        let count: i64 = row.get(0);
        u64::try_from(count).map_err(|_| DbError::Query {
            what,
            reason: format!("the server counted {count} rows"),
        })
    }

    fn size_bytes(&mut self) -> Result<u64, DbError> {
        let what = "measuring the database's size";
        let row = self
            .client
            .query_one("SELECT pg_database_size(current_database())", &[])
            .map_err(|e| self.session.query_error(what.to_owned(), &e))?;
        let size: i64 = row.get(0);
        Ok(u64::try_from(size).unwrap_or_default())
    }

    fn estimate(&mut self, query: &RowQuery) -> Result<u64, DbError> {
        let what = format!("estimating the rows of table \"{}\"", query.table);
        let row = self.query_unordered("EXPLAIN (FORMAT JSON) SELECT 1", query, &what)?;
        let plan: Value = row.get(0);
        // Written as a whole number (`%.0f`); an estimate only shapes a progress bar.
        Ok(plan
            .pointer("/0/Plan/Plan Rows")
            .and_then(Value::as_u64)
            .unwrap_or(0))
    }

    fn for_each_row(
        &mut self,
        query: &RowQuery,
        columns: &[Column],
        row: &mut dyn FnMut(Vec<Value>) -> Result<(), DbError>,
    ) -> Result<(), DbError> {
        self.read_rows(query, columns, None, &mut |values, _| row(values))
    }

    fn for_each_row_verbatim(
        &mut self,
        query: &RowQuery,
        columns: &[Column],
        verbatim: &Verbatim<'_>,
        row: &mut dyn FnMut(Vec<Value>, EncodedValues) -> Result<(), DbError>,
    ) -> Result<(), DbError> {
        self.read_rows(query, columns, Some(verbatim), row)
    }

    fn snapshot_reader(&mut self) -> Result<Option<Box<dyn SnapshotReader>>, DbError> {
        let snapshot = if let Some(snapshot) = &self.exported {
            snapshot.clone()
        } else {
            let exported = self
                .client
                .query_one("SELECT pg_export_snapshot()", &[])
                .map_err(|e| {
                    self.session
                        .query_error("sharing the snapshot with a second connection".into(), &e)
                })?;
            self.exported.insert(exported.get(0)).clone()
        };
        // An exported snapshot's id is hexadecimal digits and dashes.
        if !snapshot.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Ok(None);
        }
        // The held tables are locked without waiting: a session already waiting to change
        // one (an ALTER TABLE queued behind this engine's lock) would have this
        // connection's lock queue behind it, while the engine waits for this connection,
        // and nothing would ever move. Then the rows are read on the engine's own.
        let hold = if self.held.is_empty() {
            String::new()
        } else {
            format!(
                "LOCK TABLE {} IN ACCESS SHARE MODE NOWAIT;",
                self.held.join(", ")
            )
        };
        let setup = format!(
            "SET TRANSACTION SNAPSHOT '{snapshot}';
             {SNAPSHOT_SETTINGS}
             SET LOCAL lock_timeout = '{LOCK_TIMEOUT}';
             {hold}"
        );
        Ok(RowReader::open(&self.config, &setup).map(|reader| {
            Box::new(SharedSnapshot {
                reader,
                schema: self.schema.clone(),
                session: self.session.clone(),
                broken: false,
            }) as Box<dyn SnapshotReader>
        }))
    }

    fn end_snapshot(&mut self) -> Result<(), DbError> {
        self.exported = None;
        self.held.clear();
        self.execute_batch("ROLLBACK", "ending the snapshot")
    }
}

impl PostgresEngine {
    /// [`Engine::for_each_row_verbatim`], and without `verbatim` [`Engine::for_each_row`]:
    /// `jsonb` values are the ones given verbatim when they can be.
    fn read_rows(
        &mut self,
        query: &RowQuery,
        columns: &[Column],
        verbatim: Option<&Verbatim<'_>>,
        row: &mut dyn FnMut(Vec<Value>, EncodedValues) -> Result<(), DbError>,
    ) -> Result<(), DbError> {
        let select = TableSelect::new(query, columns, &self.schema);
        let statement = self
            .client
            .prepare(&select.sql)
            .map_err(|e| self.session.query_error(select.what(), &e))?;
        let decoders = select.decoders(&statement)?;
        let mut rows = self
            .client
            .query_raw(&statement, select.params())
            .map_err(|e| self.session.query_error(select.what(), &e))?;
        let mut position = 0;
        loop {
            match rows.next() {
                Ok(Some(fetched)) => {
                    position += 1;
                    let (values, encoded) = select.row(&fetched, &decoders, position, verbatim)?;
                    row(values, encoded)?;
                }
                Ok(None) => return Ok(()),
                Err(e) => return Err(self.session.query_error(select.what(), &e)),
            }
        }
    }
}

/// A second connection reading rows in a [`PostgresEngine`]'s snapshot.
struct SharedSnapshot {
    reader: RowReader,
    schema: String,
    session: Session,
    /// A statement failed: the transaction, or the connection, is gone.
    broken: bool,
}

impl SnapshotReader for SharedSnapshot {
    fn for_each_row_verbatim(
        &mut self,
        query: &RowQuery,
        columns: &[Column],
        verbatim: &Verbatim<'_>,
        row: &mut dyn FnMut(Vec<Value>, EncodedValues) -> Result<(), DbError>,
    ) -> Result<(), DbError> {
        let select = TableSelect::new(query, columns, &self.schema);
        let read = self.reader.run(async |client| {
            let statement = client.prepare(&select.sql).await?;
            let decoders = select.decoders(&statement).map_err(Stop::Caller)?;
            let mut rows = pin!(client.query_raw(&statement, select.params()).await?);
            let mut position = 0;
            while let Some(fetched) = rows.next().await {
                position += 1;
                let (values, encoded) = select
                    .row(&fetched?, &decoders, position, Some(verbatim))
                    .map_err(Stop::Caller)?;
                row(values, encoded).map_err(Stop::Caller)?;
            }
            Ok(())
        });
        read.map_err(|stop| match stop {
            Stop::Database(e) => {
                self.broken = true;
                self.session.query_error(select.what(), &e)
            }
            Stop::Caller(e) => e,
        })
    }

    fn is_broken(&self) -> bool {
        self.broken
    }
}

/// One table's rows as they are selected: in the query's order, each column as its
/// decoder reads it.
struct TableSelect<'a> {
    query: &'a RowQuery,
    columns: &'a [Column],
    sql: String,
    texts: Vec<String>,
    key: RowKey,
}

impl<'a> TableSelect<'a> {
    fn new(query: &'a RowQuery, columns: &'a [Column], schema: &str) -> Self {
        let select: Vec<String> = columns.iter().map(select_expression).collect();
        let unordered = RowQuery {
            order_by: Vec::new(),
            ..query.clone()
        };
        let sql = format!(
            "SELECT {}{}{}",
            select.join(", "),
            unordered.from_clause(Some(schema)),
            order_clause(query, columns)
        );
        Self {
            query,
            columns,
            sql,
            texts: text_params(&query.params),
            key: RowKey::new(query, columns),
        }
    }

    fn what(&self) -> String {
        format!("reading table \"{}\"", self.query.table)
    }

    fn params(&self) -> impl ExactSizeIterator<Item = TextParam<'_>> {
        self.texts.iter().map(|t| TextParam(t))
    }

    /// How each column of the prepared `statement` is read; an error when a type is no
    /// longer the one the schema was read with.
    fn decoders(&self, statement: &Statement) -> Result<Vec<ColumnDecoder>, DbError> {
        self.columns
            .iter()
            .zip(statement.columns())
            .map(|(column, result)| ColumnDecoder::new(&self.query.table, column, result.type_()))
            .collect()
    }

    /// The values of the row at `position` (from 1), as [`decode_row`] gives them; an
    /// error names the row and the column.
    fn row(
        &self,
        fetched: &Row,
        decoders: &[ColumnDecoder],
        position: u64,
        verbatim: Option<&Verbatim<'_>>,
    ) -> Result<(Vec<Value>, EncodedValues), DbError> {
        decode_row(fetched, decoders, verbatim).map_err(|(index, problem)| DbError::BadValue {
            table: self.query.table.clone(),
            row: self.key.describe(fetched, decoders, position),
            column: self.columns[index].name.clone(),
            problem,
        })
    }
}

/// The values of one row as format 1.1 writes them (`verbatim`: with the `jsonb` values
/// it gives apart, their places holding `true`); an error names the column by index.
fn decode_row(
    fetched: &Row,
    decoders: &[ColumnDecoder],
    verbatim: Option<&Verbatim<'_>>,
) -> Result<(Vec<Value>, EncodedValues), (usize, String)> {
    let mut values = Vec::with_capacity(decoders.len());
    let mut encoded = Vec::new();
    for (index, decoder) in decoders.iter().enumerate() {
        let text = match verbatim {
            Some(verbatim) => decoder.verbatim(fetched, index, verbatim),
            None => Ok(None),
        };
        let decoded = text.and_then(|text| match text {
            Some(text) => {
                encoded.push((index, text));
                Ok(Value::Bool(true))
            }
            None => decoder.decode(fetched, index),
        });
        values.push(decoded.map_err(|problem| (index, problem))?);
    }
    Ok((values, encoded))
}

/// A value bound in PostgreSQL's text format (or NULL): the server reads it as the
/// type of the place it is bound to (a column of an `INSERT`, a comparison), exactly as
/// it reads a literal of that type.
#[derive(Debug)]
struct TextValue(Option<String>);

impl TextValue {
    fn of(value: &SqlValue) -> Self {
        Self(match value {
            SqlValue::Null => None,
            SqlValue::Integer(n) => Some(n.to_string()),
            SqlValue::Real(f) if f.is_nan() => Some("NaN".to_owned()),
            SqlValue::Real(f) if f.is_infinite() => {
                Some(if *f > 0.0 { "Infinity" } else { "-Infinity" }.to_owned())
            }
            SqlValue::Real(f) => Some(f.to_string()),
            SqlValue::Text(s) => Some(s.clone()),
            SqlValue::Blob(bytes) => {
                let mut text = String::with_capacity(2 + 2 * bytes.len());
                text.push_str("\\x");
                for byte in bytes {
                    let _ = write!(text, "{byte:02x}");
                }
                Some(text)
            }
        })
    }
}

impl ToSql for TextValue {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match &self.0 {
            Some(text) => {
                out.extend_from_slice(text.as_bytes());
                Ok(IsNull::No)
            }
            None => Ok(IsNull::Yes),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    fn encode_format(&self, _: &Type) -> Format {
        Format::Text
    }

    to_sql_checked!();
}

/// Bytes of rows gathered before they are sent to the server.
const COPY_CHUNK: usize = 256 * 1024;

/// Why a `COPY … FROM STDIN` failed.
enum CopyFailure {
    /// The server refused it (a value, a constraint) or the connection broke.
    Server(postgres::Error),
    /// Sending failed otherwise.
    Connection(String),
    /// The rows' source failed.
    Rows(DbError),
}

/// Runs `sql` (a `COPY … FROM STDIN`) with the rows of `rows`, sent in chunks as they come
/// (the server reads one while the next is prepared): the rows written. A failure drops
/// the copy unfinished, which aborts it.
fn copy_in(client: &mut Client, sql: &str, rows: &mut RowSource<'_>) -> Result<u64, CopyFailure> {
    let mut writer = client.copy_in(sql).map_err(CopyFailure::Server)?;
    let mut data = Vec::with_capacity(COPY_CHUNK + 4096);
    let mut failed: Option<CopyFailure> = None;
    let produced = rows(&mut |values| {
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                data.push(b'\t');
            }
            push_copy_text(&mut data, value);
        }
        data.push(b'\n');
        if data.len() >= COPY_CHUNK {
            if let Err(error) = send(&mut writer, &data) {
                failed = Some(error);
                // Stops the source; the failure kept above is the one reported.
                return Err(DbError::Query {
                    what: String::new(),
                    reason: String::new(),
                });
            }
            data.clear();
        }
        Ok(())
    });
    if let Some(failure) = failed {
        return Err(failure);
    }
    produced.map_err(CopyFailure::Rows)?;
    send(&mut writer, &data)?;
    // The server's refusal of a row comes with the end of the copy.
    writer.finish().map_err(CopyFailure::Server)
}

fn send(writer: &mut postgres::CopyInWriter<'_>, data: &[u8]) -> Result<(), CopyFailure> {
    writer.write_all(data).map_err(|error| {
        let message = error.to_string();
        // The writer wraps the client's error in an io::Error.
        match error
            .into_inner()
            .map(<dyn StdError + Send + Sync>::downcast::<postgres::Error>)
        {
            Some(Ok(inner)) => CopyFailure::Server(*inner),
            _ => CopyFailure::Connection(message),
        }
    })
}

/// `value` as a field of `COPY`'s text format: its text form with backslash, tab,
/// newline and carriage return escaped, NULL as `\N`.
fn push_copy_text(data: &mut Vec<u8>, value: &SqlValue) {
    let Some(text) = TextValue::of(value).0 else {
        data.extend_from_slice(b"\\N");
        return;
    };
    for byte in text.bytes() {
        match byte {
            b'\\' => data.extend_from_slice(b"\\\\"),
            b'\t' => data.extend_from_slice(b"\\t"),
            b'\n' => data.extend_from_slice(b"\\n"),
            b'\r' => data.extend_from_slice(b"\\r"),
            _ => data.push(byte),
        }
    }
}

/// The memory of each sort or hash of a restore's statements: a replace joins the
/// tenant's rows with the archive's, which spills to disk at the default 4 MB.
const RESTORE_WORK_MEM: &str = "64MB";

/// How long a restore waits for the application's sessions to release a table.
const WRITE_LOCK_TIMEOUT: &str = "30s";

impl PostgresEngine {
    /// A failed write as an error naming the constraint, column and row PostgreSQL
    /// names.
    fn write_error(&self, what: &str, error: &postgres::Error) -> DbError {
        if let Some(db) = error.as_db_error() {
            // A row's values are never repeated (one may be a secret): not the failing
            // row PostgreSQL details, nor the value of a data error (`invalid input
            // syntax for type date: "…"`).
            let mut reason = if db.code().code().starts_with("22") {
                format!(
                    "{} (SQLSTATE {}): a value of the archive that the column's type does not accept",
                    db.message().split(':').next().unwrap_or_default(),
                    db.code().code()
                )
            } else {
                db.message().to_owned()
            };
            if let Some(detail) = db.detail().and_then(value_free_detail) {
                reason.push_str(" (");
                reason.push_str(&detail);
                reason.push(')');
            }
            if let Some(column) = db.column() {
                let _ = write!(reason, ", column \"{column}\"");
            }
            if let Some(constraint) = db.constraint() {
                let _ = write!(reason, ", constraint \"{constraint}\"");
            }
            if *db.code() == SqlState::LOCK_NOT_AVAILABLE {
                let _ = write!(
                    reason,
                    ": another session held the table for more than {WRITE_LOCK_TIMEOUT}; stop the application's writes and restore again"
                );
            }
            return DbError::Query {
                what: what.to_owned(),
                reason,
            };
        }
        self.session.query_error(what.to_owned(), error)
    }

    fn bound(params: &[SqlValue]) -> Vec<TextValue> {
        params.iter().map(TextValue::of).collect()
    }
}

impl WriteEngine for PostgresEngine {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn qualified(&self, table: &str) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(table))
    }

    fn schema(&self) -> Option<&str> {
        Some(&self.schema)
    }

    fn begin_write(&mut self) -> Result<(), DbError> {
        // The same text settings as a backup's, so values read and written mean the same;
        // deferrable constraints are checked at the end (check_constraints, COMMIT).
        let begin = format!(
            "BEGIN ISOLATION LEVEL READ COMMITTED;
             SET LOCAL TimeZone = 'UTC';
             SET LOCAL DateStyle = 'ISO';
             SET LOCAL IntervalStyle = 'postgres';
             SET LOCAL extra_float_digits = 3;
             SET LOCAL bytea_output = 'hex';
             SET LOCAL lock_timeout = '{WRITE_LOCK_TIMEOUT}';
             SET LOCAL statement_timeout = 0;
             SET LOCAL idle_in_transaction_session_timeout = 0;
             SET LOCAL work_mem = '{RESTORE_WORK_MEM}';
             SET CONSTRAINTS ALL DEFERRED"
        );
        self.client
            .batch_execute(&begin)
            .map_err(|e| self.write_error("starting the restore's transaction", &e))
    }

    fn lock_for_write(&mut self, tables: &[&str]) -> Result<(), DbError> {
        if tables.is_empty() {
            return Ok(());
        }
        let list: Vec<String> = tables.iter().map(|t| self.qualified(t)).collect();
        let sql = format!("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE", list.join(", "));
        self.client
            .batch_execute(&sql)
            .map_err(|e| self.write_error(&format!("locking {}", list.join(", ")), &e))
    }

    fn execute(&mut self, what: &str, sql: &str, params: &[SqlValue]) -> Result<u64, DbError> {
        let values = Self::bound(params);
        let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v as _).collect();
        self.client
            .execute(sql, &refs)
            .map_err(|e| self.write_error(what, &e))
    }

    fn copy_rows(
        &mut self,
        what: &str,
        table: &str,
        columns: &[&str],
        rows: &mut RowSource<'_>,
    ) -> Result<u64, DbError> {
        let names: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
        let sql = format!("COPY {table} ({}) FROM STDIN", names.join(", "));
        match copy_in(&mut self.client, &sql, rows) {
            Ok(written) => Ok(written),
            Err(CopyFailure::Server(error)) => Err(self.write_error(what, &error)),
            Err(CopyFailure::Connection(error)) => Err(DbError::Query {
                what: what.to_owned(),
                reason: format!("the connection failed while sending the rows: {error}"),
            }),
            Err(CopyFailure::Rows(error)) => Err(error),
        }
    }

    fn exists(&mut self, what: &str, sql: &str, params: &[SqlValue]) -> Result<bool, DbError> {
        let values = Self::bound(params);
        let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v as _).collect();
        self.client
            .query_opt(&format!("SELECT EXISTS ({sql})"), &refs)
            .map(|row| row.is_some_and(|row| row.get::<_, bool>(0)))
            .map_err(|e| self.write_error(what, &e))
    }

    fn check_constraints(&mut self, _tables: &[&str]) -> Result<(), DbError> {
        self.client
            .batch_execute("SET CONSTRAINTS ALL IMMEDIATE")
            .map_err(|e| self.write_error("checking the deferred constraints", &e))
    }

    fn advance_sequences(&mut self, table: &TableInfo) -> Result<Vec<SequenceMove>, DbError> {
        let qualified = self.qualified(&table.name);
        let mut moved = Vec::new();
        for column in &table.columns {
            if column
                .column_type
                .is_none_or(|t| t.scalar != ScalarType::Integer || t.array)
            {
                continue;
            }
            let what = format!(
                "moving the sequence of table \"{}\", column \"{}\" past the restored keys",
                table.name, column.name
            );
            let sequence: Option<String> = self
                .client
                .query_one(
                    "SELECT pg_get_serial_sequence($1, $2)",
                    &[&qualified, &column.name],
                )
                .map_err(|e| self.write_error(&what, &e))?
                .get(0);
            let Some(sequence) = sequence else { continue };
            let max: Option<i64> = self
                .client
                .query_one(
                    &format!(
                        "SELECT max({})::int8 FROM {qualified}",
                        quote_ident(&column.name)
                    ),
                    &[],
                )
                .map_err(|e| self.write_error(&what, &e))?
                .get(0);
            let Some(max) = max else { continue };
            // The value the next nextval() would return: last_value + increment once
            // called, the start value before.
            let row = self
                .client
                .query_one(
                    "SELECT s.last_value, s.start_value, s.increment_by FROM pg_sequences s \
                     WHERE format('%I.%I', s.schemaname, s.sequencename)::regclass = $1::text::regclass",
                    &[&sequence],
                )
                .map_err(|e| self.write_error(&what, &e))?;
            let last: Option<i64> = row.get(0);
            let start: i64 = row.get(1);
            let increment: i64 = row.get(2);
            let next = last.map_or(start, |last| last.saturating_add(increment));
            if increment > 0 && max >= next {
                self.client
                    .query_one("SELECT setval($1::text::regclass, $2)", &[&sequence, &max])
                    .map_err(|e| self.write_error(&what, &e))?;
                moved.push(SequenceMove {
                    table: table.name.clone(),
                    column: column.name.clone(),
                    sequence,
                    value: max,
                });
            }
        }
        Ok(moved)
    }

    fn generated_columns(&mut self, table: &str) -> Result<Vec<String>, DbError> {
        let qualified = self.qualified(table);
        let rows = self
            .client
            .query(
                "SELECT attname::text FROM pg_attribute WHERE attrelid = $1::text::regclass \
                 AND attnum > 0 AND NOT attisdropped AND attgenerated <> '' ORDER BY attnum",
                &[&qualified],
            )
            .map_err(|e| {
                self.write_error(
                    &format!("reading the generated columns of table \"{table}\""),
                    &e,
                )
            })?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }

    fn has_triggers(&mut self, table: &str) -> Result<bool, DbError> {
        let qualified = self.qualified(table);
        self.client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_trigger \
                 WHERE tgrelid = $1::text::regclass AND NOT tgisinternal)",
                &[&qualified],
            )
            .map(|row| row.get(0))
            .map_err(|e| {
                self.write_error(&format!("reading the triggers of table \"{table}\""), &e)
            })
    }

    fn delete_effects(&mut self) -> Result<Vec<(String, ForeignKey, DeleteEffect)>, DbError> {
        let rows = self
            .client
            .query(
                "SELECT c.relname::text,
                        ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord)
                              JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum ORDER BY u.ord),
                        fc.relname::text,
                        ARRAY(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY AS u(attnum, ord)
                              JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.attnum ORDER BY u.ord),
                        k.confdeltype IN ('c', 'n', 'd')
                 FROM pg_constraint k
                 JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                 JOIN pg_class fc ON fc.oid = k.confrelid JOIN pg_namespace fn ON fn.oid = fc.relnamespace
                 WHERE k.contype = 'f' AND n.nspname = $1 AND fn.nspname = $1
                   AND (k.confdeltype IN ('c', 'n', 'd', 'r') OR NOT k.condeferrable)
                 ORDER BY c.relname, k.conname",
                &[&self.schema],
            )
            .map_err(|e| self.write_error("reading the foreign keys' delete actions", &e))?;
        Ok(rows
            .iter()
            .map(|row| {
                (
                    row.get(0),
                    ForeignKey {
                        columns: row.get(1),
                        table: row.get(2),
                        references: row.get(3),
                    },
                    if row.get(4) {
                        DeleteEffect::Changes
                    } else {
                        DeleteEffect::Forbids
                    },
                )
            })
            .collect())
    }

    fn commit(&mut self) -> Result<(), DbError> {
        self.client
            .batch_execute("COMMIT")
            .map_err(|e| self.write_error("committing the restore", &e))
    }

    fn rollback(&mut self) -> Result<(), DbError> {
        self.client
            .batch_execute("ROLLBACK")
            .map_err(|e| self.write_error("rolling the restore back", &e))
    }
}

/// PostgreSQL's detail of an error without the values it quotes: never the failing row,
/// and a key's columns without their values (`Key (label)=(new) already exists.` →
/// `Key (label) already exists.`), keeping what follows them (the table a key is missing
/// from or still referenced from).
fn value_free_detail(detail: &str) -> Option<String> {
    if detail.starts_with("Failing row contains") {
        return None;
    }
    let Some(columns_end) = detail.find(")=(") else {
        return Some(detail.to_owned());
    };
    let columns = &detail[..=columns_end];
    // The last one: a value may hold the same words, the message's own come after it.
    let rest = [
        " is not present in table ",
        " is still referenced from table ",
        " already exists",
    ]
    .iter()
    .filter_map(|marker| detail.rfind(marker))
    .max()
    .map_or("", |at| &detail[at..]);
    Some(format!("{columns}{rest}"))
}

/// ` ORDER BY …` of `query`: a `json` column (a key-less table is ordered by every
/// column) by its text, as `json` has no ordering of its own.
fn order_clause(query: &RowQuery, columns: &[Column]) -> String {
    if query.order_by.is_empty() {
        return String::new();
    }
    let keys: Vec<String> = query
        .order_by
        .iter()
        .map(|name| {
            let json = columns
                .iter()
                .any(|c| c.name == *name && c.column_type.scalar == ScalarType::Json);
            if json {
                format!("{}::text", quote_ident(name))
            } else {
                quote_ident(name)
            }
        })
        .collect();
    format!(" ORDER BY {}", keys.join(", "))
}

/// How a column is selected: as itself (decoded from its binary form), or as text where
/// PostgreSQL's text is the exact form (`numeric`, `json`, `jsonb`, arrays of them).
fn select_expression(column: &Column) -> String {
    let name = quote_ident(&column.name);
    match (column.column_type.scalar, column.column_type.array) {
        (ScalarType::Numeric | ScalarType::Json, false) => format!("{name}::text"),
        (ScalarType::Numeric | ScalarType::Json, true) => format!("{name}::text[]"),
        _ => name,
    }
}

/// The scalar type of a catalog type (already seen through domains): builtin types by
/// OID, enums (`typtype` `e`) as text; anything else is unknown.
fn scalar_of_catalog(oid: u32, typtype: &str) -> Option<ScalarType> {
    if typtype == "e" {
        return Some(ScalarType::Text);
    }
    Type::from_oid(oid).and_then(|ty| scalar_of_builtin(&ty))
}

/// The scalar type of a builtin PostgreSQL type sitepack knows.
fn scalar_of_builtin(ty: &Type) -> Option<ScalarType> {
    let scalar = if [Type::INT2, Type::INT4, Type::INT8].contains(ty) {
        ScalarType::Integer
    } else if *ty == Type::NUMERIC {
        ScalarType::Numeric
    } else if [Type::FLOAT4, Type::FLOAT8].contains(ty) {
        ScalarType::Float
    } else if *ty == Type::BOOL {
        ScalarType::Boolean
    } else if [
        Type::TEXT,
        Type::VARCHAR,
        Type::BPCHAR,
        Type::NAME,
        Type::CHAR,
    ]
    .contains(ty)
    {
        ScalarType::Text
    } else if *ty == Type::BYTEA {
        ScalarType::Bytes
    } else if *ty == Type::DATE {
        ScalarType::Date
    } else if *ty == Type::TIME {
        ScalarType::Time
    } else if *ty == Type::TIMESTAMP {
        ScalarType::Timestamp
    } else if *ty == Type::TIMESTAMPTZ {
        ScalarType::Timestamptz
    } else if [Type::JSON, Type::JSONB].contains(ty) {
        ScalarType::Json
    } else if *ty == Type::UUID {
        ScalarType::Uuid
    } else {
        return None;
    };
    Some(scalar)
}

/// The type a value of `ty` is sent as: a domain's values are its base type's.
fn base_type(ty: &Type) -> &Type {
    match ty.kind() {
        Kind::Domain(base) => base_type(base),
        _ => ty,
    }
}

/// One binary form the decoder reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wire {
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Bool,
    /// UTF-8 text: `text`, `varchar`, `bpchar`, `name`, an enum's label, and `numeric`
    /// or JSON selected as text.
    Text,
    /// The one-byte `"char"`.
    Char,
    Bytea,
    Date,
    Time,
    Timestamp,
    Timestamptz,
    /// Parsed as JSON (a JSON column selected as text), a key twice refused.
    JsonText,
    /// Parsed as JSON (a `jsonb` column selected as text: PostgreSQL keeps no key twice).
    JsonbText,
    Uuid,
}

impl Wire {
    /// The binary form of a result column of type `ty` (not an array) that holds
    /// values of `scalar`, or `None` when the two do not fit together.
    fn of(scalar: ScalarType, ty: &Type) -> Option<Self> {
        let ty = base_type(ty);
        let wire = match scalar {
            ScalarType::Integer if *ty == Type::INT2 => Self::Int2,
            ScalarType::Integer if *ty == Type::INT4 => Self::Int4,
            ScalarType::Integer if *ty == Type::INT8 => Self::Int8,
            ScalarType::Float if *ty == Type::FLOAT4 => Self::Float4,
            ScalarType::Float if *ty == Type::FLOAT8 => Self::Float8,
            ScalarType::Numeric if *ty == Type::TEXT => Self::Text,
            ScalarType::Json if *ty == Type::TEXT => Self::JsonText,
            ScalarType::Text if *ty == Type::CHAR => Self::Char,
            ScalarType::Text
                if matches!(ty.kind(), Kind::Enum(_))
                    || [Type::TEXT, Type::VARCHAR, Type::BPCHAR, Type::NAME].contains(ty) =>
            {
                Self::Text
            }
            _ if scalar_of_builtin(ty) != Some(scalar) => return None,
            ScalarType::Boolean => Self::Bool,
            ScalarType::Bytes => Self::Bytea,
            ScalarType::Date => Self::Date,
            ScalarType::Time => Self::Time,
            ScalarType::Timestamp => Self::Timestamp,
            ScalarType::Timestamptz => Self::Timestamptz,
            ScalarType::Uuid => Self::Uuid,
            _ => return None,
        };
        Some(wire)
    }

    /// The value of one (non-NULL) binary field, or what is wrong with it.
    fn decode(self, raw: &[u8]) -> Result<Value, String> {
        let value = match self {
            Self::Int2 => Value::from(i16::from_be_bytes(fixed(raw, "int2")?)),
            Self::Int4 => Value::from(i32::from_be_bytes(fixed(raw, "int4")?)),
            Self::Int8 => Value::from(i64::from_be_bytes(fixed(raw, "int8")?)),
            Self::Float4 => float_value(f32::from_be_bytes(fixed(raw, "float4")?)),
            Self::Float8 => float_value(f64::from_be_bytes(fixed(raw, "float8")?)),
            Self::Bool => Value::Bool(fixed::<1>(raw, "bool")?[0] != 0),
            Self::Text => Value::String(utf8(raw)?.to_owned()),
            Self::Char => Value::String(char_text(fixed::<1>(raw, "\"char\"")?[0])),
            Self::Bytea => Value::String(base64::engine::general_purpose::STANDARD.encode(raw)),
            Self::Date => Value::String(date_text(i32::from_be_bytes(fixed(raw, "date")?))?),
            Self::Time => Value::String(time_text(i64::from_be_bytes(fixed(raw, "time")?))),
            Self::Timestamp => Value::String(timestamp_text(
                i64::from_be_bytes(fixed(raw, "timestamp")?),
                "",
            )?),
            Self::Timestamptz => Value::String(timestamp_text(
                i64::from_be_bytes(fixed(raw, "timestamptz")?),
                "+00:00",
            )?),
            // As every JSON document of an archive: no key twice (a `json` value keeps
            // both; a parser would silently keep one of them).
            Self::JsonbText => serde_json::from_slice(raw).map_err(|e| {
                format!(
                    "a JSON value sitepack cannot carry as it is ({e}); fix the value or exclude the table"
                )
            })?,
            Self::JsonText => sitepack_format::parse_document(raw).map_err(|e| {
                format!(
                    "a JSON value sitepack cannot carry as it is ({e}); fix the value or exclude the table"
                )
            })?,
            Self::Uuid => {
                let uuid = uuid::Uuid::from_bytes(fixed(raw, "uuid")?);
                let mut buffer = uuid::Uuid::encode_buffer();
                Value::String(uuid.hyphenated().encode_lower(&mut buffer).to_owned())
            }
        };
        Ok(value)
    }
}

/// How one selected column is decoded.
struct ColumnDecoder {
    wire: Wire,
    array: bool,
}

impl ColumnDecoder {
    /// The decoder for `column` (of `table`) whose result column has type `ty`; an error
    /// when the type no longer is the one the schema was read with.
    fn new(table: &str, column: &Column, ty: &Type) -> Result<Self, DbError> {
        let column_type = column.column_type;
        let wire = if column_type.array {
            match base_type(ty).kind() {
                Kind::Array(element) => Wire::of(column_type.scalar, element),
                _ => None,
            }
        } else {
            Wire::of(column_type.scalar, ty)
        };
        // `jsonb` keeps one value per key: only `json` text can repeat one.
        let jsonb = column.declared.trim_end_matches("[]") == "jsonb";
        let wire = wire.map(|wire| match wire {
            Wire::JsonText if jsonb => Wire::JsonbText,
            other => other,
        });
        let wire = wire.ok_or_else(|| DbError::Query {
            what: format!("reading table \"{table}\", column \"{}\"", column.name),
            reason: format!(
                "the database now declares it as {}, not as the {} it was read as: the schema changed during the backup; run it again",
                ty.name(),
                column_type
            ),
        })?;
        Ok(Self {
            wire,
            array: column_type.array,
        })
    }

    /// The compact form `verbatim` gives column `index` of `row`, when the column is
    /// `jsonb` (whose text PostgreSQL writes as valid JSON, no member twice) and the
    /// value is not NULL.
    fn verbatim(
        &self,
        row: &Row,
        index: usize,
        verbatim: &Verbatim<'_>,
    ) -> Result<Option<String>, String> {
        if self.wire != Wire::JsonbText || self.array {
            return Ok(None);
        }
        let raw = row
            .try_get::<_, Option<RawValue<'_>>>(index)
            .map_err(|e| error_chain(&e))?;
        match raw {
            Some(RawValue(raw)) => Ok(verbatim(index, utf8(raw)?)),
            None => Ok(None),
        }
    }

    /// Column `index` of `row` as format 1.1 writes it.
    fn decode(&self, row: &Row, index: usize) -> Result<Value, String> {
        let raw = row
            .try_get::<_, Option<RawValue<'_>>>(index)
            .map_err(|e| error_chain(&e))?;
        match raw {
            None => Ok(Value::Null),
            Some(RawValue(raw)) if self.array => decode_array(self.wire, raw),
            Some(RawValue(raw)) => self.wire.decode(raw),
        }
    }
}

/// A field's bytes as the server sent them, whatever its type.
struct RawValue<'a>(&'a [u8]);

impl<'a> FromSql<'a> for RawValue<'a> {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn StdError + Sync + Send>> {
        Ok(Self(raw))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// The parameters of a [`RowQuery`] as text: each is sent in PostgreSQL's text format,
/// so that the server reads it as the type it infers from the filter — a tenant value
/// `7` fits an `int2`, `int4`, `int8` or `text` column alike, a text value a `uuid` one.
fn text_params(params: &[Param]) -> Vec<String> {
    params
        .iter()
        .map(|param| match param {
            Param::Integer(n) => n.to_string(),
            Param::Text(s) => s.clone(),
        })
        .collect()
}

/// One parameter in PostgreSQL's text format, whatever type the server gives it.
#[derive(Debug)]
struct TextParam<'a>(&'a str);

impl ToSql for TextParam<'_> {
    fn to_sql(
        &self,
        _: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        out.extend_from_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    fn encode_format(&self, _: &Type) -> Format {
        Format::Text
    }

    to_sql_checked!();
}

/// How a row is named in an error: by its key's values (`id=7`), or by its position in
/// the query's order when the query orders by every column (the table has no key).
struct RowKey {
    columns: Option<Vec<(usize, String)>>,
}

impl RowKey {
    fn new(query: &RowQuery, columns: &[Column]) -> Self {
        let by_key = !query.order_by.is_empty() && query.order_by.len() < columns.len();
        let key = by_key
            .then(|| {
                query
                    .order_by
                    .iter()
                    .map(|name| {
                        columns
                            .iter()
                            .position(|c| c.name == *name)
                            .map(|index| (index, name.clone()))
                    })
                    .collect::<Option<Vec<_>>>()
            })
            .flatten();
        Self { columns: key }
    }

    fn describe(&self, row: &Row, decoders: &[ColumnDecoder], position: u64) -> String {
        match &self.columns {
            Some(key) => key
                .iter()
                .map(|(index, name)| {
                    let value = decoders[*index]
                        .decode(row, *index)
                        .map_or_else(|_| "?".to_owned(), |v| v.to_string());
                    format!("{name}={value}")
                })
                .collect::<Vec<_>>()
                .join(", "),
            None => format!("#{position}"),
        }
    }
}

/// Reads the binary form of an array: dimensions, flags, element type, then each
/// dimension's length and lower bound, then each element's length (-1: NULL) and bytes.
fn decode_array(wire: Wire, raw: &[u8]) -> Result<Value, String> {
    let mut reader = ArrayReader(raw);
    let dimensions = reader.int()?;
    let _has_nulls = reader.int()?;
    let _element_type = reader.int()?;
    if dimensions == 0 {
        return Ok(Value::Array(Vec::new()));
    }
    if dimensions > 1 {
        return Err(format!(
            "a {dimensions}-dimensional array: format 1.1 writes one-dimensional arrays only; store it in one dimension or exclude the table"
        ));
    }
    let length = reader.int()?;
    let lower_bound = reader.int()?;
    if lower_bound != 1 {
        return Err(format!(
            "an array indexed from {lower_bound}: format 1.1 writes arrays indexed from 1; renumber it (a slice such as col[:] is indexed from 1) or exclude the table"
        ));
    }
    let length = usize::try_from(length).map_err(|_| malformed("array"))?;
    let mut elements = Vec::with_capacity(length.min(reader.0.len() / 4));
    for _ in 0..length {
        let size = reader.int()?;
        let element = match usize::try_from(size) {
            Ok(size) => wire.decode(reader.take(size)?)?,
            Err(_) => Value::Null,
        };
        elements.push(element);
    }
    Ok(Value::Array(elements))
}

/// The rest of an array's binary form.
struct ArrayReader<'a>(&'a [u8]);

impl<'a> ArrayReader<'a> {
    fn take(&mut self, size: usize) -> Result<&'a [u8], String> {
        if self.0.len() < size {
            return Err(malformed("array"));
        }
        let (taken, rest) = self.0.split_at(size);
        self.0 = rest;
        Ok(taken)
    }

    fn int(&mut self) -> Result<i32, String> {
        let bytes = self.take(4)?;
        Ok(i32::from_be_bytes(fixed(bytes, "array")?))
    }
}

fn malformed(type_name: &str) -> String {
    format!("the server sent a malformed {type_name} value")
}

/// The `N` bytes of a fixed-size binary value.
fn fixed<const N: usize>(raw: &[u8], type_name: &str) -> Result<[u8; N], String> {
    raw.try_into().map_err(|_| malformed(type_name))
}

fn utf8(raw: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(raw).map_err(|_| "the server sent text that is not UTF-8".to_owned())
}

/// A float as a JSON number that reads back to the same value (an `f32` is written with
/// the fewest digits that give back the `f32`, `0.1` rather than the `f64` widening
/// `0.10000000149011612`); NaN and the infinities as the strings PostgreSQL prints.
fn float_value<F: Into<Value> + Into<f64> + Copy>(float: F) -> Value {
    let wide: f64 = float.into();
    if wide.is_nan() {
        Value::String("NaN".to_owned())
    } else if wide == f64::INFINITY {
        Value::String("Infinity".to_owned())
    } else if wide == f64::NEG_INFINITY {
        Value::String("-Infinity".to_owned())
    } else {
        float.into()
    }
}

/// A `"char"` as PostgreSQL prints it: the byte itself when it is ASCII, `\ooo` (octal)
/// otherwise, and the empty string for the zero byte.
fn char_text(byte: u8) -> String {
    match byte {
        0 => String::new(),
        1..=0x7f => char::from(byte).to_string(),
        _ => format!("\\{byte:03o}"),
    }
}

/// Days between 1970-01-01 and PostgreSQL's epoch, 2000-01-01.
const POSTGRES_EPOCH_DAYS: i64 = 10_957;
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// A `date` (days since 2000-01-01) as `YYYY-MM-DD`, or `infinity`/`-infinity`.
fn date_text(days: i32) -> Result<String, String> {
    match days {
        i32::MAX => Ok("infinity".to_owned()),
        i32::MIN => Ok("-infinity".to_owned()),
        _ => {
            let mut text = String::with_capacity(10);
            push_date(&mut text, i64::from(days))?;
            Ok(text)
        }
    }
}

/// A `timestamp` (microseconds since 2000-01-01 00:00:00) as
/// `YYYY-MM-DDTHH:MM:SS[.ffffff]` followed by `offset`, or `infinity`/`-infinity`.
fn timestamp_text(micros: i64, offset: &str) -> Result<String, String> {
    match micros {
        i64::MAX => Ok("infinity".to_owned()),
        i64::MIN => Ok("-infinity".to_owned()),
        _ => {
            let mut text = String::with_capacity(32);
            push_date(&mut text, micros.div_euclid(MICROS_PER_DAY))?;
            text.push('T');
            push_time(&mut text, micros.rem_euclid(MICROS_PER_DAY));
            text.push_str(offset);
            Ok(text)
        }
    }
}

/// A `time` (microseconds since midnight, up to `24:00:00`) as `HH:MM:SS[.ffffff]`.
fn time_text(micros: i64) -> String {
    let mut text = String::with_capacity(15);
    push_time(&mut text, micros);
    text
}

/// Appends `YYYY-MM-DD` for `days` since 2000-01-01 (proleptic Gregorian calendar).
/// Years outside 1 … 9999 do not fit format 1.1's four digits and are refused.
fn push_date(text: &mut String, days: i64) -> Result<(), String> {
    // Howard Hinnant's days-to-civil algorithm, from 0000-03-01 in 400-year eras.
    let z = days + POSTGRES_EPOCH_DAYS + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    if !(1..=9999).contains(&year) {
        let shown = if year < 1 {
            format!("{} BC", 1 - year)
        } else {
            year.to_string()
        };
        return Err(format!(
            "the year {shown} is outside 1 to 9999, the years format 1.1 writes; change the value or exclude the table"
        ));
    }
    push_digits(text, year, 4);
    text.push('-');
    push_digits(text, month, 2);
    text.push('-');
    push_digits(text, day, 2);
    Ok(())
}

/// Appends `HH:MM:SS` and, when the seconds have a fraction, `.` and its digits without
/// trailing zeros — the rule PostgreSQL follows when it prints a time.
fn push_time(text: &mut String, micros: i64) {
    let seconds = micros / 1_000_000;
    push_digits(text, seconds / 3600, 2);
    text.push(':');
    push_digits(text, seconds / 60 % 60, 2);
    text.push(':');
    push_digits(text, seconds % 60, 2);
    let mut fraction = micros % 1_000_000;
    if fraction != 0 {
        let mut width = 6;
        while fraction % 10 == 0 {
            fraction /= 10;
            width -= 1;
        }
        text.push('.');
        push_digits(text, fraction, width);
    }
}

/// Appends the decimal digits of `value` (not negative), zero-padded to `width`.
fn push_digits(text: &mut String, value: i64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut rest = value.unsigned_abs();
    let mut start = digits.len();
    while rest > 0 {
        start -= 1;
        digits[start] = b"0123456789"[usize::from(u8::try_from(rest % 10).unwrap_or(0))];
        rest /= 10;
    }
    let start = start.min(digits.len() - width);
    for &digit in &digits[start..] {
        text.push(char::from(digit));
    }
}

/// The hosts and ports the configuration connects to, for messages.
fn server_of(config: &Config) -> String {
    let ports = config.get_ports();
    let port_of = |index: usize| {
        ports
            .get(index)
            .or_else(|| ports.first())
            .copied()
            .unwrap_or(5432)
    };
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(index, host)| match host {
            Host::Tcp(name) => format!("{name}:{}", port_of(index)),
            Host::Unix(path) => format!("{} (port {})", path.display(), port_of(index)),
        })
        .collect();
    if hosts.is_empty() {
        format!("localhost:{}", port_of(0))
    } else {
        hosts.join(", ")
    }
}

/// The database `url` names, fit for a message: the user and password replaced by
/// `…`, and no query string (it may hold `password=`). A `key=value` connection string is
/// shown as its host, port, database and user.
fn shown_target(url: &str, config: Option<&Config>) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let before_query = rest.split('?').next().unwrap_or_default();
        return match before_query.rsplit_once('@') {
            Some((_, after)) => format!("{scheme}://{CREDENTIAL_MASK}@{after}"),
            None => format!("{scheme}://{before_query}"),
        };
    }
    match config {
        Some(config) => {
            let mut shown = format!("host={}", server_of(config));
            if let Some(dbname) = config.get_dbname() {
                shown.push_str(" dbname=");
                shown.push_str(dbname);
            }
            if let Some(user) = config.get_user() {
                shown.push_str(" user=");
                shown.push_str(user);
            }
            shown
        }
        None => "the database URL".to_owned(),
    }
}

/// `text` with every occurrence of the password replaced by `…`: a last guard, should a
/// malformed URL or a server message ever repeat one.
fn scrub(text: String, password: &str) -> String {
    if password.is_empty() {
        text
    } else {
        text.replace(password, CREDENTIAL_MASK)
    }
}

/// Why a connection failed, naming the server, database or user to check.
fn connect_failure(error: &postgres::Error, config: &Config, server: &str) -> String {
    let database = config
        .get_dbname()
        .or_else(|| config.get_user())
        .unwrap_or("postgres");
    if let Some(db) = error.as_db_error() {
        match db.code() {
            code if *code == SqlState::INVALID_PASSWORD => format!(
                "{}: check the password in the URL, PGPASSWORD or password_file",
                db.message()
            ),
            code if *code == SqlState::INVALID_CATALOG_NAME => format!(
                "database \"{database}\" does not exist on {server}: check the database name in the URL"
            ),
            code if *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION => format!(
                "{}: check the user in the URL, and that the server's pg_hba.conf lets it connect",
                db.message()
            ),
            _ => db.message().to_owned(),
        }
    } else if error
        .source()
        .is_some_and(|cause| cause.to_string() == "password missing")
    {
        format!(
            "the server asks a password for user \"{}\" and none was given: put it in the URL, PGPASSWORD or password_file",
            config.get_user().unwrap_or_default()
        )
    } else if error
        .source()
        .is_some_and(<dyn StdError>::is::<std::io::Error>)
    {
        format!(
            "no PostgreSQL server answers at {server} ({}): check that it is running and that the host and port are right",
            error_chain(error)
        )
    } else {
        error_chain(error)
    }
}

#[cfg(test)]
mod tests {
    use super::value_free_detail;

    #[test]
    fn a_details_key_values_are_left_out_and_the_table_it_names_kept() {
        assert_eq!(
            value_free_detail("Key (label)=(new) already exists.").as_deref(),
            Some("Key (label) already exists.")
        );
        assert_eq!(
            value_free_detail(r#"Key (customer_id)=(3) is not present in table "customers"."#)
                .as_deref(),
            Some(r#"Key (customer_id) is not present in table "customers"."#)
        );
        // A value that holds the words themselves is still left out.
        assert_eq!(
            value_free_detail(
                r#"Key (a, b)=(x is not present in table "t", y) is still referenced from table "c"."#
            )
            .as_deref(),
            Some(r#"Key (a, b) is still referenced from table "c"."#)
        );
        assert_eq!(value_free_detail("Failing row contains (1, secret)."), None);
        assert_eq!(
            value_free_detail("Column \"title\" is used by a generated column.").as_deref(),
            Some("Column \"title\" is used by a generated column.")
        );
    }
}
