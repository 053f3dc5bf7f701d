// The admin Backup page: every action is one call of the Backup API (/api/…), with the
// admin token kept in sessionStorage (this tab only; no cookie, so no CSRF surface).
"use strict";

const TOKEN_KEY = "sitepack-admin-token";
const AUDIT_TYPES = ["create", "restore", "keep", "revert", "init", "recover", "auto", "prune", "check"];

const $ = (id) => document.getElementById(id);
let uploadId = null;
// The automatic-backup settings as loaded: a save sends every one of them back, changed
// or not (a PUT replaces them all).
let autoSettings = null;

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

function say(text, kind) {
  const box = $("message");
  box.textContent = text;
  box.className = kind || "error";
  box.hidden = !text;
}

function clear(element) {
  while (element.firstChild) element.removeChild(element.firstChild);
}

function cell(row, text, header) {
  const c = document.createElement(header ? "th" : "td");
  if (header) c.scope = "row";
  c.textContent = text === undefined || text === null ? "" : String(text);
  row.appendChild(c);
  return c;
}

function bytes(n) {
  if (n < 1024) return n + " B";
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return value.toFixed(1) + " " + units[unit];
}

function scopeText(scope) {
  if (typeof scope === "string") return scope;
  if (!scope) return "";
  return Object.values(scope).filter((v) => v !== undefined).join(":") || JSON.stringify(scope);
}

// One API call; throws an Error whose message is the server's, in words.
async function api(method, path, body, raw) {
  const headers = { Authorization: "Bearer " + token() };
  let payload;
  if (raw) {
    payload = body;
    headers["Content-Type"] = "application/zip";
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers["Content-Type"] = "application/json";
  }
  const response = await fetch("/api" + path, { method, headers, body: payload });
  if (response.status === 401) {
    signOut();
    throw new Error("The token was not accepted: sign in again with the admin token.");
  }
  if (!response.ok) {
    let message = response.status + " " + response.statusText;
    try {
      const error = (await response.json()).error;
      if (error && error.message) message = error.message;
    } catch (_) { /* not JSON: the status says it */ }
    const failure = new Error(message);
    failure.status = response.status;
    throw failure;
  }
  return response;
}

async function apiJson(method, path, body) {
  return (await api(method, path, body)).json();
}

// Runs a long call while polling /api/progress into the progress bar.
async function withProgress(label, call) {
  const panel = $("progress-panel");
  const bar = $("progress");
  $("progress-label").textContent = label;
  bar.value = 0;
  panel.hidden = false;
  let done = false;
  const poll = async () => {
    while (!done) {
      try {
        const running = (await apiJson("GET", "/progress")).running;
        if (running.length > 0) bar.value = running[0].percent;
      } catch (_) { /* the call itself reports errors */ }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  };
  const polling = poll();
  try {
    const result = await call();
    bar.value = 100;
    return result;
  } finally {
    done = true;
    await polling;
    panel.hidden = true;
  }
}

function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  $("app").hidden = true;
  $("login").hidden = false;
  $("sign-out").hidden = true;
}

async function signIn(event) {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
  $("token").value = "";
  await start();
}

async function start() {
  if (!token()) {
    signOut();
    return;
  }
  try {
    await loadStats();
  } catch (error) {
    say(error.message);
    return;
  }
  say("");
  $("login").hidden = true;
  $("app").hidden = false;
  $("sign-out").hidden = false;
  await Promise.all([loadReview(), loadBackups(), loadAuto(), loadAudit()].map((p) => p.catch((e) => say(e.message))));
}

async function loadStats() {
  const stats = await apiJson("GET", "/backup/stats");
  const site = stats.site || {};
  $("site-name").textContent = (site.name || site.id || "") + (site.url ? " — " + site.url : "");
  const body = $("stats").tBodies[0];
  clear(body);
  const row = (label, value) => {
    const r = body.insertRow();
    cell(r, label, true);
    cell(r, value);
  };
  // A database site's rows are restored as they are: no URL rewrite.
  $("rewrite-url").hidden = stats.kind === "database";
  $("rewrite-url-label").hidden = stats.kind === "database";
  if (stats.kind === "database") {
    for (const [table, rows] of Object.entries(stats.tables)) row(table, rows + " rows (" + stats.roles[table] + ")");
    row("Total", stats.total + " rows");
    row("Database size", bytes(stats.database_size_bytes) + " (every tenant)");
  } else {
    const s = stats.stats;
    row("Tabs", s.tabs.length);
    row("Users", s.users);
    for (const module of s.modules) {
      const records = module.collections.reduce((sum, c) => sum + c.records, 0);
      row("Module " + module.name, records + " records, " + module.documents + " documents, " + module.files + " files");
    }
    row("Files", s.files + " (" + bytes(s.file_bytes) + ")");
    row("Total", stats.total + " files, " + bytes(stats.size_bytes));
  }
}

