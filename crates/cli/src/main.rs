//! The `sitepack` binary; the command is the `sitepack_cli` library's.

// Rows are allocated on the thread that reads them and freed on the one that encodes
// them: mimalloc frees across threads without the lock contention of glibc's arenas.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    sitepack_cli::run()
}
