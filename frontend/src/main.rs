fn main() -> std::process::ExitCode {
    decant::cli::main()
}
