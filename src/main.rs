//! The `openhumans` binary: all behaviour lives in the library so tests reuse it.

/// The allocator: mimalloc, because in a `perf` profile of `bench/run` glibc's
/// allocator took about 17% of the server's CPU time under concurrent requests.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    openhumans::cli::main()
}
