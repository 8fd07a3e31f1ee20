//! `cargo run -p nimbus-codegen`: regenerates `crates/model/src/generated/*.rs` from
//! `models/*/*/service-2.json`.

use anyhow::{Context, Result};

fn main() -> Result<()> {
    let root = nimbus_codegen::repo_root();
    for spec in nimbus_codegen::SERVICES {
        let code = nimbus_codegen::generate(&root, spec)?;
        let path = nimbus_codegen::output_path(&root, spec);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&path, &code).with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {} ({} lines)", path.display(), code.lines().count());
    }
    Ok(())
}
