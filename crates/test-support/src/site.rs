//! A temporary site builder.

use std::path::{Path, PathBuf};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The bundled demo site.
pub fn demo_site() -> PathBuf {
    repo_root().join("fixtures/sites/demo")
}

/// A site in a temporary directory.
pub struct TestSite {
    dir: tempfile::TempDir,
}

impl TestSite {
    /// An empty site with only `site.json`.
    pub fn new(id: &str) -> Self {
        let site = Self::bare();
        site.write(
            "site.json",
            format!(r#"{{"id": "{id}", "name": "Test site {id}", "url": "https://{id}.example"}}"#),
        );
        site
    }

    /// An empty directory.
    pub fn bare() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("site")).unwrap();
        Self { dir }
    }

    /// A copy of the demo site.
    pub fn demo() -> Self {
        let site = Self::bare();
        copy_tree(&demo_site(), &site.root());
        // The fixture's own audit log (from running the demo job on it) is not part of it.
        let _ = std::fs::remove_dir_all(site.root().join(".sitepack"));
        site
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("site")
    }

    /// A directory beside the site, for outputs.
    pub fn out_dir(&self) -> PathBuf {
        let out = self.dir.path().join("out");
        std::fs::create_dir_all(&out).unwrap();
        out
    }

    pub fn write(&self, relative: &str, content: impl AsRef<[u8]>) {
        let path = self.root().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
}

pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
