//! Replays the stored fuzz corpus (`fuzz/corpus/<target>/*`) through the same checks the fuzz
//! targets run (`fuzz/checks`), on the stable toolchain: a finding that was fixed, or a seed from a
//! real session, stays a regression test without libFuzzer.

use std::fs;
use std::path::Path;

#[path = "../fuzz/checks/mod.rs"]
mod checks;

#[test]
fn every_target_has_a_corpus_and_every_corpus_file_passes_its_check() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut total = 0;
    for (name, check) in checks::TARGETS {
        let dir = root.join(name);
        let mut files: Vec<_> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.expect("corpus entry").path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{} holds no corpus files", dir.display());
        for file in &files {
            let data = fs::read(file).expect("corpus file");
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(
                outcome.is_ok(),
                "{name}: {} fails its check",
                file.display()
            );
        }
        total += files.len();
    }
    eprintln!("replayed {total} corpus files");
}

#[test]
fn every_fuzz_target_runs_a_shared_check() {
    let targets = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/fuzz_targets");
    for (name, _) in checks::TARGETS {
        let source = fs::read_to_string(targets.join(format!("{name}.rs")))
            .unwrap_or_else(|e| panic!("fuzz target {name}: {e}"));
        assert!(
            source.contains("checks::"),
            "{name} does not run a shared check"
        );
    }
}
