//! Runs every scenario of the corpus (`tests/corpus/**/*.json`, written from AWS's
//! documentation; each scenario's `description` names its source) and checks its expected
//! decision, and each forward-access-session hop's.

use std::path::{Path, PathBuf};

use porteiro_iam::Authorizer;
use porteiro_iam::scenario::{self, Line};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("corpus directory is readable") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

#[test]
fn corpus_scenarios_get_their_expected_decisions() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut paths = Vec::new();
    files(&root, &mut paths);
    paths.sort();
    let authorizer = Authorizer::new();
    let (mut total, mut fas, mut failures) = (0usize, 0usize, Vec::new());
    let mut names = std::collections::HashSet::new();
    for path in &paths {
        let text = std::fs::read_to_string(path).expect("corpus file is readable");
        let scenarios = scenario::parse_file(&text, authorizer.options())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for s in &scenarios {
            total += 1;
            assert!(
                names.insert(s.name.clone()),
                "duplicate scenario name `{}`",
                s.name
            );
            assert!(
                s.expect.is_some(),
                "{}: `{}` states no expectation",
                path.display(),
                s.name
            );
            assert!(
                s.description.as_deref().is_some_and(|d| d.contains("http")),
                "{}: `{}` does not cite its source in `description`",
                path.display(),
                s.name
            );
            if !s.hops.is_empty() {
                fas += 1;
            }
            let outcome = s.run(&authorizer);
            // The fast path must agree with the explaining path.
            assert_eq!(
                s.decide(&authorizer),
                outcome.decision(),
                "{}: fast and explained paths differ",
                s.name
            );
            if !outcome.ok() {
                failures.push(format!("{}: {}", path.display(), Line(&outcome)));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} scenarios failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        total >= 300,
        "the corpus has {total} scenarios; at least 300 are required"
    );
    assert!(
        fas >= 40,
        "the corpus has {fas} forward-access-session scenarios; at least 40 are required"
    );
}
