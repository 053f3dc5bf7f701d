//! `cargo xtask gen-site`: a deterministic, realistic site in the layout of docs/FORMAT.md §6,
//! for benchmarks and for checking that memory does not grow with the size of a site.
//!
//! The same spec gives a byte-identical tree: every byte comes from [`Rng`] streams
//! derived from the seed and the part of the site (`users`, `records`, `docs`, `media`),
//! so that changing one size leaves the other parts as they were.

mod documents;
mod media;
mod records;
mod text;

use std::collections::HashSet;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::rng::Rng;

/// Bumped whenever the generator's output changes, so cached bench sites are rebuilt.
pub(crate) const GENERATOR_VERSION: u32 = 1;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Spec {
    pub seed: u64,
    /// Small JSON documents (module documents and JSON reports under `files/`).
    pub docs: u64,
    /// JSON Lines records across all collections.
    pub records: u64,
    /// Media under `files/`, in MiB.
    pub media_mib: u64,
}

impl Spec {
    pub(crate) const DEFAULT_DOCS: u64 = 20_000;
    pub(crate) const DEFAULT_RECORDS: u64 = 50_000;
    pub(crate) const DEFAULT_MEDIA_MIB: u64 = 500;

    /// The standard bench site times `scale`.
    pub(crate) fn standard(seed: u64, scale: u64) -> Self {
        Self {
            seed,
            docs: Self::DEFAULT_DOCS * scale,
            records: Self::DEFAULT_RECORDS * scale,
            media_mib: Self::DEFAULT_MEDIA_MIB * scale,
        }
    }

    /// One line naming the generator and every parameter: a cached site is reused only
    /// when its marker holds exactly this line.
    pub(crate) fn describe(&self) -> String {
        format!(
            "gen-site v{GENERATOR_VERSION} seed={} docs={} records={} media-mib={}",
            self.seed, self.docs, self.records, self.media_mib
        )
    }

    /// About one user per 250 records, at least 10.
    fn users(&self) -> u64 {
        (self.records / 250).max(10)
    }
}

/// Now, in RFC 3339 (UTC, seconds).
pub(crate) fn rfc3339_now() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    text::rfc3339(seconds)
}

/// What was written.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Totals {
    pub files: u64,
    pub bytes: u64,
}

/// Generates the site into `out`, which must not exist or be empty.
pub(crate) fn generate(out: &Path, spec: &Spec) -> Result<Totals> {
    if out.exists()
        && fs::read_dir(out)
            .with_context(|| format!("reading {}", out.display()))?
            .next()
            .is_some()
    {
        bail!(
            "{} exists and is not empty: remove it or choose another --out (a generated site must not mix with older files)",
            out.display()
        );
    }
    let mut tree = Tree::new(out);
    let seed = spec.seed;
    write_identity_and_settings(&mut tree, seed)?;
    let users = write_users(&mut tree, &mut Rng::derive(seed, "users"), spec.users())?;
    records::write(
        &mut tree,
        &mut Rng::derive(seed, "records"),
        spec.records,
        &users,
    )?;
    documents::write(&mut tree, &mut Rng::derive(seed, "docs"), spec.docs, &users)?;
    write_module_files_and_other(&mut tree, &mut Rng::derive(seed, "module-files"))?;
    media::write(
        &mut tree,
        &mut Rng::derive(seed, "media"),
        spec.media_mib.saturating_mul(1 << 20),
        &users,
    )?;
    Ok(tree.totals)
}

/// The output directory, creating parent directories once each and counting what is written.
pub(crate) struct Tree {
    root: PathBuf,
    dirs: HashSet<PathBuf>,
    totals: Totals,
}

impl Tree {
    fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
            dirs: HashSet::new(),
            totals: Totals::default(),
        }
    }

    /// Creates `relative` (a `/`-separated path) and its parent directories.
    pub(crate) fn create(&mut self, relative: &str) -> Result<File> {
        let path = self.root.join(relative);
        if let Some(parent) = path.parent()
            && !self.dirs.contains(parent)
        {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
            self.dirs.insert(parent.to_path_buf());
        }
        self.totals.files += 1;
        File::create(&path).with_context(|| format!("creating {}", path.display()))
    }

    /// Records that `bytes` were written to a file from [`Self::create`].
    pub(crate) fn count(&mut self, bytes: u64) {
        self.totals.bytes += bytes;
    }

    pub(crate) fn write(&mut self, relative: &str, data: &[u8]) -> Result<()> {
        let mut file = self.create(relative)?;
        file.write_all(data)
            .with_context(|| format!("writing {relative}"))?;
        self.count(data.len() as u64);
        Ok(())
    }

    /// Pretty-printed JSON with a final newline, as people and tools usually save it.
    pub(crate) fn write_json(&mut self, relative: &str, value: &Value) -> Result<()> {
        let mut data = serde_json::to_vec_pretty(value)?;
        data.push(b'\n');
        self.write(relative, &data)
    }
}

