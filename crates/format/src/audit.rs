//! The site's audit log, `.sitepack/audit.jsonl`: one JSON object per line, appended by
//! every command that creates, restores, keeps, reverts, prunes or runs automatically.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{INTERNAL_DIR, Timestamp};

/// File name of the audit log inside `.sitepack/`.
pub const AUDIT_LOG_NAME: &str = "audit.jsonl";

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// When it happened.
    pub time: Timestamp,
    /// `create`, `restore`, `keep`, `revert`, `auto` or `prune`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Who ran it (the login name, or `uid:N`).
    pub actor: String,
    /// `ok` or `failed`.
    pub outcome: String,
    /// Event-specific details (scope, options, counts, digests, error).
    pub details: serde_json::Value,
}

/// Where the audit log of `site_root` lives.
#[must_use]
pub fn audit_log_path(site_root: &Path) -> PathBuf {
    site_root.join(INTERNAL_DIR).join(AUDIT_LOG_NAME)
}

/// Appends `event` as one line (one `write` on an append-mode file, then `fsync`).
pub fn append_audit_event(site_root: &Path, event: &AuditEvent) -> io::Result<()> {
    let path = audit_log_path(site_root);
    fs::create_dir_all(site_root.join(INTERNAL_DIR))?;
    let mut line = serde_json::to_vec(event).map_err(io::Error::other)?;
    line.push(b'\n');
    let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
    file.write_all(&line)?;
    file.sync_all()
}

/// Who is running sitepack: `$SUDO_USER`, `$USER` or `$LOGNAME`, else `uid:N`.
#[must_use]
pub fn current_actor() -> String {
    ["SUDO_USER", "USER", "LOGNAME"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(process_uid)
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
    fn events_append_one_line_each() {
        let dir = std::env::temp_dir().join(format!("sitepack-audit-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        for kind in ["create", "restore"] {
            let event = AuditEvent {
                time: "2026-11-22T08:30:00Z".parse().unwrap(),
                kind: kind.into(),
                actor: "ada".into(),
                outcome: "ok".into(),
                details: serde_json::json!({"scope": "full"}),
            };
            append_audit_event(&dir, &event).unwrap();
        }
        let text = fs::read_to_string(audit_log_path(&dir)).unwrap();
        let kinds: Vec<String> = text
            .lines()
            .map(|l| serde_json::from_str::<AuditEvent>(l).unwrap().kind)
            .collect();
        assert_eq!(kinds, ["create", "restore"]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
