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

fn sample(rel: &str) -> String {
    format!(
        "{}/../../shared/cwmp/samples/{rel}",
        env!("CARGO_MANIFEST_DIR")
    )
}

#[test]
fn cwmp_decode_and_encode_round_trip_through_json() {
    let decoded = acs()
        .args([
            "cwmp",
            "decode",
            &sample("real/cwmp_ex__zyxel_vmg8924-b10a_connreq.xml"),
        ])
        .output()
        .unwrap();
    assert!(
        decoded.status.success(),
        "{}",
        String::from_utf8_lossy(&decoded.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&decoded.stdout).expect("JSON");
    assert_eq!(
        json["body"]["Inform"]["device_id"]["serial_number"],
        "S140Y24025829"
    );
    assert_eq!(json["namespace"], "urn:dslforum-org:cwmp-1-0");

    // JSON back to XML on standard input, and that XML decodes to the same JSON.
    let mut encode = acs()
        .args(["cwmp", "encode", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    encode
        .stdin
        .take()
        .unwrap()
        .write_all(&decoded.stdout)
        .unwrap();
    let encoded = encode.wait_with_output().unwrap();
    assert!(
        encoded.status.success(),
        "{}",
        String::from_utf8_lossy(&encoded.stderr)
    );
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("again.xml");
    std::fs::write(&xml, &encoded.stdout).unwrap();
    let again = acs()
        .args(["cwmp", "decode", xml.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&again.stdout).unwrap(),
        json
    );

    // A broken trace: exit 1 and the place of the problem.
    let bad = dir.path().join("bad.xml");
    std::fs::write(
        &bad,
        "<soap:Envelope xmlns:soap='x'>\n  <soap:Body>\n</soap:Envelope>",
    )
    .unwrap();
    let out = acs()
        .args(["cwmp", "decode", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(":3:") && err.contains("line 3"), "{err}");
    // JSON that is no envelope: exit 1, naming the line and column.
    let notjson = dir.path().join("x.json");
    std::fs::write(&notjson, "{\"body\": 7}").unwrap();
    let out = acs()
        .args(["cwmp", "encode", notjson.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("x.json:1:"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn serve_runs_with_no_configuration() {
    use std::io::{BufRead as _, Read as _, Write as _};
    let dir = tempfile::tempdir().unwrap();
    let mut child = acs()
        .current_dir(dir.path())
        .args([
            "serve",
            "--cwmp-addr",
            "127.0.0.1:0",
            "--nbi-addr",
            "127.0.0.1:0",
        ])
        .env("ACS_LOG__FORMAT", "json")
        .env_remove("RUST_LOG")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A guard against a hang only (say, the server never starts): nothing asserted depends on it.
    let pid = child.id();
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(120));
        let _ = Command::new("kill").arg(pid.to_string()).status();
    });
    // Wait for the line that names the bound addresses.
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut warned = false;
    let mut nbi = None;
    let mut lines = stderr.lines();
    for line in lines.by_ref() {
        let Ok(line) = line else { break };
        warned |= line.contains("CPE authentication is off");
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
            && v["message"] == "acs is serving"
        {
            nbi = v["nbi"].as_str().map(str::to_owned);
            break;
        }
    }
    // Stop reading and close the pipe: a log reader that goes away (a crashed log shipper)
    // must not take the server down; the request below proves it still serves.
    drop(lines);
    let health = nbi.as_ref().map(|addr| {
        let mut stream = std::net::TcpStream::connect(addr).expect("connect to the NBI");
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: acs\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    });
    let _ = child.kill();
    let _ = child.wait();
    let health = health.expect("the server announced its addresses");
    assert!(
        health.starts_with("HTTP/1.1 200") && health.ends_with("ok\n"),
        "{health}"
    );
    assert!(warned, "the open-door warning is printed at start");
    assert!(
        dir.path().join("acs-data/acs.db").exists(),
        "SQLite under ./acs-data"
    );
    // First start wrote the admin token, readable by its owner only.
    use std::os::unix::fs::PermissionsExt as _;
    let meta = std::fs::metadata(dir.path().join("acs-data/admin.token")).expect("admin.token");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let found = acs_cli::cmd::token::find_token(None, &dir.path().join("acs-data"));
    if std::env::var("ACS_TOKEN").is_err() {
        assert!(found.is_some_and(|t| t.starts_with("acs_")));
    }
}

#[test]
fn token_create_list_revoke_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let run = |args: &[&str]| {
        acs()
            .current_dir(dir.path())
            .args(args)
            .args(["--data-dir", data])
            .output()
            .unwrap()
    };
    let created = run(&["token", "create", "--role", "operator", "--name", "ci"]);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let token = String::from_utf8(created.stdout).unwrap();
    let token = token.trim();
    assert!(token.starts_with("acs_") && token.len() >= 45, "{token}");
    assert!(String::from_utf8_lossy(&created.stderr).contains("not shown again"));

    let list = run(&["token", "list", "--format", "json"]);
    assert!(list.status.success());
    let json: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(json[0]["name"], "ci");
    assert_eq!(json[0]["role"], "operator");
    assert_eq!(json[0]["prefix"].as_str().unwrap(), &token[4..12]);
    assert!(json[0]["revoked_at"].is_null());
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(!text.contains(token) && !text.contains("argon2"), "{text}");

    // Duplicate name: exit 1 with a message.
    let dup = run(&["token", "create", "--role", "viewer", "--name", "ci"]);
    assert_eq!(dup.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));
    // Bad role: usage error.
    assert_eq!(
        run(&["token", "create", "--role", "root", "--name", "x"])
            .status
            .code(),
        Some(2)
    );

    let revoke = run(&["token", "revoke", "ci"]);
    assert!(
        revoke.status.success(),
        "{}",
        String::from_utf8_lossy(&revoke.stderr)
    );
    let list = run(&["token", "list", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert!(json[0]["revoked_at"].is_string(), "{json}");
    let table = run(&["token", "list"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("ci") && text.contains("operator") && text.contains("last used"));
    // Unknown token: exit 1.
    assert_eq!(run(&["token", "revoke", "nobody"]).status.code(), Some(1));
}

#[test]
fn cpe_credentials_set_list_remove_through_the_binary() {
    use std::io::Write as _;
    use std::os::unix::fs::PermissionsExt as _;
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap().to_owned();
    let run = |args: &[&str], stdin: Option<&str>| {
        let mut child = acs()
            .current_dir(dir.path())
            .args(args)
            .args(["--data-dir", &data_arg])
            .env("ACS_CPE_AUTH__USERNAME", "phones")
            .env("ACS_CPE_AUTH__PASSWORD", "shared-pw")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
        drop(input);
        child.wait_with_output().unwrap()
    };
    let stderr = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).into_owned();
    let device = "00562B-CP%2D8851%2D3PCC-FCH1";
    let set = run(
        &[
            "cpe-credentials",
            "set",
            device,
            "--username",
            "phone-1",
            "--password-stdin",
        ],
        Some("Pw-of-phone-1\n"),
    );
    assert!(set.status.success(), "{}", stderr(&set));
    // The data directory, the database and the key are the owner's only.
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("acs.db")), 0o600);
    assert_eq!(mode(&data.join("secrets.key")), 0o600);

    let list = run(&["cpe-credentials", "list", "--format", "json"], None);
    assert!(list.status.success(), "{}", stderr(&list));
    let json: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(json[0]["device_id"], device);
    assert_eq!(json[0]["username"], "phone-1");
    assert_eq!(json[0]["origin"], "operator");
    let table = run(&["cpe-credentials", "list"], None);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("phone-1") && !text.contains("Pw-of-phone-1"),
        "{text}"
    );

    // Refusals: exit code 1 and a message naming the problem.
    for (args, input, expected) in [
        (
            vec!["--username", "phone-1", "--password-stdin"],
            Some("x\n"),
            "already exists",
        ),
        (
            vec!["--username", "phones", "--password-stdin"],
            Some("x\n"),
            "shared username",
        ),
        (
            vec!["--username", "phone-2", "--password-stdin"],
            Some("\n"),
            "password must be",
        ),
        (vec!["--username", "phone-2"], None, "--password-stdin"),
    ] {
        let mut full = vec!["cpe-credentials", "set", "00562B-CP%2D8851%2D3PCC-FCH2"];
        full.extend(args);
        let out = run(&full, input);
        assert_eq!(out.status.code(), Some(1), "{full:?}");
        assert!(
            stderr(&out).contains(expected),
            "{full:?}: {}",
            stderr(&out)
        );
    }

    // No password in the database file (nor its write-ahead log).
    let mut bytes = std::fs::read(data.join("acs.db")).unwrap();
    bytes.extend(std::fs::read(data.join("acs.db-wal")).unwrap_or_default());
    assert!(!bytes.windows(13).any(|w| w == b"Pw-of-phone-1"));

    let removed = run(&["cpe-credentials", "remove", device], None);
    assert!(removed.status.success(), "{}", stderr(&removed));
    let again = run(&["cpe-credentials", "remove", device], None);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("no credentials"),
        "{}",
        stderr(&again)
    );
}

/// Completion scripts come from the binary's own clap definition: every subcommand is in them,
/// the bash one is valid bash, and an unknown shell is a usage error.
#[test]
fn shell_completions_cover_every_command() {
    for (shell, marker) in [
        ("bash", "_acs()"),
        ("zsh", "#compdef acs"),
        ("fish", "complete -c acs"),
    ] {
        let out = acs().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}: {:?}", out);
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains(marker), "{shell}:\n{text}");
        for command in ["serve", "token", "cpe-credentials", "dhcp", "completions"] {
            assert!(text.contains(command), "{shell} lacks {command}");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("acs.bash");
    let out = acs().args(["completions", "bash"]).output().unwrap();
    std::fs::write(&script, out.stdout).unwrap();
    let syntax = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        syntax.status.success(),
        "{}",
        String::from_utf8_lossy(&syntax.stderr)
    );
    let out = acs().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// Man pages come from the same clap definition: one for `acs`, one per command (nested
/// commands included), each a roff page naming its command.
#[test]
fn man_pages_are_written_for_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let out = acs()
        .args(["man", "--out"])
        .arg(dir.path().join("man1"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    for (page, name) in [
        ("acs.1", "acs"),
        ("acs-serve.1", "acs-serve"),
        ("acs-token-create.1", "acs-token-create"),
        ("acs-completions.1", "acs-completions"),
    ] {
        let text = std::fs::read_to_string(dir.path().join("man1").join(page))
            .unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".TH"), "{page} is not a roff page");
        assert!(text.contains(name), "{page} does not name {name}");
    }
    let refused = acs().args(["man"]).output().unwrap();
    assert_eq!(refused.status.code(), Some(2));
}
