//! The contracts pass `buf lint` (STANDARD and COMMENTS rules, see `buf.yaml`).
//!
//! buf comes from the npm registry (`npm install --prefix .ci/node @bufbuild/buf`, as `.ci/run`
//! does) or from PATH. Without it the test is skipped with a notice, except under `CI=true`.

use std::{io::Write, path::PathBuf, process::Command};

fn buf() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let local = root.join(".ci/node/node_modules/.bin/buf");
    if local.exists() {
        return Some(local);
    }
    let on_path = Command::new("buf").arg("--version").output().is_ok_and(|out| out.status.success());
    on_path.then(|| PathBuf::from("buf"))
}

#[test]
fn contracts_pass_buf_lint() {
    let Some(buf) = buf() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "buf is required under CI=true: npm install --prefix .ci/node @bufbuild/buf"
        );
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPING buf lint: buf is not installed. Run `npm install --prefix .ci/node @bufbuild/buf`.\n"
        );
        return;
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let output = Command::new(&buf).arg("lint").current_dir(&root).output().expect("buf runs");
    let findings = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && findings.trim().is_empty(),
        "buf lint found problems:\n{findings}{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
