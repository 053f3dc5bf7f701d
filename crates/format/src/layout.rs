//! The site layout (docs/FORMAT.md §6) and the scopes that select from it (§7).

use crate::{ArchivePath, AreaKind, Name, Options, Scope};

/// Name of the manifest entry at the archive root.
pub const MANIFEST_NAME: &str = "manifest.json";
/// Name of the `sha256sum -c` file at the archive root.
pub const CHECKSUMS_NAME: &str = "checksums.sha256";

/// How many ZIP entries an archive holds besides its site files (the manifest's
/// entries): [`MANIFEST_NAME`] and [`CHECKSUMS_NAME`]. A reader's entry count (of ZIP
/// entries) is the manifest's entry count plus this.
pub const METADATA_ENTRIES: usize = 2;
/// Directory that holds the payload inside an archive.
pub const PAYLOAD_DIR: &str = "site";
/// sitepack's own state inside a site directory; never archived.
pub const INTERNAL_DIR: &str = ".sitepack";

/// Where a site-relative path sits in the layout.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Area {
    /// `site.json`.
    Site,
    /// `settings/<tab>.json`.
    Tab(Name),
    /// `users/<id>.json`.
    User(Name),
    /// `modules/<module>/…`.
    Module {
        /// The module.
        module: Name,
        /// What kind of module file it is.
        item: ModuleItem,
    },
    /// `files/**` outside users' own folders.
    Files,
    /// `files/users/<id>/**`.
    UserFiles(Name),
    /// Anything else (kept by full backups).
    Other,
}

/// The kinds of file inside a module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModuleItem {
    /// `modules/<m>/<name>.jsonl`: JSON Lines records.
    Collection,
    /// `modules/<m>/<name>.json`: one JSON value.
    Document,
    /// Any other file below `modules/<m>/`, bytes.
    File,
}

impl Area {
    /// The area kind written into the manifest.
    #[must_use]
    pub fn kind(&self) -> AreaKind {
        match self {
            Self::Site => AreaKind::Site,
            Self::Tab(_) => AreaKind::Tab,
            Self::User(_) => AreaKind::User,
            Self::Module { .. } => AreaKind::Module,
            Self::Files => AreaKind::Files,
            Self::UserFiles(_) => AreaKind::UserFiles,
            Self::Other => AreaKind::Other,
        }
    }
}

/// Places a site-relative path in the layout; `None` for sitepack's own state
/// (`.sitepack/…`), which is never archived.
#[must_use]
pub fn classify(path: &ArchivePath) -> Option<Area> {
    let parts: Vec<&str> = path.components().collect();
    let stem_name =
        |file: &str, ext: &str| file.strip_suffix(ext).and_then(|s| s.parse::<Name>().ok());
    let area = match parts.as_slice() {
        [INTERNAL_DIR, ..] => return None,
        ["site.json"] => Area::Site,
        ["settings", file] => stem_name(file, ".json").map_or(Area::Other, Area::Tab),
        ["users", file] => stem_name(file, ".json").map_or(Area::Other, Area::User),
        ["modules", module, rest @ ..] if !rest.is_empty() => match module.parse::<Name>() {
            Ok(module) => {
                let item = match rest {
                    [file] if stem_name(file, ".jsonl").is_some() => ModuleItem::Collection,
                    [file] if stem_name(file, ".json").is_some() => ModuleItem::Document,
                    _ => ModuleItem::File,
                };
                Area::Module { module, item }
            }
            Err(_) => Area::Other,
        },
        ["files", "users", user, _, ..] => {
            user.parse::<Name>().map_or(Area::Files, Area::UserFiles)
        }
        ["files", _, ..] => Area::Files,
        _ => Area::Other,
    };
    Some(area)
}

/// How much of an entry a scope takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// Not part of the scope.
    Excluded,
    /// The entry, whole.
    Whole,
    /// Only the records whose owner field is the scope's user (a filtered collection).
    OwnedRecords,
}

