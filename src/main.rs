// Baton allocates many small, short-lived values per node (events, decisions, strings);
// mimalloc serves them in a fraction of glibc malloc's instructions (see src/alloc.rs).
#[global_allocator]
static GLOBAL: baton::alloc::Mimalloc = baton::alloc::Mimalloc;

fn main() -> std::process::ExitCode {
    baton::cli::main()
}