async function loadReview() {
  const status = await apiJson("GET", "/restore");
  const pending = status.pending;
  $("review-card").hidden = !pending;
  if (!pending) return;
  const changes = pending.added !== undefined
    ? pending.added + " added, " + pending.replaced + " replaced, " + pending.deleted + " deleted"
    : pending.mode + " mode";
  $("review-text").textContent = "Restore " + (pending.id || pending.snapshot || "") + " of " + pending.archive + " (" + changes + ", started " + pending.started_at + ") is pending review. Check the site, then keep it or revert it.";
}

async function settle(action, force) {
  try {
    let body;
    if (action === "revert") body = force ? { force: true } : {};
    const result = await withProgress(action === "keep" ? "Keeping the restore…" : "Reverting the restore…", () => apiJson("POST", "/restore/" + action, body));
    let reverted = "";
    if (result.reverted) reverted = result.reverted.written + " row(s) written back, " + result.reverted.deleted + " deleted.";
    else if (result.paths_restored !== undefined) reverted = result.paths_restored + " path(s) put back as they were.";
    say(action === "keep" ? "Kept: the restore stays and its snapshot was removed." : "Reverted: " + reverted, "ok");
  } catch (error) {
    // Paths edited since the restore: reverting throws those edits away, so ask first.
    if (action === "revert" && !force && error.status === 409 && /changed/.test(error.message)
        && window.confirm(error.message + "\n\nRevert anyway? The edits made since the restore are lost.")) {
      await settle("revert", true);
      return;
    }
    say(error.message);
  }
  await refresh();
}

async function loadBackups() {
  const body = $("backups").tBodies[0];
  clear(body);
  let listing;
  try {
    listing = await apiJson("GET", "/backups");
  } catch (error) {
    $("backups-target").textContent = error.message;
    return;
  }
  $("backups-target").textContent = "In " + listing.target + ": " + listing.backups.length + " backup(s).";
  for (const backup of listing.backups) {
    const row = body.insertRow();
    cell(row, backup.created_at);
    cell(row, bytes(backup.size));
    cell(row, backup.kind === "auto" ? "automatic" : "manual");
    cell(row, scopeText(backup.scope) + (backup.files ? "" : ", data only"));
    cell(row, backup.label);
    const digest = cell(row, backup.sha256.slice(0, 12) + "…");
    digest.title = backup.sha256;
    const actions = cell(row, "");
    const button = (text, handler) => {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = text;
      b.setAttribute("aria-label", text + " " + backup.name);
      b.addEventListener("click", handler);
      actions.appendChild(b);
    };
    const encoded = encodeURIComponent(backup.name);
    button("Restore", async () => {
      const mode = window.prompt("Restore " + backup.name + " into the site? A snapshot is taken first and the restore stays pending review (keep or revert it). Type merge or replace to confirm:", "");
      if (mode !== "merge" && mode !== "replace") return;
      try {
        const result = await withProgress("Restoring " + backup.name + "…", () => apiJson("POST", "/backups/" + encoded + "/restore", { mode, confirm: true }));
        say(result.restore ? "Restored " + backup.name + ": pending review below." : "Nothing to restore: the site already matches " + backup.name + ".", "ok");
      } catch (error) {
        say(error.message);
      }
      await refresh();
    });
    button("Download", () => download("/backups/" + encoded, backup.name.split("/").pop()));
    button("Delete", async () => {
      if (!window.confirm("Delete " + backup.name + " from the target? This cannot be undone.")) return;
      try {
        await apiJson("DELETE", "/backups/" + encoded);
        say("Deleted " + backup.name + ".", "ok");
      } catch (error) {
        say(error.message);
      }
      await loadBackups();
    });
  }
}

