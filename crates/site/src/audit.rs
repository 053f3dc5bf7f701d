//! The site's audit log, `.sitepack/audit.jsonl`: one JSON object per line, appended by
//! every command that creates, restores, keeps, reverts, prunes or runs automatically.
//!
//! Appending is one `write` of a whole line; reading ([`read_audit_log`]) streams the file
//! line by line and never lets one bad line (a crash that cut the last line short, a hand
//! edit) hide the events around it.

use std::collections::VecDeque;
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sitepack_format::{Beneath, INTERNAL_DIR, Timestamp};

use crate::{AuditEvent, Details, Operation, Outcome};

/// File name of the audit log inside `.sitepack/`.
pub const AUDIT_LOG_NAME: &str = "audit.jsonl";

/// Lines longer than this are reported as bad lines without being held in memory
/// (a real event is a few kilobytes).
pub const MAX_AUDIT_LINE_BYTES: usize = 1 << 20;

/// At most this many bad lines are described; [`AuditLog::bad_line_count`] counts them all.
pub const MAX_BAD_LINES: usize = 1000;

/// Which events [`read_audit_log`] keeps. The default keeps every event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only events of this operation; `None` keeps every one.
    pub operation: Option<Operation>,
    /// Only the newest `limit` of the events that pass `operation` ("newest" is last in the
    /// log: events are appended in the order they happen).
    pub limit: Option<usize>,
}

/// A line of the audit log that is not an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadLine {
    /// Line number, from 1.
    pub line: u64,
    /// What is wrong with it. Never quotes the line's content.
    pub problem: String,
}

/// What [`read_audit_log`] found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AuditLog {
    /// The events kept by the filter, oldest first.
    pub events: Vec<AuditEvent>,
    /// How many events passed the operation filter, before the limit.
    pub matched: u64,
    /// The first [`MAX_BAD_LINES`] lines that are not events, in order.
    pub bad_lines: Vec<BadLine>,
    /// How many lines are not events in all.
    pub bad_line_count: u64,
}

/// Where the audit log of `site_root` lives.
#[must_use]
pub fn audit_log_path(site_root: &Path) -> PathBuf {
    site_root.join(INTERNAL_DIR).join(AUDIT_LOG_NAME)
}

/// Appends an event with `outcome` and `details` (which name the operation), stamped
/// now and with the current actor. Returns a warning naming the log when it cannot be
/// written: the operation the event records stands either way.
#[must_use]
pub fn record_audit_event(
    site_root: &Path,
    outcome: Outcome,
    mut details: Details,
) -> Option<String> {
    // As on standard error: a credential shape in an error (a row's key, a file or member
    // name) is masked, never kept in the log.
    if let Some(error) = details.error() {
        let masked = sitepack_format::mask_url_user_info(&sitepack_format::mask_credentials(error));
        details.set_error(masked);
    }
    let event = AuditEvent {
        time: Timestamp::now(),
        actor: current_actor(),
        outcome,
        details,
    };
    append_audit_event(site_root, &event).err().map(|e| {
        format!(
            "{}: cannot append to the audit log: {e}",
            audit_log_path(site_root).display()
        )
    })
}

/// Appends `event` as one line (one `write` on an append-mode file, then `fsync`). A log
/// whose last line was cut short (a crash, a full disk) gets a line break first, so the
/// torn line stays one bad line and never swallows this event.
pub fn append_audit_event(site_root: &Path, event: &AuditEvent) -> io::Result<()> {
    let mut line = serde_json::to_vec(event).map_err(io::Error::other)?;
    line.push(b'\n');
    // Through handles that never follow a link: a link at `.sitepack` or at the log is
    // refused, so an event is never appended to a file outside the site.
    let internal = Beneath::open(site_root)?.create_dirs(INTERNAL_DIR)?;
    let mut file = internal.append_readable_file(AUDIT_LOG_NAME, 0o600)?;
    if !ends_with_line_break(&file)? {
        line.insert(0, b'\n');
    }
    // A full disk, for the tests of what a log that cannot be written does.
    sitepack_format::failpoint::fail_step("audit-append", 1)?;
    file.write_all(&line)?;
    file.sync_all()
}

/// Whether `file` is empty or ends in `\n`.
fn ends_with_line_break(file: &fs::File) -> io::Result<bool> {
    use std::os::unix::fs::FileExt;
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(true);
    }
    let mut last = [0_u8];
    file.read_exact_at(&mut last, len - 1)?;
    Ok(last[0] == b'\n')
}

