//! The `--on-failure` command of `auto run` and `check`.

use std::ffi::OsStr;

/// Runs `command` with `sh -c`, with `SITEPACK_ERROR` (`error`, credential shapes and URL
/// passwords masked, as on standard error: a hook's mail or chat message never carries a
/// credential) and `env` in its environment. A warning when it cannot be run or does not
/// succeed: its own failure is reported, never hidden.
pub(crate) fn run_failure_hook(
    command: &str,
    error: &str,
    env: &[(&str, &OsStr)],
) -> Option<String> {
    let error = sitepack_format::mask_url_user_info(&sitepack_format::mask_credentials(error));
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .env("SITEPACK_ERROR", error)
        .envs(env.iter().copied())
        .status();
    match status {
        Ok(status) if status.success() => None,
        Ok(status) => Some(format!("--on-failure command exited with {status}")),
        Err(e) => Some(format!("cannot run the --on-failure command: {e}")),
    }
}