async function download(path, name) {
  try {
    const response = await withProgress("Preparing the download…", () => api("GET", path));
    const digest = response.headers.get("x-sitepack-archive-sha256");
    const blob = await response.blob();
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    const disposition = response.headers.get("content-disposition") || "";
    const match = disposition.match(/filename="([^"]+)"/);
    link.download = match ? match[1] : name;
    document.body.appendChild(link);
    link.click();
    link.remove();
    say("Downloaded " + link.download + (digest ? " (SHA-256 " + digest + ")" : "") + ".", "ok");
  } catch (error) {
    say(error.message);
  }
  await loadAudit().catch(() => {});
}

async function createBackup(event) {
  event.preventDefault();
  const files = document.querySelector("input[name=contents]:checked").value === "files";
  const body = { label: $("create-label").value, scope: $("create-scope").value || "full", files };
  try {
    const result = await withProgress("Creating a backup…", () => apiJson("POST", "/backups", body));
    say("Stored " + result.backup.name + " in " + result.target + ".", "ok");
  } catch (error) {
    say(error.message);
  }
  await refresh();
}

async function exportBackup() {
  const files = document.querySelector("input[name=contents]:checked").value === "files";
  const query = new URLSearchParams({ scope: $("create-scope").value || "full", files: String(files) });
  if ($("create-label").value) query.set("label", $("create-label").value);
  await download("/backup/export?" + query.toString(), "backup.zip");
}

async function uploadArchive(event) {
  event.preventDefault();
  const file = $("upload-file").files[0];
  if (!file) return;
  uploadId = null;
  $("apply").disabled = true;
  $("confirm").checked = false;
  $("upload-result").hidden = true;
  try {
    const result = await withProgress("Checking " + file.name + "…", async () => (await api("POST", "/backup/import", file, true)).json());
    uploadId = result.upload_id;
    showUpload(file.name, result);
    say("");
  } catch (error) {
    say(file.name + ": " + error.message);
  }
}

function showUpload(name, result) {
  $("upload-result").hidden = false;
  const report = result.validation;
  $("verdict").textContent = name + ": valid (" + report.summary.errors + " errors, " + report.summary.warnings + " warnings).";
  const preview = $("preview").tBodies[0];
  clear(preview);
  const manifest = result.preview.manifest || {};
  const row = (label, value) => {
    const r = preview.insertRow();
    cell(r, label, true);
    cell(r, value);
  };
  if (manifest.site) row("Site", manifest.site.id + " (" + manifest.site.name + ")");
  if (manifest.created_at) row("Created", manifest.created_at);
  if (manifest.scope) row("Scope", scopeText(manifest.scope));
  if (manifest.label) row("Label", manifest.label);
  row("SHA-256", result.archive_sha256 || result.preview.digest);
  const plans = $("plans").tBodies[0];
  clear(plans);
  const pending = result.plans.pending_restore ? "A restore is pending review: keep or revert it first." : "";
  for (const mode of ["merge", "replace"]) {
    const r = plans.insertRow();
    cell(r, mode, true);
    const planned = result.plans[mode];
    cell(r, planned && planned.plan ? planText(planned.plan) : "—");
    cell(r, planned && planned.refused ? "Refused: " + planned.refused : pending);
  }
}

// What a plan changes, in words: a directory site's paths, a database site's rows.
function planText(plan) {
  if (plan.tables) {
    const archived = plan.tables.reduce((sum, t) => sum + t.archive_rows, 0);
    const now = plan.tables.reduce((sum, t) => sum + (t.target_rows || 0), 0);
    return plan.tables.length + " tables: " + archived + " rows in the archive, " + now + " of the tenant's now";
  }
  const count = (action) => plan.changes.filter((c) => c.action === action).length;
  return count("add") + " to add, " + count("replace") + " to replace, " + count("delete") + " to delete, " + plan.unchanged + " unchanged";
}

async function applyUpload(event) {
  event.preventDefault();
  if (!uploadId || !$("confirm").checked) return;
  const mode = document.querySelector("input[name=mode]:checked").value;
  const rewrite = $("rewrite-url").value.trim();
  const body = { mode, confirm: true, rewrite_url: rewrite ? [rewrite] : [], allow_other_site: false };
  try {
    const result = await withProgress("Restoring…", () => apiJson("POST", "/backup/import/" + uploadId + "/apply", body));
    uploadId = null;
    $("upload-result").hidden = true;
    say(result.restore ? "Restored: pending review below." : "Nothing to restore: the site already matches the archive.", "ok");
  } catch (error) {
    say(error.message);
  }
  await refresh();
}