/// Reads the audit log of `site_root`, keeping what `filter` selects. A site without a log
/// has no events. The file is streamed, so memory stays bounded by the filter's limit
/// however long the log is; only an I/O error fails the read.
pub fn read_audit_log(site_root: &Path, filter: &AuditFilter) -> io::Result<AuditLog> {
    let opened = Beneath::open(site_root)
        .and_then(|site| site.open_file(&format!("{INTERNAL_DIR}/{AUDIT_LOG_NAME}")));
    let file = match opened {
        Ok(file) => file,
        // No log yet (or no `.sitepack/` at all): no events. Anything else in its place —
        // a directory, say — is an error, never an empty log.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(AuditLog::default());
        }
        Err(e) => return Err(e),
    };
    read_events(&mut BufReader::new(file), filter)
}

/// Reads audit events from any reader, as [`read_audit_log`] reads the file.
pub fn read_audit_events<R: BufRead>(mut reader: R, filter: &AuditFilter) -> io::Result<AuditLog> {
    read_events(&mut reader, filter)
}

fn read_events(reader: &mut dyn BufRead, filter: &AuditFilter) -> io::Result<AuditLog> {
    let mut log = AuditLog::default();
    let mut kept = VecDeque::new();
    let mut buf = Vec::new();
    let mut number = 0_u64;
    while let Some(line) = next_line(reader, &mut buf)? {
        number += 1;
        let parsed = match line {
            Line::TooLong => Err(format!(
                "longer than {} MiB: not an event",
                MAX_AUDIT_LINE_BYTES >> 20
            )),
            Line::Complete(bytes) => parse_event(bytes),
            Line::Unterminated(bytes) => parse_event(bytes).map_err(|problem| {
                format!("incomplete last line (a write was probably interrupted): {problem}")
            }),
        };
        match parsed {
            Ok(event) => {
                if filter
                    .operation
                    .is_some_and(|operation| operation != event.operation())
                {
                    continue;
                }
                log.matched += 1;
                if let Some(limit) = filter.limit {
                    if limit == 0 {
                        continue;
                    }
                    if kept.len() == limit {
                        kept.pop_front();
                    }
                }
                kept.push_back(event);
            }
            Err(problem) => {
                log.bad_line_count += 1;
                if log.bad_lines.len() < MAX_BAD_LINES {
                    log.bad_lines.push(BadLine {
                        line: number,
                        problem,
                    });
                }
            }
        }
    }
    log.events = kept.into();
    Ok(log)
}

/// One line as read, without its line break.
enum Line<'a> {
    /// Ended by `\n`.
    Complete(&'a [u8]),
    /// The end of the file came first.
    Unterminated(&'a [u8]),
    /// Over [`MAX_AUDIT_LINE_BYTES`]; skipped up to its end.
    TooLong,
}

fn next_line<'a>(reader: &mut dyn BufRead, buf: &'a mut Vec<u8>) -> io::Result<Option<Line<'a>>> {
    buf.clear();
    let limit = MAX_AUDIT_LINE_BYTES as u64 + 1;
    let read = Read::take(&mut *reader, limit).read_until(b'\n', buf)?;
    if read == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        return Ok(Some(Line::Complete(buf)));
    }
    if buf.len() < MAX_AUDIT_LINE_BYTES + 1 {
        return Ok(Some(Line::Unterminated(buf)));
    }
    skip_past_newline(reader)?;
    Ok(Some(Line::TooLong))
}

fn skip_past_newline(reader: &mut dyn BufRead) -> io::Result<()> {
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(());
        }
        if let Some(end) = available.iter().position(|&b| b == b'\n') {
            reader.consume(end + 1);
            return Ok(());
        }
        let len = available.len();
        reader.consume(len);
    }
}

