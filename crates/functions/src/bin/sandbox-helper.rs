//! Test helper: the `nimbus __sandbox` entry without the rest of nimbus, so the
//! crate's own tests (sandbox, engine) can start sandboxes. nimbus itself calls
//! `nimbus_functions::sandbox::helper_main` from its main.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    std::process::exit(nimbus_functions::sandbox::helper_main(&args));
}