async function loadAuto() {
  const auto = await apiJson("GET", "/auto");
  const settings = auto.settings;
  autoSettings = settings;
  if (settings) {
    $("auto-enabled").checked = settings.enabled;
    const schedule = $("auto-schedule");
    if (![...schedule.options].some((o) => o.value === settings.schedule)) {
      // A cron expression written in config.toml: kept as it is.
      const option = document.createElement("option");
      option.value = settings.schedule;
      option.textContent = "cron: " + settings.schedule;
      schedule.appendChild(option);
    }
    schedule.value = settings.schedule;
    $("auto-time").value = settings.time || "";
    $("auto-time").disabled = isCron(settings.schedule);
    $("auto-keep").value = (settings.retention && settings.retention.keep_last) || 0;
    const others = Object.entries(settings.retention || {}).filter(([rule]) => rule !== "keep_last");
    $("auto-retention").textContent = others.length
      ? "Also kept, as config.toml says (not editable here): " + others.map(([rule, value]) => rule + " = " + value).join(", ") + "."
      : "";
    $("auto-target").value = settings.target;
  }
  $("auto-next").textContent = !settings ? "Not set up yet." : auto.next_due ? "Next automatic backup: " + auto.next_due + "." : "Disabled.";
}

async function saveAuto(event) {
  event.preventDefault();
  const keep = parseInt($("auto-keep").value, 10) || 0;
  const loaded = autoSettings || {};
  const retention = Object.assign({}, loaded.retention || {});
  if (keep > 0) retention.keep_last = keep;
  else delete retention.keep_last;
  const body = Object.assign({}, loaded, {
    enabled: $("auto-enabled").checked,
    schedule: $("auto-schedule").value,
    time: $("auto-time").value.trim(),
    target: $("auto-target").value,
    retention,
  });
  // A cron expression says the time itself; an empty box means the default.
  if (isCron(body.schedule) || !body.time) delete body.time;
  try {
    await apiJson("PUT", "/auto", body);
    say("Automatic backup settings saved.", "ok");
  } catch (error) {
    say(error.message);
  }
  await loadAuto().catch((e) => say(e.message));
}

function isCron(schedule) {
  return !["hourly", "daily", "weekly"].includes(schedule);
}

async function runAuto() {
  try {
    const report = await withProgress("Running the automatic backup…", () => apiJson("POST", "/auto/run"));
    say(report.stored ? "Automatic backup stored: " + report.stored.name + "." : "The automatic run stored nothing.", "ok");
  } catch (error) {
    say(error.message);
  }
  await refresh();
}

async function loadAudit() {
  const type = $("audit-type").value;
  const query = new URLSearchParams({ limit: "50" });
  if (type) query.set("type", type);
  const log = await apiJson("GET", "/audit?" + query.toString());
  const body = $("audit").tBodies[0];
  clear(body);
  for (const event of log.events.slice().reverse()) {
    const row = body.insertRow();
    cell(row, event.time);
    cell(row, event.type);
    cell(row, event.outcome);
    const details = event.details || {};
    cell(row, details.error || details.reason || details.name || details.archive || details.output
      || (details.removed && details.removed.length ? "removed " + details.removed.join(", ") : "") || details.to || "");
  }
}

async function refresh() {
  await Promise.all([loadStats(), loadReview(), loadBackups(), loadAudit()].map((p) => p.catch((e) => say(e.message))));
}

document.addEventListener("DOMContentLoaded", () => {
  for (const type of AUDIT_TYPES) {
    const option = document.createElement("option");
    option.value = type;
    option.textContent = type;
    $("audit-type").appendChild(option);
  }
  $("login-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", signOut);
  $("refresh-stats").addEventListener("click", () => loadStats().catch((e) => say(e.message)));
  $("keep").addEventListener("click", () => settle("keep"));
  $("revert").addEventListener("click", () => settle("revert"));
  $("create-form").addEventListener("submit", createBackup);
  $("export-backup").addEventListener("click", exportBackup);
  $("upload-form").addEventListener("submit", uploadArchive);
  $("confirm").addEventListener("change", () => { $("apply").disabled = !($("confirm").checked && uploadId); });
  $("apply-form").addEventListener("submit", applyUpload);
  $("auto-form").addEventListener("submit", saveAuto);
  $("auto-run").addEventListener("click", runAuto);
  $("auto-schedule").addEventListener("change", () => { $("auto-time").disabled = isCron($("auto-schedule").value); });
  $("audit-type").addEventListener("change", () => loadAudit().catch((e) => say(e.message)));
  start();
});
