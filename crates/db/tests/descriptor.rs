//! The site descriptor: every key, relative paths, errors, and passwords never shown.

use std::path::Path;

use serde_json::json;
use sitepack_db::descriptor::{Database, Descriptor};
use sitepack_format::database::TenantValue;

const FULL: &str = r#"
[site]
id = "northwind"
name = "Northwind Haulage"
url = "https://northwind.example"
[database]
url = "sqlite:data/fleet.db"
tenant_column = "org_id"
tenant = "northwind"
tenant_table = "organizations"
exclude = ["sessions", "audit"]
secret_tables = ["api_keys"]
owner_column = "owner_id"
users_table = "members"
[files]
dir = "uploads/northwind"
[state]
dir = ".state"
"#;

fn parse(text: &str) -> Result<Descriptor, String> {
    Descriptor::parse(Path::new("/srv/sites/northwind.toml"), text).map_err(|e| e.to_string())
}

#[test]
fn every_key_is_read_and_paths_are_relative_to_the_descriptor() {
    let d = parse(FULL).unwrap();
    assert_eq!(d.path, Path::new("/srv/sites/northwind.toml"));
    assert_eq!(d.site.id.as_str(), "northwind");
    assert_eq!(
        d.site_json(),
        json!({"id": "northwind", "name": "Northwind Haulage", "url": "https://northwind.example"})
    );
    assert_eq!(
        d.database,
        Database::Sqlite {
            path: "/srv/sites/data/fleet.db".into()
        }
    );
    assert_eq!(d.display_url(), "sqlite:data/fleet.db");
    assert_eq!(d.tenant_column, "org_id");
    assert_eq!(d.tenant, TenantValue::Text("northwind".into()));
    assert_eq!(d.tenant_table.as_deref(), Some("organizations"));
    assert_eq!(d.exclude, ["sessions", "audit"]);
    assert_eq!(d.secret_tables, ["api_keys"]);
    assert_eq!(d.owner_column.as_deref(), Some("owner_id"));
    assert_eq!(d.users_table, "members");
    assert_eq!(
        d.files_dir.as_deref(),
        Some(Path::new("/srv/sites/uploads/northwind"))
    );
    assert_eq!(d.state_dir, Path::new("/srv/sites/.state"));
}

#[test]
fn optional_keys_have_defaults() {
    let minimal: String = FULL
        .lines()
        .filter(|l| {
            ![
                "tenant_table",
                "exclude",
                "secret_tables",
                "owner_column",
                "users_table",
                "[files]",
                "[state]",
                "dir",
            ]
            .iter()
            .any(|k| l.starts_with(k))
        })
        .collect::<Vec<_>>()
        .join("\n")
        .replace("tenant = \"northwind\"", "tenant = 42")
        .replace("sqlite:data/fleet.db", "sqlite:///var/lib/fleet.db");
    let d = parse(&minimal).unwrap();
    assert_eq!(d.tenant, TenantValue::Integer(42));
    assert_eq!(d.tenant_table, None);
    assert!(d.exclude.is_empty() && d.secret_tables.is_empty());
    assert_eq!(d.users_table, "users");
    assert_eq!(d.files_dir, None);
    assert_eq!(d.state_dir, Path::new("/srv/sites/.northwind.sitepack"));
    assert_eq!(
        d.database,
        Database::Sqlite {
            path: "/var/lib/fleet.db".into()
        }
    );
}

#[test]
fn load_resolves_against_the_files_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("acme.toml");
    std::fs::write(&path, FULL).unwrap();
    let d = Descriptor::load(&path).unwrap();
    assert_eq!(
        d.database,
        Database::Sqlite {
            path: dir.path().join("data/fleet.db")
        }
    );
    let message = Descriptor::load(&dir.path().join("missing.toml"))
        .unwrap_err()
        .to_string();
    assert!(message.starts_with("cannot read "), "{message}");
    assert!(message.contains("missing.toml"), "{message}");
}

#[test]
fn a_typo_is_an_error_naming_the_key_and_line() {
    let message = parse(&FULL.replace("secret_tables", "secret_table")).unwrap_err();
    assert!(message.starts_with("site descriptor /srv/sites/northwind.toml: line 12, column 1: unknown field `secret_table`"), "{message}");
    let message = parse(&FULL.replace("[state]", "[stat]")).unwrap_err();
    assert!(
        message.contains("line 17, column 2: unknown field `stat`"),
        "{message}"
    );
    let message = parse(&FULL.replace("tenant = \"northwind\"", "tenant = 1.5")).unwrap_err();
    assert!(
        message.contains("line 9, column 10: expected the tenant as a string or an integer"),
        "{message}"
    );
    let message = parse(&FULL.replace("id = \"northwind\"", "id = \"North Wind\"")).unwrap_err();
    assert!(message.contains("line 3"), "{message}");
    let message = parse(&FULL.replace("https://northwind.example", "northwind")).unwrap_err();
    assert!(
        message.contains("[site] url \"northwind\" is not a URL"),
        "{message}"
    );
    let message = parse(&FULL.replace("sqlite:data/fleet.db", "mysql://db/fleet")).unwrap_err();
    assert!(
        message.contains("is neither sqlite:PATH nor postgres://"),
        "{message}"
    );
    let message =
        parse(&FULL.replace("sqlite:data/fleet.db", "sqlite://host/fleet.db")).unwrap_err();
    assert!(message.contains("names a host"), "{message}");
    let message = parse(&FULL.replace("[database]", "[database]\nschema = \"app\"")).unwrap_err();
    assert!(
        message.contains("schema applies to PostgreSQL only"),
        "{message}"
    );
    let message =
        parse(&FULL.replace("tenant_column = \"org_id\"", "tenant_column = \"\"")).unwrap_err();
    assert!(message.contains("tenant_column is empty"), "{message}");
}