/// One event, or what is wrong with the line in words that never quote it.
fn parse_event(bytes: &[u8]) -> Result<AuditEvent, String> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| format!("not UTF-8 text (byte {})", e.valid_up_to() + 1))?;
    if text.trim().is_empty() {
        return Err("empty line".to_owned());
    }
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| json_problem(&e))?;
    let Some(object) = value.as_object() else {
        return Err(format!("a JSON {}, not an object", json_kind(&value)));
    };
    for field in ["time", "type", "actor", "outcome", "details"] {
        match object.get(field) {
            None => return Err(format!("not an audit event: no `{field}`")),
            Some(serde_json::Value::String(_)) => {}
            Some(_) if field == "details" => {}
            Some(other) => {
                return Err(format!(
                    "not an audit event: `{field}` is a {}, not a string",
                    json_kind(other)
                ));
            }
        }
    }
    let text_of = |field| object.get(field).and_then(serde_json::Value::as_str);
    if text_of("time").is_some_and(|time| time.parse::<Timestamp>().is_err()) {
        return Err("not an audit event: `time` is not an RFC 3339 UTC timestamp".to_owned());
    }
    let Some(operation) = text_of("type").and_then(|text| text.parse::<Operation>().ok()) else {
        return Err("not an audit event: `type` names no operation sitepack records".to_owned());
    };
    if serde_json::from_value::<Outcome>(object["outcome"].clone()).is_err() {
        return Err("not an audit event: `outcome` is not ok, failed or refused".to_owned());
    }
    // The messages of a data error can quote values: only the operation is named.
    serde_json::from_value(value)
        .map_err(|_| format!("not an audit event: `details` do not fit a {operation} event"))
}

