// Baton allocates many small, short-lived values per node (events, decisions, strings);
// mimalloc serves them in a fraction of glibc malloc's instructions (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    baton::cli::main()
}
