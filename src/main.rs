fn main() {
    std::process::exit(kluis::cli::main());
}
