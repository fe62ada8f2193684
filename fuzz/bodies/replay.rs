//! Replays a fuzz target's committed inputs on stable: `fuzz/seeds/<target>/*` (the seed corpus)
//! and `fuzz/regressions/<target>/*` (minimised inputs that once broke something). Included by
//! the crates' `tests/fuzz_regressions.rs` (and `openevent-http/tests/hostile.rs`).

use std::path::PathBuf;

/// The repository's `fuzz/` directory (the including crate sits in `crates/<name>/`).
pub fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// Runs `check` over every committed input of `target`; returns how many ran. A failing input
/// is named in the panic message.
pub fn replay(target: &str, check: fn(&[u8])) -> usize {
    let mut ran = 0;
    for kind in ["seeds", "regressions"] {
        let dir = fuzz_dir().join(kind).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
        paths.sort();
        for path in paths.into_iter().filter(|p| p.is_file()) {
            let data = std::fs::read(&path).expect("readable input");
            if let Err(panic) = std::panic::catch_unwind(|| check(&data)) {
                let why = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                panic!("{target}: {} fails: {why}", path.display());
            }
            ran += 1;
        }
    }
    ran
}
