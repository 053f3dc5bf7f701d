//! What is on disk below a directory, for tests that check nothing was written or left.

use std::path::Path;

/// Names in a directory, sorted. Panics when it cannot be read.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Every path below `dir`, relative to it, sorted depth first; links are listed, never
/// followed.
pub fn tree(dir: &Path) -> Vec<String> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) {
        for name in listing(dir) {
            let path = dir.join(&name);
            let relative = format!("{prefix}{name}");
            out.push(relative.clone());
            if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
                walk(&path, &format!("{relative}/"), out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, "", &mut out);
    out
}
