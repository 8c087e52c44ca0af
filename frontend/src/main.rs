/// mimalloc instead of the C library's malloc. Compiling a spec makes and drops many small values
/// (nodes, strings, ops); with glibc's malloc, the allocator's own bookkeeping, fresh pages and
/// large reallocations took about a third of a 10,000-stage compile (README, "Dependencies and
/// why", has the figures). The library itself leaves the choice to whoever links it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    decant::cli::main()
}
