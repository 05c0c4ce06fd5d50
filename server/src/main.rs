//! `paysecure-server`: serve the API, create tenants, manage RSA keys. The
//! command line lives in [`paysecure_server::cli`].

fn main() -> std::process::ExitCode {
    paysecure_server::cli::main()
}
