//! Helpers: a command runner, an archive reader, an S3 server; the temporary site builder
//! and the ZIP crafter come from `sitepack-test-support`.

pub mod postgres;
pub mod s3;
pub mod server;

pub use sitepack_test_support::{TIMESTAMP, TestSite, copy_tree, demo_site, repo_root, zipcraft};

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// What a finished command left.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub stdout_bytes: Vec<u8>,
}

impl Run {
    pub fn from_output(output: Output) -> Self {
        Self {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            stdout_bytes: output.stdout,
        }
    }

    /// Runs `command` to the end; one made by [`sitepack`] must have written nothing in
    /// its working directory.
    #[track_caller]
    pub fn from_command(command: &mut Command) -> Self {
        let run = Self::from_output(command.output().expect("run the command"));
        if let Some(cwd) = command.get_current_dir() {
            assert_nothing_written(cwd, &run);
        }
        run
    }

    /// Panics with both streams unless the exit code is `code`.
    #[track_caller]
    pub fn expect(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// The `sitepack` binary, with a clean environment for reproducibility, working in a fresh
/// empty directory of its own, so that a stray write to a relative path is seen
/// ([`Run::from_command`] checks it; tests pass absolute paths).
pub fn sitepack() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sitepack"));
    command
        .env_remove("SOURCE_DATE_EPOCH")
        .stdin(Stdio::null())
        .current_dir(empty_working_dir());
    command
}

/// Where the working directories of [`sitepack`] commands are made (cargo's scratch
/// directory for tests, which `cargo clean` removes).
fn working_dirs() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("sitepack-cwd")
}

fn empty_working_dir() -> PathBuf {
    static CLEARED: std::sync::Once = std::sync::Once::new();
    let parent = working_dirs();
    std::fs::create_dir_all(&parent).unwrap();
    // The directories of commands whose test did not check them (spawned, or run with
    // `status()`) are left behind: an earlier run's empty ones go now. A non-empty one
    // stays, to be seen.
    // Only old ones: under nextest every test is a process of its own, and a young empty
    // one may be another test's, made a moment ago for a command not yet spawned.
    CLEARED.call_once(|| {
        let old = std::time::Duration::from_secs(3600);
        for entry in std::fs::read_dir(&parent).unwrap() {
            let path = entry.unwrap().path();
            let age = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok());
            if age.is_some_and(|age| age > old) {
                let _ = std::fs::remove_dir(path);
            }
        }
    });
    tempfile::tempdir_in(parent).unwrap().keep()
}

/// Panics if a [`sitepack`] command wrote into its working directory `cwd`, which is
/// removed otherwise (a working directory set by the test itself is left alone).
#[track_caller]
fn assert_nothing_written(cwd: &Path, run: &Run) {
    if cwd.parent() != Some(working_dirs().as_path()) {
        return;
    }
    let written = listing(cwd);
    assert!(
        written.is_empty(),
        "sitepack wrote {written:?} into its working directory {}\n--- stderr\n{}",
        cwd.display(),
        run.stderr
    );
    match std::fs::remove_dir(cwd) {
        // Another test process sharing the target directory cleared it while it was empty.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        removed => removed.unwrap(),
    }
}

/// Runs `sitepack ARGS…`.
#[track_caller]
pub fn run<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Run::from_command(sitepack().args(args))
}

/// `sitepack ARGS…` on a pseudo-terminal (script(1)), typing `input`: both its streams
/// come back as standard output.
#[track_caller]
pub fn on_terminal(args: &[&std::ffi::OsStr], input: &str) -> Run {
    let mut command = shell_quote(std::ffi::OsStr::new(env!("CARGO_BIN_EXE_sitepack")));
    for arg in args {
        command.push(' ');
        command.push_str(&shell_quote(arg));
    }
    let cwd = empty_working_dir();
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .current_dir(&cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script(1) from util-linux is needed by this test");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), input.as_bytes()).unwrap();
    let run = Run::from_output(child.wait_with_output().unwrap());
    assert_nothing_written(&cwd, &run);
    run
}

fn shell_quote(arg: &std::ffi::OsStr) -> String {
    format!("'{}'", arg.to_str().unwrap().replace('\'', r"'\''"))
}

/// Runs any command, which must exist (`cargo xtask test` installs the ones tests use).
pub fn run_tool(program: &str, args: &[&str], dir: &Path) -> Run {
    let package = match program {
        "7z" => "p7zip-full",
        "sha256sum" => "coreutils",
        "age-keygen" => "age",
        other => other,
    };
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("{program} is needed by this test (apt-get install {package}): {e}")
        });
    Run::from_output(output)
}

