//! `wasm-bindgen --target web|bundler|nodejs --out-dir DIR [--out-name NAME] [--keep-debug] INPUT.wasm`:
//! the subset of the upstream CLI that `scripts/build.sh` uses, with the
//! upstream CLI's defaults (TypeScript declarations, demangled names, the
//! default module path kept), so its output is byte-identical to
//! `wasm-bindgen-cli` 0.2.130 run with the same arguments.
use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use wasm_bindgen_cli_support::Bindgen;

/// The generator compiled in (this package carries its version).
const VERSION: &str = env!("CARGO_PKG_VERSION");
const USAGE: &str =
    "usage: wasm-bindgen --target web|bundler|nodejs --out-dir DIR [--out-name NAME] [--keep-debug] INPUT.wasm";

fn main() -> Result<()> {
    let mut target = String::from("bundler");
    let mut out_dir = None;
    let mut out_name = None;
    let mut input = None;
    // Keeps the name section (function names) for size analysis; the
    // package build never passes it.
    let mut keep_debug = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().with_context(|| format!("{flag} needs a value"));
        match arg.as_str() {
            "--target" => target = value("--target")?,
            "--out-dir" => out_dir = Some(PathBuf::from(value("--out-dir")?)),
            "--out-name" => out_name = Some(value("--out-name")?),
            "--keep-debug" => keep_debug = true,
            "--version" | "-V" => {
                println!("wasm-bindgen {VERSION} (wasm-bindgen-tool)");
                return Ok(());
            }
            "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(());
            }
            flag if flag.starts_with('-') => bail!("unknown option {flag}\n{USAGE}"),
            path => input = Some(PathBuf::from(path)),
        }
    }
    let (Some(input), Some(out_dir)) = (input, out_dir) else {
        bail!("{USAGE}");
    };

    let mut b = Bindgen::new();
    match target.as_str() {
        "web" => b.web(true)?,
        "bundler" => b.bundler(true)?,
        "nodejs" => b.nodejs(true)?,
        other => bail!("unsupported target {other}\n{USAGE}"),
    };
    // As the upstream CLI: `reference_types(false)` overrides the
    // WASM_BINDGEN_EXTERNREF environment variable that `Bindgen::new` reads.
    #[allow(deprecated)]
    b.input_path(&input)
        .typescript(true)
        .demangle(true)
        .omit_default_module_path(false)
        .reference_types(false)
        .keep_debug(keep_debug);
    if let Some(name) = &out_name {
        b.out_name(name);
    }
    b.generate(&out_dir)
        .with_context(|| format!("wasm-bindgen {} -> {}", input.display(), out_dir.display()))
}
