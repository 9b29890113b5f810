//! The `openhumans` binary: all behaviour lives in the library so tests reuse it.

fn main() -> std::process::ExitCode {
    openhumans::cli::main()
}
