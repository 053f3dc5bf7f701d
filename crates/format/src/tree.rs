//! A set of file paths seen as one directory tree: the pairs of names that cannot stand
//! side by side in one site (docs/FORMAT.md §4).

use std::collections::{HashMap, HashSet};

use crate::ArchivePath;

/// Two paths of one tree that cannot both exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeConflict {
    /// Different names with the same [`ArchivePath::collision_key`] (`Docs/a` and
    /// `docs/b`, `Report.pdf` and `report.pdf`): one file system would hold both, a
    /// case-insensitive or normalizing one would merge them.
    Collision {
        /// The first name met (in the order given).
        first: ArchivePath,
        /// The name that collides with it.
        second: ArchivePath,
    },
    /// `file` is a file, and `below` needs it to be a directory.
    FileAndDirectory {
        /// The file.
        file: ArchivePath,
        /// A path below it.
        below: ArchivePath,
    },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
}

/// The first conflict among the file `paths` and the directories they imply, or `None`
/// when they form one tree that every file system holds as it is.
pub fn first_tree_conflict<'a>(
    paths: impl IntoIterator<Item = &'a ArchivePath>,
) -> Option<TreeConflict> {
    // collision key -> (the name that has it, what it is, one file path that made it)
    let mut seen: HashMap<String, (ArchivePath, Kind, ArchivePath)> = HashMap::new();
    // Exact directory names already checked: most paths share their directories.
    let mut dirs: HashSet<String> = HashSet::new();
    for path in paths {
        let mut prefixes: Vec<ArchivePath> = path.prefixes().collect();
        prefixes.pop();
        for dir in prefixes {
            if dirs.contains(dir.as_str()) {
                continue;
            }
            if let Some(conflict) = meet(&mut seen, &dir, Kind::Dir, path) {
                return Some(conflict);
            }
            dirs.insert(dir.as_str().to_owned());
        }
        if let Some(conflict) = meet(&mut seen, path, Kind::File, path) {
            return Some(conflict);
        }
    }
    None
}

fn meet(
    seen: &mut HashMap<String, (ArchivePath, Kind, ArchivePath)>,
    name: &ArchivePath,
    kind: Kind,
    file: &ArchivePath,
) -> Option<TreeConflict> {
    let key = name.collision_key();
    match seen.get(&key) {
        None => {
            seen.insert(key, (name.clone(), kind, file.clone()));
            None
        }
        Some((first, _, _)) if first != name => Some(TreeConflict::Collision {
            first: first.clone(),
            second: name.clone(),
        }),
        Some((_, first_kind, first_file)) if *first_kind != kind => {
            let (file, below) = if kind == Kind::File {
                (name.clone(), first_file.clone())
            } else {
                (name.clone(), file.clone())
            };
            Some(TreeConflict::FileAndDirectory { file, below })
        }
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conflict(paths: &[&str]) -> Option<TreeConflict> {
        let paths: Vec<ArchivePath> = paths.iter().map(|p| p.parse().unwrap()).collect();
        first_tree_conflict(&paths)
    }

    fn path(p: &str) -> ArchivePath {
        p.parse().unwrap()
    }

    #[test]
    fn one_tree_has_no_conflict() {
        assert_eq!(conflict(&[]), None);
        assert_eq!(conflict(&["a/b/c.txt", "a/b/d.txt", "a/e", "f"]), None);
        // The same path twice is one file.
        assert_eq!(conflict(&["a/b", "a/b"]), None);
    }

    #[test]
    fn names_that_differ_by_case_or_normalization_collide() {
        let cases = [
            (
                vec!["docs/Returns.pdf", "docs/returns.pdf"],
                "docs/Returns.pdf",
                "docs/returns.pdf",
            ),
            (vec!["Docs/a", "docs/b"], "Docs", "docs"),
            (
                vec!["x/\u{c4}pfel", "x/\u{e4}PFEL"],
                "x/\u{c4}pfel",
                "x/\u{e4}PFEL",
            ),
            (vec!["STRASSE/a", "stra\u{df}e/b"], "STRASSE", "stra\u{df}e"),
            // A file and a directory whose names differ by case collide too.
            (vec!["Media", "media/a.png"], "Media", "media"),
        ];
        for (paths, first, second) in cases {
            assert_eq!(
                conflict(&paths),
                Some(TreeConflict::Collision {
                    first: path(first),
                    second: path(second)
                }),
                "{paths:?}"
            );
        }
    }

    #[test]
    fn a_file_where_a_directory_is_needed_conflicts_either_way_round() {
        let expected = Some(TreeConflict::FileAndDirectory {
            file: path("files/docs"),
            below: path("files/docs/a/b.pdf"),
        });
        assert_eq!(conflict(&["files/docs", "files/docs/a/b.pdf"]), expected);
        assert_eq!(conflict(&["files/docs/a/b.pdf", "files/docs"]), expected);
        assert_eq!(
            conflict(&["x/y.txt", "x/y.txt/z"]),
            Some(TreeConflict::FileAndDirectory {
                file: path("x/y.txt"),
                below: path("x/y.txt/z"),
            })
        );
    }
}