impl Scope {
    /// How much of an entry in `area` this scope selects. `site.json` is in every scope.
    #[must_use]
    pub fn selects(&self, area: &Area, options: Options) -> Selection {
        let is_file = matches!(
            area,
            Area::Files
                | Area::UserFiles(_)
                | Area::Module {
                    item: ModuleItem::File,
                    ..
                }
        );
        if is_file && !options.files {
            return Selection::Excluded;
        }
        let selected = match (self, area) {
            (_, Area::Site) | (Self::Full, _) => true,
            (Self::Tab(tab), Area::Tab(name)) => tab == name,
            (Self::Module(wanted), Area::Module { module, .. }) => wanted == module,
            (Self::User(user), Area::User(id) | Area::UserFiles(id)) => user == id,
            (
                Self::User(_),
                Area::Module {
                    item: ModuleItem::Collection,
                    ..
                },
            ) => return Selection::OwnedRecords,
            _ => false,
        };
        if selected {
            Selection::Whole
        } else {
            Selection::Excluded
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn area(path: &str) -> Option<Area> {
        classify(&path.parse().unwrap())
    }

    fn name(s: &str) -> Name {
        s.parse().unwrap()
    }

    fn module(m: &str, item: ModuleItem) -> Area {
        Area::Module {
            module: name(m),
            item,
        }
    }

    #[test]
    fn classifies_the_layout() {
        use ModuleItem::{Collection, Document, File};
        let cases = [
            ("site.json", Some(Area::Site)),
            ("settings/general.json", Some(Area::Tab(name("general")))),
            ("settings/General.json", Some(Area::Other)),
            ("settings/notes.txt", Some(Area::Other)),
            ("settings/nested/x.json", Some(Area::Other)),
            ("users/u-7.json", Some(Area::User(name("u-7")))),
            ("users/u-7.jsonl", Some(Area::Other)),
            (
                "modules/crm/contacts.jsonl",
                Some(module("crm", Collection)),
            ),
            ("modules/crm/config.json", Some(module("crm", Document))),
            ("modules/crm/template.html", Some(module("crm", File))),
            ("modules/crm/sub/data.jsonl", Some(module("crm", File))),
            ("modules/crm/Big.jsonl", Some(module("crm", File))),
            ("modules/readme.txt", Some(Area::Other)),
            ("modules/CRM/x.json", Some(Area::Other)),
            ("files/logo.png", Some(Area::Files)),
            (
                "files/users/u-7/avatar.png",
                Some(Area::UserFiles(name("u-7"))),
            ),
            (
                "files/users/u-7/a/b.txt",
                Some(Area::UserFiles(name("u-7"))),
            ),
            ("files/users/readme.txt", Some(Area::Files)),
            ("files/users/Bad Name/x.txt", Some(Area::Files)),
            ("files", Some(Area::Other)),
            ("themes/default/style.css", Some(Area::Other)),
            ("README.txt", Some(Area::Other)),
            (".sitepack/lock", None),
            (".sitepack", None),
            ("sub/.sitepack/x", Some(Area::Other)),
        ];
        for (path, expected) in cases {
            assert_eq!(area(path), expected, "{path}");
        }
    }

    #[test]
    fn scopes_select_their_content() {
        use Selection::{Excluded, OwnedRecords, Whole};
        let all = Options { files: true };
        let data = Options { files: false };
        let cases = [
            ("full", "README.txt", all, Whole),
            ("full", "files/logo.png", all, Whole),
            ("full", "files/logo.png", data, Excluded),
            ("full", "files/users/u-7/a.png", data, Excluded),
            ("full", "modules/crm/t.html", data, Excluded),
            ("full", "modules/crm/c.jsonl", data, Whole),
            ("full", "README.txt", data, Whole),
            ("tab:general", "settings/general.json", all, Whole),
            ("tab:general", "settings/roles.json", all, Excluded),
            ("tab:general", "site.json", data, Whole),
            ("tab:general", "users/u-7.json", all, Excluded),
            ("module:crm", "modules/crm/c.jsonl", all, Whole),
            ("module:crm", "modules/crm/t.html", all, Whole),
            ("module:crm", "modules/crm/t.html", data, Excluded),
            ("module:crm", "modules/notes/n.jsonl", all, Excluded),
            ("module:crm", "files/logo.png", all, Excluded),
            ("user:u-7", "users/u-7.json", all, Whole),
            ("user:u-7", "users/u-8.json", all, Excluded),
            ("user:u-7", "modules/crm/c.jsonl", all, OwnedRecords),
            ("user:u-7", "modules/crm/c.jsonl", data, OwnedRecords),
            ("user:u-7", "modules/crm/doc.json", all, Excluded),
            ("user:u-7", "files/users/u-7/a.png", all, Whole),
            ("user:u-7", "files/users/u-7/a.png", data, Excluded),
            ("user:u-7", "files/users/u-8/a.png", all, Excluded),
            ("user:u-7", "files/logo.png", all, Excluded),
            ("user:u-7", "README.txt", all, Excluded),
        ];
        for (scope, path, options, expected) in cases {
            let scope: Scope = scope.parse().unwrap();
            let area = area(path).unwrap();
            assert_eq!(
                scope.selects(&area, options),
                expected,
                "{scope} {path} {options:?}"
            );
        }
    }
}
