//! The layer rule, checked: what differs between backends is a trait method, so no file outside
//! `src/connector/<backend>/` names a backend (as a string) or reaches into a backend's module.
//! The registration list in `src/connector/mod.rs`, the demo data set (a SQLite file by
//! definition) and the command line (whose help lists URL schemes) are the allowed exceptions
//! to the second half.

use std::path::{Path, PathBuf};

const NAMES: &[&str] = &[
    "postgres",
    "postgresql",
    "mysql",
    "mariadb",
    "sqlite",
    "snowflake",
    "bigquery",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_backend_names_in_shared_code() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let backends: Vec<String> = std::fs::read_dir(src.join("connector"))
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            p.is_dir()
                .then(|| p.file_name().unwrap().to_string_lossy().into_owned())
        })
        .collect();
    assert!(backends.iter().any(|b| b == "postgres"), "{backends:?}");
    let mut files = vec![];
    rust_files(&src, &mut files);
    let mut offences = vec![];
    for file in &files {
        let rel = file
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if backends
            .iter()
            .any(|b| rel.starts_with(&format!("connector/{b}/")))
        {
            continue;
        }
        let may_name_modules =
            rel == "connector/mod.rs" || rel == "demo.rs" || rel.starts_with("bin/");
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") || (code.starts_with("#[cfg(") && code.contains("feature = "))
            {
                continue;
            }
            for name in NAMES {
                let quoted = format!("\"{name}\"");
                let module = format!("{name}::");
                if code.contains(&quoted)
                    || (!may_name_modules && code.contains(&format!("connector::{module}")))
                {
                    offences.push(format!("src/{rel}:{}: {}", n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        offences.is_empty(),
        "backend names outside src/connector/<backend>/ (make it a trait method):\n{}",
        offences.join("\n")
    );
}