const SECRET: &str = "pa55-w0rd";

fn postgres(url: &str, extra: &str) -> String {
    FULL.replace("\"sqlite:data/fleet.db\"", &format!("\"{url}\"\n{extra}"))
}

#[test]
fn postgres_urls_and_passwords() {
    let d = parse(&postgres(
        &format!("postgres://fleet:{SECRET}@db.internal:6543/fleet"),
        "schema = \"app\"",
    ))
    .unwrap();
    let Database::Postgres(target) = &d.database else {
        panic!("{:?}", d.database)
    };
    assert_eq!(
        (
            target.host.as_str(),
            target.port,
            target.user.as_str(),
            target.dbname.as_str(),
            target.schema.as_str()
        ),
        ("db.internal", 6543, "fleet", "fleet", "app")
    );
    assert_eq!(target.password(), Some(SECRET));
    assert_eq!(d.display_url(), "postgres://fleet:…@db.internal:6543/fleet");
    for shown in [format!("{d:?}"), format!("{:?}", target.config())] {
        assert!(!shown.contains(SECRET), "{shown}");
    }

    // postgresql:// too, port and schema by default, percent-encoded names.
    let d = parse(&postgres(
        "postgresql://app%40corp@127.0.0.1/fleet%20db",
        "",
    ))
    .unwrap();
    let Database::Postgres(target) = &d.database else {
        panic!()
    };
    assert_eq!(
        (
            target.port,
            target.user.as_str(),
            target.dbname.as_str(),
            target.schema.as_str()
        ),
        (5432, "app@corp", "fleet db", "public")
    );
    assert_eq!(target.password(), None);

    // password_file, relative to the descriptor (PGPASSWORD comes first: the unit tests
    // check the order, this process's environment is left as it is).
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("secrets")).unwrap();
    std::fs::write(dir.path().join("secrets/db.pw"), format!("{SECRET}\n")).unwrap();
    let path = dir.path().join("site.toml");
    std::fs::write(
        &path,
        postgres(
            "postgres://fleet@localhost/fleet",
            "password_file = \"secrets/db.pw\"",
        ),
    )
    .unwrap();
    let from_file = Descriptor::load(&path).unwrap();
    assert!(!format!("{from_file:?}").contains(SECRET));
    if std::env::var_os("PGPASSWORD").is_none() {
        let Database::Postgres(target) = &from_file.database else {
            panic!()
        };
        assert_eq!(target.password(), Some(SECRET));
    }

    // Errors never repeat the password, wherever it is.
    for text in [
        postgres(
            &format!("postgres://fleet:{SECRET}@db/fleet?sslmode=require"),
            "",
        ),
        postgres(&format!("postgres://fleet:{SECRET}@db/"), ""),
        postgres(&format!("postgres://:{SECRET}@db/fleet"), ""),
        postgres(&format!("postgres://fleet:{SECRET}/x@db/fleet"), ""),
        postgres(&format!("postgres://fleet:{SECRET}@db/fleet"), "passwd = 1"),
        FULL.replace(
            "\"sqlite:data/fleet.db\"",
            &format!("postgres://fleet:{SECRET}@db/fleet"),
        ),
        postgres(&format!("postgres://fleet:{SECRET}@db/fleet"), "schema = 5"),
    ] {
        let message = parse(&text).unwrap_err();
        assert!(!message.contains(SECRET), "{message}");
        assert!(
            message.starts_with("site descriptor /srv/sites/northwind.toml: "),
            "{message}"
        );
    }
}

#[test]
fn the_site_block_is_held_to_the_rules_of_site_json() {
    for (from, to, pointer) in [
        (
            "url = \"https://northwind.example\"",
            "url = \"postgres://db/x\"",
            "/url",
        ),
        ("name = \"Northwind Haulage\"", "name = \"\"", "/name"),
        (
            "url = \"https://northwind.example\"",
            "url = \"https://admin:hunter2pass@northwind.example\"",
            "password",
        ),
    ] {
        let message = parse(&FULL.replace(from, to)).unwrap_err();
        assert!(message.contains("northwind.toml"), "{message}");
        assert!(
            message.contains("[site]") && message.contains(pointer),
            "{message}"
        );
    }
}
