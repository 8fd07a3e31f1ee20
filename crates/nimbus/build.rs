//! Links the binary with packed relative relocations (`-z pack-relative-relocs`, DT_RELR)
//! where the C library's loader understands them (glibc 2.36 and later).
//!
//! Why: the binary is position-independent, and its classic relocation table (about
//! 750 KiB of `R_X86_64_RELATIVE` entries) is read whole by the loader at every start, so
//! all of it counted in nimbus's idle RSS. Packed, it is about 7 KiB. A loader older than
//! glibc 2.36 refuses such a binary, so the flag is only added when the C library of the
//! machine that builds (and, not cross-compiling, runs) the binary is new enough.

use std::process::Command;

/// The first glibc whose loader applies DT_RELR.
const RELR_GLIBC: (u32, u32) = (2, 36);

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let native = var("TARGET") == var("HOST");
    if var("CARGO_CFG_TARGET_OS") != "linux" || var("CARGO_CFG_TARGET_ENV") != "gnu" || !native {
        return;
    }
    if glibc_version().is_some_and(|v| v >= RELR_GLIBC) {
        println!("cargo::rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// The host's glibc version from `getconf GNU_LIBC_VERSION` ("glibc 2.36").
fn glibc_version() -> Option<(u32, u32)> {
    let out = Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let mut parts = text.trim().strip_prefix("glibc ")?.split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}
