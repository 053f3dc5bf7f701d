//! The `sitepack` binary; the command is the `sitepack_cli` library's.

fn main() -> std::process::ExitCode {
    sitepack_cli::run()
}
