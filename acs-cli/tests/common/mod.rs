//! The harness the CLI suites share: a real `acs serve` on port 0 in a temporary directory,
//! the binary run against it, and simulated MPP phones.
// Each suite compiles this module on its own and uses part of it.
#![allow(dead_code)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

pub fn binary() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_acs"));
    for v in ["ACS_TOKEN", "ACS_SERVER", "ACS_DATA_DIR", "ACS_CONFIG"] {
        c.env_remove(v);
    }
    c
}

/// A running `acs serve`, killed on drop.
pub struct Acs {
    child: Child,
    /// The server's working directory (its `acs-data` is inside).
    pub dir: tempfile::TempDir,
    /// `http://host:port` of the NBI.
    pub nbi: String,
    /// `http://host:port/` of the CWMP listener.
    pub cwmp: String,
}

impl Drop for Acs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `acs serve` in `dir` on the given addresses; returns it with the addresses it
/// announced (the real ports when 0 was asked for).
fn serve(dir: &Path, cwmp_addr: &str, nbi_addr: &str) -> (Child, String, String) {
    let mut child = binary()
        .current_dir(dir)
        .args(["serve", "--cwmp-addr", cwmp_addr, "--nbi-addr", nbi_addr])
        .env("ACS_LOG__FORMAT", "json")
        // The test's CPEs do not need connection-request credentials pushed to them.
        .env(
            "ACS_CWMP__PROVISION_CONNECTION_REQUEST_CREDENTIALS",
            "false",
        )
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A guard against a hang only: nothing asserted depends on it.
    let pid = child.id();
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(300));
        let _ = Command::new("kill").arg(pid.to_string()).status();
    });
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut addrs = None;
    for line in lines.by_ref() {
        let Ok(line) = line else { break };
        if let Ok(v) = serde_json::from_str::<Value>(&line)
            && v["message"] == "acs is serving"
        {
            addrs = Some((
                v["nbi"].as_str().unwrap().to_owned(),
                v["cwmp"].as_str().unwrap().to_owned(),
            ));
            break;
        }
    }
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let (nbi, cwmp) = addrs.expect("the server announced its addresses");
    (child, nbi, cwmp)
}

impl Acs {
    pub fn start() -> Acs {
        Acs::start_with(|_| {})
    }

    /// Starts `acs serve` after `setup` has written files (an `acs.toml`, say) into its
    /// working directory.
    pub fn start_with(setup: impl FnOnce(&Path)) -> Acs {
        let dir = tempfile::tempdir().unwrap();
        setup(dir.path());
        let (child, nbi, cwmp) = serve(dir.path(), "127.0.0.1:0", "127.0.0.1:0");
        Acs {
            child,
            dir,
            nbi: format!("http://{nbi}"),
            cwmp: format!("http://{cwmp}/"),
        }
    }

    /// Stops the server and starts it again on the same directory and ports (an upgrade, a
    /// crash and restart).
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let nbi = self.nbi.trim_start_matches("http://").to_owned();
        let cwmp = self
            .cwmp
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let (child, _, _) = serve(self.dir.path(), &cwmp, &nbi);
        self.child = child;
    }

    /// Stops the server (it stays down until [`Acs::restart`]).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("acs-data")
    }

    /// Runs the CLI in the server's directory (so it finds ./acs-data/admin.token) with
    /// `--server` pointing at it; standard input is empty and not a terminal.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_in(self.dir.path(), args)
    }

    pub fn run_in(&self, dir: &Path, args: &[&str]) -> Output {
        binary()
            .current_dir(dir)
            .args(args)
            .args(["--server", &self.nbi])
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    pub fn spawn(&self, args: &[&str]) -> Child {
        binary()
            .current_dir(self.dir.path())
            .args(args)
            .args(["--server", &self.nbi])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Runs the CLI and expects success; the JSON it printed.
    pub fn json(&self, args: &[&str]) -> Value {
        let out = self.run(&[args, &["--format", "json"]].concat());
        assert!(ok(&out), "{args:?}: {}", stderr(&out));
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}\n{}", stdout(&out)))
    }
}

pub fn ok(out: &Output) -> bool {
    out.status.success()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Expects exit code `code` and `part` in stderr.
pub fn fails(out: &Output, code: i32, part: &str) {
    let err = stderr(out);
    assert_eq!(
        out.status.code(),
        Some(code),
        "stderr: {err}\nstdout: {}",
        stdout(out)
    );
    assert!(err.contains(part), "expected {part:?} in: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// `n` simulated MPP phones (serials `<prefix>N`) registered with `acs`, running in the
/// background on their own runtime (kept alive by the caller).
pub fn phones(
    acs: &Acs,
    n: usize,
    prefix: &str,
) -> (tokio::runtime::Runtime, acs_cli::sim::Simulator) {
    simulated(acs, n, prefix, "cisco-mpp")
}

/// `n` simulated devices of a built-in profile (`cisco-mpp`, `tr098-gateway`), each after its
/// first session.
pub fn simulated(
    acs: &Acs,
    n: usize,
    prefix: &str,
    profile: &str,
) -> (tokio::runtime::Runtime, acs_cli::sim::Simulator) {
    use acs_cli::sim::{SimConfig, Simulator, profile::Profile};
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut config = SimConfig::new(acs.cwmp.clone(), n, Profile::builtin(profile).unwrap());
    config.periodic = false;
    config.serial_prefix = Some(prefix.into());
    config.reboot_delay = std::time::Duration::from_millis(50);
    let sim = rt.block_on(async {
        let sim = Simulator::start(config).await.unwrap();
        sim.run();
        for i in 0..n {
            sim.wait_for_session(i, 1).await.unwrap();
        }
        sim
    });
    (rt, sim)
}