/// Every entry of an archive, decompressed, read with the `zip` crate.
pub fn read_archive(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let file = std::fs::File::open(path).unwrap();
    let mut archive = zip::ZipArchive::new(file).unwrap();
    let mut entries = BTreeMap::new();
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).unwrap();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        let name = entry.name().expect("entry names are UTF-8").into_owned();
        assert!(entries.insert(name, data).is_none(), "duplicate entry");
    }
    entries
}

pub fn manifest(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&read_archive(path)["manifest.json"]).unwrap()
}

/// `sitepack create SITE -o OUT ARGS…`, whatever its outcome (`OUT` may be `-`).
pub fn try_create(site: &Path, out: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Run {
    let mut command = vec![
        "create".as_ref(),
        site.as_os_str(),
        "-o".as_ref(),
        out.as_ref(),
    ];
    command.extend(args.iter().map(|a| std::ffi::OsStr::new(*a)));
    run(command)
}

/// `sitepack create SITE -o OUT --timestamp T ARGS…`, which must succeed.
pub fn create(site: &Path, out: &Path, args: &[&str]) -> Run {
    let mut with_time = vec!["--timestamp", TIMESTAMP];
    with_time.extend_from_slice(args);
    try_create(site, out, &with_time).expect(0)
}

/// Names in a directory (to check that nothing was left behind).
pub fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Every file of a site (site-relative, `/`-separated) except `.sitepack/`.
pub fn site_files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    tree(root)
        .into_iter()
        .filter_map(|(path, node)| match node {
            Node::File { bytes, .. } => Some((path, bytes)),
            Node::Dir { .. } => None,
        })
        .collect()
}

/// One node of a site tree: a directory, or a file with its mode and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Dir { mode: u32 },
    File { mode: u32, bytes: Vec<u8> },
}

/// Every directory and file of a site (site-relative, `/`-separated) except `.sitepack/`,
/// with permission bits: two equal trees are byte-identical, modes and empty
/// directories included.
pub fn tree(root: &Path) -> BTreeMap<String, Node> {
    use std::os::unix::fs::MetadataExt;
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Node>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned();
            if relative == ".sitepack" {
                continue;
            }
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let mode = meta.mode() & 0o7777;
            if meta.is_dir() {
                out.insert(relative, Node::Dir { mode });
                walk(root, &path, out);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                out.insert(relative, Node::File { mode, bytes });
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// Asserts two trees are equal, naming the first paths that differ.
#[track_caller]
pub fn assert_same_tree(actual: &BTreeMap<String, Node>, expected: &BTreeMap<String, Node>) {
    let differing: Vec<&String> = actual
        .keys()
        .chain(expected.keys())
        .filter(|k| actual.get(*k) != expected.get(*k))
        .take(10)
        .collect();
    assert!(differing.is_empty(), "the trees differ at {differing:?}");
}

/// Holds a lock file in `.sitepack/` of `site` with flock(1) until dropped (then killed and waited
/// for).
pub struct LockHolder(Child);

impl LockHolder {
    pub fn new(site: &Path) -> Self {
        Self::hold(site, "lock")
    }

    /// Holds `.sitepack/NAME` (`lock`, `auto.lock`).
    pub fn hold(site: &Path, name: &str) -> Self {
        let lock = site.join(".sitepack").join(name);
        std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
        // --no-fork: the process killed on drop is the one holding the lock.
        #[allow(clippy::zombie_processes)] // waited for in Drop
        let child = Command::new("flock")
            .arg("--no-fork")
            .arg(&lock)
            .args(["sleep", "60"])
            .stdin(Stdio::null())
            .spawn()
            .expect("flock(1) from util-linux is needed by this test");
        // Wait until it holds the lock.
        for _ in 0..500 {
            let free = Command::new("flock")
                .args(["-n".as_ref(), lock.as_os_str(), "true".as_ref()])
                .status()
                .unwrap()
                .success();
            if !free {
                return Self(child);
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("flock never took the lock");
    }
}

impl Drop for LockHolder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