/// `serde_json`'s syntax messages are fixed texts ("expected value", "EOF while parsing a
/// string"): safe to repeat, unlike its data errors, which can quote values.
fn json_problem(error: &serde_json::Error) -> String {
    let what = sitepack_format::json_error_message(error);
    match error.classify() {
        serde_json::error::Category::Eof => format!("cut-off JSON ({what})"),
        serde_json::error::Category::Syntax => {
            format!("not valid JSON: {what} at column {}", error.column())
        }
        serde_json::error::Category::Data | serde_json::error::Category::Io => {
            "not valid JSON".to_owned()
        }
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

/// Who is running sitepack: `$SUDO_USER`, `$USER` or `$LOGNAME`, else `uid:N`; followed,
/// inside [`acting_for`], by whom the process acts for (`root for api:jwt:alice`).
#[must_use]
pub fn current_actor() -> String {
    let user = ["SUDO_USER", "USER", "LOGNAME"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(process_uid);
    match ACTING_FOR.with(|client| client.borrow().clone()) {
        Some(client) => format!("{user} for {client}"),
        None => user,
    }
}

thread_local! {
    /// Whom the events recorded on this thread are made for (a server's client).
    static ACTING_FOR: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Runs `work` with the audit events recorded on this thread attributed to the process's
/// user acting for `client` (a server's authenticated caller, e.g. `api:jwt:alice`).
pub fn acting_for<T>(client: &str, work: impl FnOnce() -> T) -> T {
    struct Reset(Option<String>);
    impl Drop for Reset {
        fn drop(&mut self) {
            ACTING_FOR.with(|client| *client.borrow_mut() = self.0.take());
        }
    }
    let before = ACTING_FOR.with(|current| current.replace(Some(client.to_owned())));
    let _reset = Reset(before);
    work()
}

#[cfg(unix)]
fn process_uid() -> String {
    use std::os::unix::fs::MetadataExt;
    // `/proc/self` is owned by the process's user; no libc call needed.
    fs::metadata("/proc/self").map_or_else(|_| "unknown".to_owned(), |m| format!("uid:{}", m.uid()))
}

#[cfg(not(unix))]
fn process_uid() -> String {
    "unknown".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_made_for_a_client_name_it_and_only_inside() {
        let alone = current_actor();
        assert!(!alone.contains(" for "));
        let inside = acting_for("api:jwt:alice", || {
            // Nested: the innermost client, then the outer one back.
            let nested = acting_for("api:admin-token", current_actor);
            assert_eq!(nested, format!("{alone} for api:admin-token"));
            current_actor()
        });
        assert_eq!(inside, format!("{alone} for api:jwt:alice"));
        assert_eq!(current_actor(), alone);
        // Given back after a panic too.
        let _ = std::panic::catch_unwind(|| acting_for("x", || panic!("in the work")));
        assert_eq!(current_actor(), alone);
    }
    use crate::{CreateDetails, InitDetails, RestoreDetails};

    /// Details of `operation` that hold only `{"n": n}`, a key the types do not name.
    fn numbered(operation: Operation, n: u64) -> Details {
        let line = format!(r#"{{"type":"{operation}","details":{{"n":{n}}}}}"#);
        serde_json::from_str(&line).unwrap()
    }

    #[test]
    fn events_append_one_line_each() {
        let dir = std::env::temp_dir().join(format!("sitepack-audit-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let scope = Some("full".to_owned());
        let details = [
            Details::Create(CreateDetails {
                scope: scope.clone(),
                ..CreateDetails::default()
            }),
            Details::Restore(RestoreDetails {
                scope,
                ..RestoreDetails::default()
            }),
        ];
        for details in details {
            let event = AuditEvent {
                time: "2026-11-22T08:30:00Z".parse().unwrap(),
                actor: "ada".into(),
                outcome: Outcome::Ok,
                details,
            };
            append_audit_event(&dir, &event).unwrap();
        }
        let text = fs::read_to_string(audit_log_path(&dir)).unwrap();
        let kinds: Vec<Operation> = text
            .lines()
            .map(|l| serde_json::from_str::<AuditEvent>(l).unwrap().operation())
            .collect();
        assert_eq!(kinds, [Operation::Create, Operation::Restore]);
        assert_eq!(
            text.lines().next().unwrap(),
            r#"{"time":"2026-11-22T08:30:00Z","type":"create","actor":"ada","outcome":"ok","details":{"scope":"full"}}"#
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_event_after_a_torn_last_line_starts_a_line_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let event = |n| AuditEvent {
            time: "2026-11-22T08:30:00Z".parse().unwrap(),
            actor: "ada".into(),
            outcome: Outcome::Ok,
            details: numbered(Operation::Auto, n),
        };
        append_audit_event(dir.path(), &event(1)).unwrap();
        // A crash (or a full disk) cut the last event short.
        let path = audit_log_path(dir.path());
        let text = fs::read_to_string(&path).unwrap();
        fs::write(&path, &text[..text.len() - 10]).unwrap();
        append_audit_event(dir.path(), &event(2)).unwrap();
        append_audit_event(dir.path(), &event(3)).unwrap();
        let log = read_audit_log(dir.path(), &AuditFilter::default()).unwrap();
        assert_eq!(numbers(&log), [2, 3]);
        assert_eq!(log.bad_line_count, 1);
        assert_eq!(log.bad_lines[0].line, 1);
        assert!(fs::read_to_string(&path).unwrap().ends_with("}\n"));
    }

    fn event_line(kind: &str, outcome: &str, n: u32) -> String {
        format!(
            r#"{{"time":"2026-11-22T08:30:{n:02}Z","type":"{kind}","actor":"ada","outcome":"{outcome}","details":{{"n":{n}}}}}"#
        )
    }

    fn read(text: &str, filter: &AuditFilter) -> AuditLog {
        read_audit_events(text.as_bytes(), filter).unwrap()
    }

    fn numbers(log: &AuditLog) -> Vec<u64> {
        log.events
            .iter()
            .map(|e| e.details.other()["n"].as_u64().unwrap())
            .collect()
    }

    #[test]
    fn events_come_back_in_log_order() {
        let text = [
            event_line("create", "ok", 1),
            event_line("create", "failed", 2),
            event_line("restore", "ok", 3),
        ]
        .join("\n")
            + "\n";
        let log = read(&text, &AuditFilter::default());
        assert_eq!(numbers(&log), [1, 2, 3]);
        assert_eq!(log.events[1].outcome, Outcome::Failed);
        assert_eq!(log.matched, 3);
        assert!(log.bad_lines.is_empty());
    }

    #[test]
    fn type_filter_and_limit_keep_the_newest_matches() {
        /// Type filter, limit, the events kept, how many matched.
        type Case = (Option<&'static str>, Option<usize>, &'static [u64], u64);
        let text: String = (1..=9)
            .map(|n| event_line(if n % 3 == 0 { "restore" } else { "create" }, "ok", n) + "\n")
            .collect();
        let cases: &[Case] = &[
            (None, None, &[1, 2, 3, 4, 5, 6, 7, 8, 9], 9),
            (Some("create"), None, &[1, 2, 4, 5, 7, 8], 6),
            (Some("restore"), Some(2), &[6, 9], 3),
            (None, Some(1), &[9], 9),
            (None, Some(100), &[1, 2, 3, 4, 5, 6, 7, 8, 9], 9),
            (Some("create"), Some(0), &[], 6),
            (Some("prune"), Some(5), &[], 0),
        ];
        for &(kind, limit, expected, matched) in cases {
            let filter = AuditFilter {
                operation: kind.map(|kind| kind.parse().unwrap()),
                limit,
            };
            let log = read(&text, &filter);
            assert_eq!(numbers(&log), expected, "{filter:?}");
            assert_eq!(log.matched, matched, "{filter:?}");
        }
    }

    #[test]
    fn bad_lines_are_named_and_hide_nothing() {
        let cases: &[(&str, &str)] = &[
            ("{\"time\": ", "cut-off JSON"),
            ("garbage", "not valid JSON: expected value at column 1"),
            ("{\"a\":1}}", "not valid JSON: trailing characters"),
            ("[1, 2]", "a JSON array, not an object"),
            ("\"create\"", "a JSON string, not an object"),
            ("", "empty line"),
            ("   ", "empty line"),
            ("{}", "no `time`"),
            (
                r#"{"time":"2026-11-22T08:30:00Z","type":"create","actor":"ada","outcome":"ok"}"#,
                "no `details`",
            ),
            (
                r#"{"time":"2026-11-22T08:30:00Z","type":7,"actor":"ada","outcome":"ok","details":{}}"#,
                "`type` is a number, not a string",
            ),
            (
                r#"{"time":"yesterday","type":"create","actor":"ada","outcome":"ok","details":{}}"#,
                "`time` is not an RFC 3339 UTC timestamp",
            ),
            (
                r#"{"time":"2026-11-22T08:30:00Z","type":"delete","actor":"ada","outcome":"ok","details":{}}"#,
                "`type` names no operation sitepack records",
            ),
            (
                r#"{"time":"2026-11-22T08:30:00Z","type":"create","actor":"ada","outcome":"maybe","details":{}}"#,
                "`outcome` is not ok, failed or refused",
            ),
            (
                r#"{"time":"2026-11-22T08:30:00Z","type":"create","actor":"ada","outcome":"ok","details":{"archive_size":"big"}}"#,
                "`details` do not fit a create event",
            ),
            (
                r#"{"time":"2026-11-22T08:30:00Z","type":"auto","actor":"ada","outcome":"ok","details":[1]}"#,
                "`details` do not fit a auto event",
            ),
        ];
        for (bad, problem) in cases {
            let text = format!(
                "{}\n{bad}\n{}\n",
                event_line("create", "ok", 1),
                event_line("keep", "ok", 2)
            );
            let log = read(&text, &AuditFilter::default());
            assert_eq!(numbers(&log), [1, 2], "{bad:?}");
            assert_eq!(log.bad_lines.len(), 1, "{bad:?}");
            assert_eq!(log.bad_lines[0].line, 2, "{bad:?}");
            assert!(
                log.bad_lines[0].problem.contains(problem),
                "{bad:?}: {}",
                log.bad_lines[0].problem
            );
        }
    }

    #[test]
    fn problems_never_quote_the_line() {
        let secret = "hunter2-s3cret";
        for line in [
            format!(
                r#"{{"time":"{secret}","type":"create","actor":"a","outcome":"ok","details":{{}}}}"#
            ),
            format!(
                r#"{{"time":"2026-11-22T08:30:00Z","type":["{secret}"],"actor":"a","outcome":"ok","details":{{}}}}"#
            ),
            format!(r#"{{"{secret}": tru"#),
            secret.to_owned(),
            format!("[\"{secret}\"]"),
        ] {
            let log = read(&(line.clone() + "\n"), &AuditFilter::default());
            assert_eq!(log.bad_lines.len(), 1, "{line}");
            assert!(
                !log.bad_lines[0].problem.contains(secret),
                "{:?}",
                log.bad_lines[0]
            );
        }
    }

    #[test]
    fn a_cut_off_last_line_is_reported_as_such() {
        let whole = event_line("create", "ok", 2);
        let text = format!(
            "{}\n{}",
            event_line("create", "ok", 1),
            &whole[..whole.len() / 2]
        );
        let log = read(&text, &AuditFilter::default());
        assert_eq!(numbers(&log), [1]);
        assert_eq!(log.bad_lines.len(), 1);
        assert_eq!(log.bad_lines[0].line, 2);
        assert!(
            log.bad_lines[0].problem.starts_with("incomplete last line"),
            "{}",
            log.bad_lines[0].problem
        );

        // A last line that only lost its line break is still a whole event.
        let log = read(&whole, &AuditFilter::default());
        assert_eq!(numbers(&log), [2]);
        assert!(log.bad_lines.is_empty());
    }

    #[test]
    fn odd_bytes_and_line_endings() {
        let mut text = event_line("create", "ok", 1).into_bytes();
        text.extend_from_slice(b"\r\n{\"a\": \"\xff\xfe\"}\n");
        text.extend_from_slice(event_line("create", "ok", 2).as_bytes());
        text.extend_from_slice(b"\r\n");
        let log = read_audit_events(&text[..], &AuditFilter::default()).unwrap();
        assert_eq!(numbers(&log), [1, 2]);
        assert_eq!(log.bad_lines[0].line, 2);
        assert_eq!(log.bad_lines[0].problem, "not UTF-8 text (byte 8)");
    }

    #[test]
    fn an_overlong_line_is_skipped_without_losing_the_next() {
        let mut text = event_line("create", "ok", 1);
        text.push('\n');
        text.push_str(&"x".repeat(MAX_AUDIT_LINE_BYTES * 2 + 17));
        text.push('\n');
        text.push_str(&event_line("create", "ok", 3));
        text.push('\n');
        // A tiny buffer makes the skip cross many refills.
        let reader = io::BufReader::with_capacity(64, text.as_bytes());
        let log = read_audit_events(reader, &AuditFilter::default()).unwrap();
        assert_eq!(numbers(&log), [1, 3]);
        assert_eq!(log.bad_lines.len(), 1);
        assert_eq!(log.bad_lines[0].line, 2);
        assert!(log.bad_lines[0].problem.starts_with("longer than 1 MiB"));

        let exactly = "y".repeat(MAX_AUDIT_LINE_BYTES) + "\n" + &event_line("keep", "ok", 4);
        let log = read(&exactly, &AuditFilter::default());
        assert_eq!(numbers(&log), [4]);
        assert!(log.bad_lines[0].problem.starts_with("not valid JSON"));
    }

    #[test]
    fn bad_lines_are_counted_beyond_those_described() {
        let text = "?\n".repeat(MAX_BAD_LINES + 5) + &event_line("create", "ok", 1);
        let log = read(&text, &AuditFilter::default());
        assert_eq!(numbers(&log), [1]);
        assert_eq!(log.bad_lines.len(), MAX_BAD_LINES);
        assert_eq!(log.bad_line_count, MAX_BAD_LINES as u64 + 5);
    }

    #[test]
    fn a_site_without_a_log_has_no_events() {
        let dir = std::env::temp_dir().join(format!("sitepack-audit-none-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let log = read_audit_log(&dir, &AuditFilter::default()).unwrap();
        assert_eq!(log, AuditLog::default());

        let event = AuditEvent {
            time: "2026-11-22T08:30:00Z".parse().unwrap(),
            actor: "ada".into(),
            outcome: Outcome::Ok,
            details: Details::Init(InitDetails::default()),
        };
        append_audit_event(&dir, &event).unwrap();
        let log = read_audit_log(&dir, &AuditFilter::default()).unwrap();
        assert_eq!(log.events, [event]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn every_operation_is_listed_once_by_the_name_serde_writes() {
        let mut names: Vec<&str> = Operation::ALL.iter().map(|o| o.as_str()).collect();
        for operation in Operation::ALL {
            assert_eq!(
                serde_json::to_value(operation).unwrap(),
                operation.as_str(),
                "{operation:?}"
            );
            assert_eq!(operation.as_str().parse::<Operation>(), Ok(operation));
            assert_eq!(numbered(operation, 1).operation(), operation);
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Operation::ALL.len());
    }

    #[test]
    fn details_keep_their_keys_and_numbers_as_written() {
        let line = r#"{"time":"2026-11-22T08:30:00Z","type":"auto","actor":"ada","outcome":"ok","details":{"target":"/b","archive_size":12345678901234,"pruned":["a"],"n":1.50,"extra":{"k":null}}}"#;
        let event: AuditEvent = serde_json::from_str(line).unwrap();
        let Details::Auto(details) = &event.details else {
            panic!("{event:?}")
        };
        assert_eq!(details.archive_size, Some(12_345_678_901_234));
        assert_eq!(details.pruned.as_deref(), Some(&["a".to_owned()][..]));
        assert_eq!(serde_json::to_string(&event).unwrap(), line);
    }
}
