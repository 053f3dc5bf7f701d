//! What the writer's test suites share.

use std::io::Read;
use std::path::Path;

use sitepack_format::Manifest;

/// An archive read as a plain ZIP (the writer's tests do not use the reader, which tests
/// itself on the writer's archives).
pub struct Archive(zip::ZipArchive<std::fs::File>);

impl Archive {
    pub fn open(path: &Path) -> Self {
        Self(zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap())
    }

    pub fn read_entry(&mut self, name: &str) -> Vec<u8> {
        let mut bytes = Vec::new();
        self.0
            .by_name(name)
            .unwrap()
            .read_to_end(&mut bytes)
            .unwrap();
        bytes
    }

    pub fn manifest(&mut self) -> Manifest {
        Manifest::from_json(&self.read_entry("manifest.json"))
            .unwrap()
            .manifest
    }
}