fn write_identity_and_settings(tree: &mut Tree, seed: u64) -> Result<()> {
    tree.write_json(
        "site.json",
        &json!({
            "id": format!("bench-{seed}"),
            "name": format!("Bench site {seed}"),
            "url": "https://bench.example",
        }),
    )?;
    let mut rng = Rng::derive(seed, "settings");
    tree.write_json(
        "settings/general.json",
        &json!({
            "site_name": format!("Bench site {seed}"),
            "locale": "en-GB",
            "timezone": "Europe/Berlin",
            "currency": "EUR",
            "date_format": "yyyy-MM-dd",
            "week_starts_on": "monday",
            "features": {"crm": true, "orders": true, "inventory": true, "wiki": true, "beta_dashboards": false},
            "branding": {"primary_color": "#1f6feb", "logo": "files/branding/logo.png", "favicon": "files/branding/favicon.png"},
            "contact": {"email": "hello@bench.example", "phone": "+49 30 1234567", "address": {"street": "Example Street 1", "city": "Berlin", "postcode": "10115", "country": "DE"}},
        }),
    )?;
    tree.write_json(
        "settings/integrations.json",
        &json!({
            "payments": {
                "provider": "stripe",
                "enabled": true,
                "publishable_key": format!("pk_live_{}", rng.base64(24)),
                "api_key": format!("sk_live_{}", rng.base64(32)),
                "webhook_secret": format!("whsec_{}", rng.base64(32)),
            },
            "oauth": {
                "google": {"client_id": format!("{}.apps.example", rng.hex(24)), "client_secret": rng.base64(24), "scopes": ["openid", "email", "profile"]},
                "github": {"client_id": rng.hex(20), "client_secret": rng.hex(40)},
            },
            "mail": {"smtp_host": "smtp.bench.example", "smtp_port": 587, "username": "mailer", "password": rng.base64(16), "from": "noreply@bench.example"},
            "chat": {"webhook_url": "https://chat.example/hooks/bench", "signing_key": rng.hex(32), "channel": "#orders"},
            "analytics": {"enabled": false, "site_tag": format!("BT-{}", rng.hex(8))},
        }),
    )?;
    let permissions = |names: &[&str]| -> Value { names.iter().map(|n| json!(n)).collect() };
    tree.write_json(
        "settings/roles.json",
        &json!({
            "default_role": "viewer",
            "roles": [
                {"name": "admin", "description": "Everything, including settings and users", "permissions": permissions(&["*"])},
                {"name": "manager", "description": "Manages sales, orders and staff", "permissions": permissions(&["crm.*", "orders.*", "inventory.*", "reports.read", "users.read"])},
                {"name": "editor", "description": "Writes content", "permissions": permissions(&["wiki.*", "templates.*", "marketing.*", "notes.*"])},
                {"name": "support", "description": "Answers customers", "permissions": permissions(&["tickets.*", "crm.read", "orders.read", "notes.*"])},
                {"name": "viewer", "description": "Reads everything public", "permissions": permissions(&["*.read"])},
            ],
        }),
    )?;
    tree.write_json(
        "settings/notifications.json",
        &json!({
            "email": {"enabled": true, "digest": "daily", "digest_hour": 7},
            "rules": [
                {"event": "order.created", "notify": ["role:manager"], "channels": ["email", "chat"]},
                {"event": "ticket.escalated", "notify": ["role:support", "role:manager"], "channels": ["email"]},
                {"event": "stock.low", "notify": ["role:manager"], "channels": ["chat"], "threshold": 5},
            ],
        }),
    )?;
    tree.write_json(
        "settings/security.json",
        &json!({
            "password_policy": {"min_length": 12, "require_symbols": true, "max_age_days": 365},
            "sessions": {"idle_timeout_minutes": 60, "remember_me_days": 30},
            "two_factor": {"required_for_roles": ["admin", "manager"]},
            "allowed_ip_ranges": ["0.0.0.0/0"],
        }),
    )
}

