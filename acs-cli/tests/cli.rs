//! The real `acs` binary: configuration, database commands, exit codes.

use std::process::Command;

fn acs() -> Command {
    Command::new(env!("CARGO_BIN_EXE_acs"))
}

#[test]
fn the_binary_prints_its_configuration_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let out = acs()
        .current_dir(dir.path())
        .args(["serve", "--print-config", "--cwmp-addr", "127.0.0.1:9999"])
        .env("ACS_CPE_AUTH__USERNAME", "cpe")
        .env("ACS_CPE_AUTH__PASSWORD", "hunter2-secret")
        .env(
            "ACS_DATABASE__URL",
            "postgres://acs:db-secret@db.example/acs",
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("listen = \"127.0.0.1:9999\""),
        "flag wins:\n{text}"
    );
    assert!(
        text.contains("mode = \"digest\""),
        "credentials switch Digest on:\n{text}"
    );
    assert!(
        !text.contains("hunter2-secret") && !text.contains("db-secret"),
        "{text}"
    );
    assert!(text.contains("[redacted]"));

    // A bad value is a clear error and exit code 1.
    let out = acs()
        .current_dir(dir.path())
        .args(["serve", "--print-config"])
        .env("ACS_CWMP__LISTEN", "not-an-address")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cwmp.listen"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A usage error is exit code 2.
    assert_eq!(
        acs()
            .args(["serve", "--no-such-flag"])
            .output()
            .unwrap()
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn the_binary_migrates_and_reports_status() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let status = acs()
        .args(["db", "status", "--data-dir", data])
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert!(String::from_utf8_lossy(&status.stdout).contains("pending"));
    let migrate = acs()
        .args(["db", "migrate", "--data-dir", data])
        .output()
        .unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    let status = acs()
        .args(["db", "status", "--data-dir", data])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&status.stdout).to_string();
    assert!(
        text.contains("applied") && !text.contains("pending"),
        "{text}"
    );
    assert!(dir.path().join("data/acs.db").exists());
}
