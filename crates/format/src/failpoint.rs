//! Kill points for the crash tests of the restore and store crates: with the `failpoints` feature (enabled only by the test
//! suite's dev-dependency, never in a release build), `SITEPACK_FAILPOINT=NAME` makes the
//! process kill itself with SIGKILL when it reaches `NAME` — a real `kill -9`, with no
//! destructor, flush or unlock run by the process itself. `SITEPACK_FAILPOINT=NAME:error`
//! makes the step at `NAME` fail with an I/O error instead (a full disk, say).

/// The environment variable naming the kill point.
#[cfg(feature = "failpoints")]
const VARIABLE: &str = "SITEPACK_FAILPOINT";

/// Kills the process when `SITEPACK_FAILPOINT` is `name`.
#[cfg(feature = "failpoints")]
pub fn hit(name: &str) {
    if std::env::var(VARIABLE).is_ok_and(|wanted| wanted == name) {
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
}

/// Kills the process when `SITEPACK_FAILPOINT` is `name:step` (steps count from 1).
#[cfg(feature = "failpoints")]
pub fn hit_step(name: &str, step: usize) {
    hit(&format!("{name}:{step}"));
}

/// An I/O error when `SITEPACK_FAILPOINT` is `name:step:error`.
#[cfg(feature = "failpoints")]
pub fn fail_step(name: &str, step: usize) -> std::io::Result<()> {
    if std::env::var(VARIABLE).is_ok_and(|wanted| wanted == format!("{name}:{step}:error")) {
        return Err(std::io::Error::other(
            "injected failure (SITEPACK_FAILPOINT)",
        ));
    }
    Ok(())
}

/// Waits (up to a minute) when `SITEPACK_FAILPOINT` is `name:pause`, so that a test can
/// signal the process there.
#[cfg(feature = "failpoints")]
pub fn pause(name: &str) {
    if std::env::var(VARIABLE).is_ok_and(|wanted| wanted == format!("{name}:pause")) {
        std::thread::sleep(std::time::Duration::from_secs(60));
    }
}

/// Does nothing (the `failpoints` feature is off).
#[cfg(not(feature = "failpoints"))]
pub fn pause(_name: &str) {}

/// Does nothing (the `failpoints` feature is off).
#[cfg(not(feature = "failpoints"))]
pub fn hit(_name: &str) {}

/// Never fails (the `failpoints` feature is off).
#[cfg(not(feature = "failpoints"))]
#[allow(clippy::unnecessary_wraps)] // the same signature as with the feature
pub fn fail_step(_name: &str, _step: usize) -> std::io::Result<()> {
    Ok(())
}

/// Does nothing (the `failpoints` feature is off).
#[cfg(not(feature = "failpoints"))]
pub fn hit_step(_name: &str, _step: usize) {}

/// The current time. With the `failpoints` feature, `SITEPACK_NOW` (RFC 3339, UTC) stands
/// in for the clock, so that the tests of schedules can move time along.
#[must_use]
pub fn now() -> crate::Timestamp {
    #[cfg(feature = "failpoints")]
    if let Some(now) = std::env::var("SITEPACK_NOW")
        .ok()
        .and_then(|t| t.parse().ok())
    {
        return now;
    }
    crate::Timestamp::now()
}