/// Roles given to users, most of them ordinary.
const USER_ROLES: &[&[&str]] = &[
    &["viewer"],
    &["viewer"],
    &["editor"],
    &["editor", "support"],
    &["support"],
    &["manager"],
    &["admin"],
];

fn write_users(tree: &mut Tree, rng: &mut Rng, count: u64) -> Result<Vec<String>> {
    let width = count.to_string().len().max(4);
    let mut ids = Vec::new();
    for n in 1..=count {
        let id = format!("u-{n:0width$}");
        let (first, last) = text::person(rng);
        let roles: Vec<&str> = if n == 1 {
            vec!["admin"]
        } else {
            USER_ROLES[rng.index(USER_ROLES.len())].to_vec()
        };
        let created = text::time_in_range(rng);
        let mut card = json!({
            "id": id,
            "name": format!("{first} {last}"),
            "email": format!("{}.{}.{n}@bench.example", first.to_lowercase(), last.to_lowercase()),
            "roles": roles,
            "password_hash": format!("$argon2id$v=19$m=65536,t=3,p=4${}${}", rng.base64(22), rng.base64(43)),
            "created_at": text::rfc3339(created),
            "last_login_at": text::rfc3339(created + rng.below(text::THREE_YEARS / 3)),
            "locale": rng.pick(&["en-GB", "en-US", "de-DE", "fr-FR", "es-ES", "pt-BR"]),
            "timezone": rng.pick(&["Europe/Berlin", "Europe/Lisbon", "America/Toronto", "Asia/Tokyo", "UTC"]),
            "profile": {
                "title": text::title(rng),
                "phone": format!("+49 30 {}", rng.between(1_000_000, 9_999_999)),
                "city": rng.pick(text::CITIES),
                "avatar": format!("files/users/{id}/avatar.jpg"),
            },
            "preferences": {
                "theme": rng.pick(&["light", "dark", "system"]),
                "notifications": {"email": rng.chance(80), "digest": rng.pick(&["daily", "weekly", "never"])},
                "pinned_modules": [rng.pick(&["crm", "orders", "wiki"]), rng.pick(&["tickets", "notes", "inventory"])],
            },
        });
        if rng.chance(10)
            && let Some(object) = card.as_object_mut()
        {
            // Some users enrolled in two-factor sign-in: a secret the writer must remove.
            object.insert("totp_secret".into(), json!(rng.base64(32)));
        }
        tree.write_json(&format!("users/{id}.json"), &card)?;
        ids.push(id);
    }
    Ok(ids)
}

/// Non-JSON module files and a few files outside the layout (area "other").
fn write_module_files_and_other(tree: &mut Tree, rng: &mut Rng) -> Result<()> {
    for name in ["base", "invoice", "newsletter", "welcome", "password-reset"] {
        let mut body = String::new();
        for _ in 0..rng.between(3, 8) {
            let _ = writeln!(body, "    <p>{}</p>", text::paragraph(rng, 2));
        }
        let html = format!(
            "<!doctype html>\n<html lang=\"en\">\n  <head><meta charset=\"utf-8\"><title>{{{{ subject }}}}</title></head>\n  <body>\n{body}  </body>\n</html>\n"
        );
        tree.write(
            &format!("modules/templates/layouts/{name}.html"),
            html.as_bytes(),
        )?;
    }
    for n in 1..=6 {
        let mut svg =
            String::from("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 400 300\">\n");
        for _ in 0..rng.between(10, 40) {
            let _ = writeln!(
                svg,
                "  <rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#{}\"/>",
                rng.below(380),
                rng.below(280),
                rng.between(5, 120),
                rng.between(5, 80),
                rng.hex(6)
            );
        }
        svg.push_str("</svg>\n");
        tree.write(
            &format!("modules/wiki/assets/diagram-{n}.svg"),
            svg.as_bytes(),
        )?;
    }
    tree.write(
        "modules/orders/import-mapping.csv",
        b"source,target\nOrder No,id\nCustomer,user_id\nTotal,total\nCurrency,currency\n",
    )?;
    tree.write(
        "README.txt",
        b"Bench site generated by `cargo xtask gen-site`. Do not edit: it is regenerated.\n",
    )?;
    let mut css = String::new();
    for n in 0..200 {
        let _ = writeln!(
            css,
            ".block-{n} {{ margin: {}px; padding: {}px; color: #{}; }}",
            rng.below(24),
            rng.below(16),
            rng.hex(6)
        );
    }
    tree.write("themes/default/theme.css", css.as_bytes())
}
