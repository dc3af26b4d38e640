use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use super::*;
use crate::auth::LimiterConfig;

/// A directory holding no `acs.toml`, so the default-file lookup finds nothing.
fn empty_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn load(
    file: Option<&str>,
    env: &[(&str, &str)],
    overrides: Overrides,
) -> Result<Settings, SettingsError> {
    let dir = empty_dir();
    let config_file = file.map(|text| {
        let path = dir.path().join("given.toml");
        std::fs::File::create(&path)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        path
    });
    let env = env
        .iter()
        .map(|&(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    Settings::load_from(
        LoadOptions {
            config_file,
            overrides,
        },
        &dir.path().join(DEFAULT_CONFIG_FILE),
        env,
    )
}

fn load_ok(file: Option<&str>, env: &[(&str, &str)]) -> Settings {
    load(file, env, Overrides::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn load_err(file: Option<&str>, env: &[(&str, &str)]) -> String {
    match load(file, env, Overrides::default()) {
        Ok(s) => panic!("expected an error, got {s:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn defaults() {
    let s = load_ok(None, &[]);
    assert_eq!(s.data_dir, Path::new("./acs-data"));
    assert_eq!(s.database_url(), "sqlite://./acs-data/acs.db?mode=rwc");
    assert!(s.is_sqlite());
    assert_eq!(s.database.max_connections, 16);
    assert_eq!(s.database.event_retention, 100);
    assert_eq!(s.cwmp.listen, "0.0.0.0:7547".parse().unwrap());
    assert!(s.cwmp.tls.is_none());
    assert_eq!(s.cwmp.session_timeout(), Duration::from_secs(60));
    assert_eq!(s.cwmp.max_body_bytes, 16 * 1024 * 1024);
    assert_eq!(s.cwmp.body_timeout(), Duration::from_secs(30));
    assert_eq!(s.cwmp.keep_alive_secs, 60);
    assert!(s.cwmp.trusted_proxies.is_empty());
    assert_eq!(s.cwmp.public_url, None);
    assert_eq!(s.nbi.listen, "127.0.0.1:7557".parse().unwrap());
    assert_eq!(s.cpe_auth.mode, None);
    assert_eq!(s.cpe_auth.effective_mode(), CpeAuthMode::None);
    assert_eq!(s.cpe_auth.realm, "acs");
    assert!(!s.cpe_auth.allow_insecure_basic);
    assert_eq!(s.cpe_auth.digest_algorithms, [DigestAlgorithm::Md5]);
    assert_eq!(s.cpe_auth.nonce_lifetime_secs, 300);
    assert!(s.cpe_auth.devices.is_empty());
    assert_eq!(
        LimiterConfig::from(&s.cpe_auth.limiter),
        LimiterConfig::default()
    );
    assert_eq!(s.log.format, LogFormat::Text);
    assert_eq!(s.log.filter, "info");
    assert_eq!(format!("{s:?}"), format!("{:?}", Settings::default()));
    Settings::default().validate().unwrap();

    let w = s.warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].starts_with("CPE authentication is off"), "{w:?}");
}

/// Every knob of startup is a setting: what used to be fixed in code (HoldRequests, the
/// job interval, the upload limit, workers, connection-request pacing) reads from the file
/// and from the environment, including the sections the environment used to skip.
#[test]
fn startup_knobs_are_settings() {
    let s = load_ok(None, &[]);
    assert!(!s.cwmp.hold_requests);
    assert_eq!(s.jobs.interval(), Duration::from_secs(1));
    assert_eq!(s.files.max_bytes, 2 * 1024 * 1024 * 1024);
    assert_eq!((s.cwmp.workers, s.nbi.workers), (None, None));
    let connreq = crate::connreq::ConnReqConfig::from(&s.connection_request);
    assert_eq!(connreq.min_interval, Duration::from_secs(30));
    assert_eq!(connreq.max_tracked_devices, 1_000_000);

    let s = load_ok(
        Some(
            r#"
            [cwmp]
            hold_requests = true
            workers = 4
            [nbi]
            workers = 2
            [jobs]
            interval_ms = 250
            [files]
            max_bytes = 1048576
            [connection_request]
            min_interval_secs = 5
            max_tracked_devices = 1000
            "#,
        ),
        &[
            ("ACS_PROVISION__LOOP_LIMIT", "7"),
            ("ACS_BOOTSTRAP__FETCH", "false"),
        ],
    );
    assert!(s.cwmp.hold_requests);
    assert_eq!((s.cwmp.workers, s.nbi.workers), (Some(4), Some(2)));
    assert_eq!(s.jobs.interval(), Duration::from_millis(250));
    assert_eq!(s.files.max_bytes, 1_048_576);
    assert_eq!(s.connection_request.min_interval_secs, 5);
    assert_eq!(s.connection_request.max_tracked_devices, 1000);
    assert_eq!(s.provision.loop_limit, 7);
    assert!(!s.bootstrap.fetch);

    let err = load_err(Some("[jobs]\ninterval_ms = 0\n[cwmp]\nworkers = 0\n"), &[]);
    assert!(err.contains("jobs.interval_ms"), "{err}");
    assert!(err.contains("cwmp.workers"), "{err}");
}

#[test]
fn toml_file() {
    let s = load_ok(
        Some(
            r#"
                data_dir = "/var/lib/acs"
                [database]
                url = "postgres://acs:pw@db/acs"
                max_connections = 32
                [cwmp]
                listen = "[::]:7548"
                keep_alive_secs = 30
                trusted_proxies = ["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"]
                public_url = "https://acs.example.net:7548"
                [cpe_auth]
                username = "cpe"
                password = "secret"
                digest_algorithms = ["SHA-256", "MD5"]
                [cpe_auth.limiter]
                max_failures = 20
                [log]
                format = "json"
                filter = "debug,sqlx=warn"
                "#,
        ),
        &[],
    );
    assert_eq!(s.data_dir, Path::new("/var/lib/acs"));
    assert_eq!(s.database_url(), "postgres://acs:pw@db/acs");
    assert!(!s.is_sqlite());
    assert_eq!(s.database.max_connections, 32);
    assert_eq!(s.database.event_retention, 100);
    assert_eq!(s.cwmp.listen, "[::]:7548".parse().unwrap());
    assert_eq!(s.cwmp.keep_alive_secs, 30);
    assert!(s.cwmp.is_trusted_proxy("10.1.2.3".parse().unwrap()));
    assert!(s.cwmp.is_trusted_proxy("::ffff:10.1.2.3".parse().unwrap()));
    assert!(s.cwmp.is_trusted_proxy("192.0.2.7".parse().unwrap()));
    assert!(!s.cwmp.is_trusted_proxy("192.0.2.8".parse().unwrap()));
    assert!(s.cwmp.is_trusted_proxy("2001:db8::1".parse().unwrap()));
    assert!(!s.cwmp.is_trusted_proxy("2001:db9::1".parse().unwrap()));
    assert_eq!(
        s.cwmp.public_url.as_deref(),
        Some("https://acs.example.net:7548")
    );
    assert_eq!(s.cpe_auth.effective_mode(), CpeAuthMode::Digest);
    let (user, pw) = s.cpe_auth.shared_credentials().unwrap();
    assert_eq!((user, pw.expose()), ("cpe", "secret"));
    assert_eq!(
        s.cpe_auth.digest_algorithms,
        [DigestAlgorithm::Sha256, DigestAlgorithm::Md5]
    );
    assert_eq!(s.cpe_auth.limiter.max_failures, 20);
    assert_eq!(s.cpe_auth.limiter.window_secs, 300);
    assert_eq!(s.log.format, LogFormat::Json);
    assert_eq!(s.log.filter, "debug,sqlx=warn");
    assert!(s.warnings().is_empty(), "{:?}", s.warnings());
}

#[test]
fn default_file_is_read_when_present() {
    let dir = empty_dir();
    let path = dir.path().join(DEFAULT_CONFIG_FILE);
    std::fs::write(&path, "[nbi]\nlisten = \"127.0.0.1:9000\"\n").unwrap();
    let s = Settings::load_from(LoadOptions::default(), &path, HashMap::new()).unwrap();
    assert_eq!(s.nbi.listen, "127.0.0.1:9000".parse().unwrap());
}

#[test]
fn env_overrides_file() {
    let s = load_ok(
        Some("[cwmp]\nlisten = \"0.0.0.0:1000\"\nsession_timeout_secs = 5\n"),
        &[
            ("ACS_CWMP__LISTEN", "0.0.0.0:8080"),
            ("ACS_DATA_DIR", "/srv/acs"),
            ("ACS_DATABASE__URL", "postgres://acs:pw@db/acs"),
            ("ACS_DATABASE__MAX_CONNECTIONS", "4"),
            ("ACS_CPE_AUTH__USERNAME", "cpe"),
            // Stays a string: not the number 123.
            ("ACS_CPE_AUTH__PASSWORD", "0123"),
            ("ACS_CPE_AUTH__ALLOW_INSECURE_BASIC", "true"),
            ("ACS_CPE_AUTH__DIGEST_ALGORITHMS", "MD5, SHA-256"),
            ("ACS_CPE_AUTH__LIMITER__BLOCK_SECS", "60"),
            ("ACS_CWMP__TRUSTED_PROXIES", "10.0.0.0/8,192.0.2.7"),
            ("acs_log__format", "json"),
            // Empty counts as unset.
            ("ACS_NBI__LISTEN", ""),
            // Not settings.
            ("ACS_CONFIG", "/etc/acs.toml"),
            ("PATH", "/bin"),
        ],
    );
    assert_eq!(s.cwmp.listen, "0.0.0.0:8080".parse().unwrap());
    assert_eq!(s.cwmp.session_timeout_secs, 5);
    assert_eq!(s.data_dir, Path::new("/srv/acs"));
    assert_eq!(s.database_url(), "postgres://acs:pw@db/acs");
    assert_eq!(s.database.max_connections, 4);
    assert_eq!(s.cpe_auth.password.as_ref().unwrap().expose(), "0123");
    assert!(s.cpe_auth.allow_insecure_basic);
    assert_eq!(
        s.cpe_auth.digest_algorithms,
        [DigestAlgorithm::Md5, DigestAlgorithm::Sha256]
    );
    assert_eq!(s.cpe_auth.limiter.block_secs, 60);
    assert_eq!(s.cwmp.trusted_proxies.len(), 2);
    assert_eq!(s.log.format, LogFormat::Json);
    assert_eq!(s.nbi.listen, "127.0.0.1:7557".parse().unwrap());
    assert!(s.warnings().is_empty(), "{:?}", s.warnings());
}

#[test]
fn mistyped_env_vars_are_reported() {
    let s = load_ok(None, &[("ACS_CWMP_LISTEN", "0.0.0.0:1")]);
    assert_eq!(s.cwmp.listen, "0.0.0.0:7547".parse().unwrap());
    assert!(
        s.warnings()
            .iter()
            .any(|w| w.contains("ACS_CWMP_LISTEN") && w.contains("ACS_CWMP__LISTEN")),
        "{:?}",
        s.warnings()
    );
    let e = load_err(None, &[("ACS_CWMP__LISTN", "0.0.0.0:1")]);
    assert!(e.contains("listn"), "{e}");
}

#[test]
fn flags_win() {
    let s = load(
        Some("data_dir = \"/from/file\"\n[cwmp]\nlisten = \"0.0.0.0:1000\"\n"),
        &[
            ("ACS_CWMP__LISTEN", "0.0.0.0:2000"),
            ("ACS_NBI__LISTEN", "127.0.0.1:2001"),
        ],
        Overrides {
            data_dir: Some("/from/flag".into()),
            cwmp_listen: Some("0.0.0.0:3000".parse().unwrap()),
            nbi_listen: Some("127.0.0.1:3001".parse().unwrap()),
        },
    )
    .unwrap();
    assert_eq!(s.data_dir, Path::new("/from/flag"));
    assert_eq!(s.database_url(), "sqlite:///from/flag/acs.db?mode=rwc");
    assert_eq!(s.cwmp.listen, "0.0.0.0:3000".parse().unwrap());
    assert_eq!(s.nbi.listen, "127.0.0.1:3001".parse().unwrap());
}

#[test]
fn secrets_never_print() {
    let s = load_ok(
        Some(
            r#"
                [database]
                url = "postgres://acs:db-hunter2@db:5432/acs"
                [cpe_auth]
                username = "cpe"
                password = "cpe-hunter2"
                [cpe_auth.devices."00D09E-IGD-0001"]
                username = "dev1"
                password = "dev-hunter2"
                [[provision.rules]]
                name = "sip"
                parameters = [{ name = "Device.Services.VoiceService.1.X.Password", value = "sip-hunter2" }]
                "#,
        ),
        &[],
    );
    let toml = s.redacted_toml();
    let debug = format!("{s:?}");
    let pretty = format!("{s:#?}");
    for text in [&toml, &debug, &pretty] {
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("[redacted]"), "{text}");
    }
    // The printed configuration is valid TOML with the resolved values.
    let parsed: toml::Table = toml.parse().unwrap();
    assert_eq!(parsed["database"]["url"].as_str(), Some("[redacted]"));
    assert_eq!(parsed["cpe_auth"]["mode"].as_str(), Some("digest"));
    assert_eq!(parsed["cpe_auth"]["password"].as_str(), Some("[redacted]"));
    assert_eq!(
        parsed["cpe_auth"]["devices"]["00D09E-IGD-0001"]["password"].as_str(),
        Some("[redacted]")
    );
    assert_eq!(parsed["cwmp"]["listen"].as_str(), Some("0.0.0.0:7547"));
    assert_eq!(
        parsed["provision"]["rules"][0]["parameters"][0]["value"].as_str(),
        Some("[redacted]")
    );
    // In the order of the reference, not alphabetical.
    let pos = |needle: &str| toml.find(needle).unwrap();
    assert!(pos("data_dir") < pos("[database]"));
    assert!(pos("[database]") < pos("[cwmp]"));
    assert!(pos("[cwmp]") < pos("[cpe_auth]"));
    // Unset options are left out rather than shown as empty.
    assert!(parsed["cwmp"].get("tls").is_none());

    // The default SQLite URL holds nothing secret and is shown resolved.
    let parsed: toml::Table = Settings::default().redacted_toml().parse().unwrap();
    assert_eq!(
        parsed["database"]["url"].as_str(),
        Some("sqlite://./acs-data/acs.db?mode=rwc")
    );
    assert_eq!(parsed["cpe_auth"]["mode"].as_str(), Some("none"));
}

#[test]
fn missing_config_file_is_named() {
    let dir = empty_dir();
    let path = dir.path().join("nope.toml");
    let e = Settings::load_from(
        LoadOptions {
            config_file: Some(path.clone()),
            ..LoadOptions::default()
        },
        Path::new("/nonexistent/acs.toml"),
        HashMap::new(),
    )
    .unwrap_err();
    assert!(matches!(e, SettingsError::FileNotFound(ref p) if *p == path));
    assert!(e.to_string().contains("nope.toml"), "{e}");
}

#[test]
fn malformed_values_name_the_key() {
    /// (file, environment, what the message must contain)
    type Case<'a> = (Option<&'a str>, &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        (
            Some("[database]\nmax_connections = \"many\"\n"),
            &[],
            "database.max_connections",
        ),
        (Some("[cwmp]\nlisten = \"localhost\"\n"), &[], "cwmp.listen"),
        (None, &[("ACS_NBI__LISTEN", "7557")], "nbi.listen"),
        (None, &[("ACS_CPE_AUTH__MODE", "kerberos")], "cpe_auth.mode"),
        (
            None,
            &[("ACS_CPE_AUTH__DIGEST_ALGORITHMS", "MD5,SHA-1")],
            "cpe_auth.digest_algorithms",
        ),
        (
            Some("[cwmp]\ntrusted_proxies = [\"10.0.0.0/33\"]\n"),
            &[],
            "cwmp.trusted_proxies",
        ),
        (Some("[cwmp]\nlisen = \"x\"\n"), &[], "lisen"),
        (Some("[cwmp\n"), &[], "given.toml"),
    ];
    for (file, env, key) in cases {
        let e = load_err(*file, env);
        assert!(e.contains(key), "{file:?} {env:?}: {e}");
    }
}

#[test]
fn validation_errors() {
    let dir = empty_dir();
    let cert = dir.path().join("cert.pem");
    std::fs::write(&cert, "").unwrap();
    let cert = cert.display().to_string();

    let cases: &[(&str, &str)] = &[
        ("[cwmp]\nkeep_alive_secs = 29\n", "cwmp.keep_alive_secs"),
        (
            "[cpe_auth]\nmode = \"basic\"\nusername = \"u\"\npassword = \"p\"\n",
            "TLS",
        ),
        (
            "[cpe_auth]\ndigest_algorithms = []\n",
            "cpe_auth.digest_algorithms",
        ),
        ("[cpe_auth]\nusername = \"u\"\n", "cpe_auth.password"),
        ("[cpe_auth]\nrealm = 'a\"b'\n", "cpe_auth.realm"),
        (
            "[cwmp.tls]\ncert = \"/nonexistent/cert.pem\"\nkey = \"/nonexistent/key.pem\"\n",
            "/nonexistent/key.pem",
        ),
        (
            "[nbi.tls]\ncert = \"/nonexistent/nbi.pem\"\nkey = \"/nonexistent/nbi.key\"\n",
            "nbi.tls.cert",
        ),
        ("[database]\nurl = \"mysql://u:topsecret@h/db\"\n", "mysql"),
        ("[database]\nurl = \"topsecret\"\n", "database.url"),
        ("[database]\nurl = \"topsecret:x@db/acs\"\n", "not a URL"),
        ("[nbi]\nlisten = \"0.0.0.0:7547\"\n", "nbi.listen"),
        (
            "[database]\nmax_connections = 0\n",
            "database.max_connections",
        ),
        (
            "[cwmp]\npublic_url = \"acs.example.net\"\n",
            "cwmp.public_url",
        ),
        (
            "[files]\nbase_url = \"acs.example.net\"\n",
            "files.base_url",
        ),
        (
            "[files]\nbase_url = \"http://acs.example.net/files\"\n",
            "files.base_url",
        ),
        (
            "[[provision.rules]]\nname = \"a\"\nfirmware = \"/nonexistent/x.loads\"\n",
            "provision.rules[0].firmware: file /nonexistent/x.loads does not exist",
        ),
        (
            "[[provision.rules]]\nname = \"a\"\nconnection_request_credentials = true\n\
                 [[provision.rules]]\nname = \"a\"\nconnection_request_credentials = true\n",
            "provision.rules[1]: a second rule named `a`",
        ),
        (
            "[[provision.rules]]\nname = \"a\"\nfilter = \"serial =\"\n\
                 connection_request_credentials = true\n",
            "provision.rules[0]: rule `a`: filter at column",
        ),
        (
            "[[provision.rules]]\nname = \"a\"\nevents = [\"SOMETIMES\"]\n",
            "unknown event",
        ),
        ("[provision]\nloop_limit = 0\n", "provision.loop_limit"),
        (
            "[provision]\nbackoff_secs = 99999999999999\n",
            "provision.backoff_secs: 99999999999999 is more than the maximum",
        ),
    ];
    for (file, needle) in cases {
        let e = load_err(Some(file), &[]);
        assert!(e.contains(needle), "{file}: {e}");
        assert!(!e.contains("topsecret"), "{file}: {e}");
    }

    // All problems are reported at once.
    let e = load_err(
        Some("[cwmp]\nkeep_alive_secs = 1\n[cpe_auth]\ndigest_algorithms = []\n"),
        &[],
    );
    assert!(
        e.contains("keep_alive_secs") && e.contains("digest_algorithms"),
        "{e}"
    );

    // Basic without TLS is fine when explicitly allowed, with a warning; with TLS it is fine.
    let s = load_ok(
        Some(
            "[cpe_auth]\nmode = \"basic\"\nallow_insecure_basic = true\nusername = \"u\"\n\
                 password = \"p\"\n",
        ),
        &[],
    );
    assert!(s.warnings().iter().any(|w| w.contains("plain HTTP")));
    let s = load_ok(
        Some(&format!(
            "[cwmp.tls]\ncert = {cert:?}\nkey = {cert:?}\n[cpe_auth]\nmode = \"basic\"\n\
                 username = \"u\"\npassword = \"p\"\n"
        )),
        &[],
    );
    assert_eq!(s.cpe_auth.effective_mode(), CpeAuthMode::Basic);
    assert!(s.warnings().iter().any(|w| w.contains("only over TLS")));
}

#[test]
fn per_device_credentials() {
    let s = load_ok(
        Some(
            r#"
                [cpe_auth.devices."00D09E-IGD-0001"]
                username = "dev1"
                password = "pw1"
                [cpe_auth.devices."00259E-HG8245-48575443"]
                username = "dev2"
                password = "pw2"
                "#,
        ),
        &[
            ("ACS_CPE_AUTH__DEVICES__LAB-CPE__USERNAME", "lab"),
            ("ACS_CPE_AUTH__DEVICES__LAB-CPE__PASSWORD", "pw3"),
        ],
    );
    assert_eq!(s.cpe_auth.effective_mode(), CpeAuthMode::Digest);
    assert!(s.cpe_auth.shared_credentials().is_none());
    let d = s.cpe_auth.device_credentials("00D09E-IGD-0001").unwrap();
    assert_eq!((d.username.as_str(), d.password.expose()), ("dev1", "pw1"));
    let d = s
        .cpe_auth
        .device_credentials("00259E-HG8245-48575443")
        .unwrap();
    assert_eq!((d.username.as_str(), d.password.expose()), ("dev2", "pw2"));
    // Environment names are lower-cased.
    let d = s.cpe_auth.device_credentials("lab-cpe").unwrap();
    assert_eq!((d.username.as_str(), d.password.expose()), ("lab", "pw3"));
    assert!(s.cpe_auth.device_credentials("other").is_none());

    let e = load_err(Some("[cpe_auth.devices.x]\nusername = \"u\"\n"), &[]);
    assert!(e.contains("password"), "{e}");
}

#[test]
fn device_credential_rotation_needs_the_shared_pair() {
    assert!(!Settings::default().cpe_auth.provision_device_credentials);
    let s = load_ok(
        Some(
            "[cpe_auth]\nusername = \"phones\"\npassword = \"pw\"\n\
                 provision_device_credentials = true\n",
        ),
        &[],
    );
    assert!(s.cpe_auth.provision_device_credentials);
    // Without the shared pair no device could bootstrap into the rotation.
    let e = load_err(
        Some(
            "[cpe_auth.devices.x]\nusername = \"u\"\npassword = \"p\"\n\
                 [cpe_auth]\nprovision_device_credentials = true\n",
        ),
        &[],
    );
    assert!(e.contains("cpe_auth.provision_device_credentials"), "{e}");
}

#[test]
fn example_file_matches_the_defaults() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../acs.example.toml");
    let s = Settings::load_from(
        LoadOptions {
            config_file: Some(path),
            ..LoadOptions::default()
        },
        Path::new("/nonexistent/acs.toml"),
        HashMap::new(),
    )
    .unwrap();
    assert_eq!(format!("{s:?}"), format!("{:?}", Settings::default()));
}

#[test]
fn ip_networks() {
    let cases: &[(&str, Option<&str>)] = &[
        ("10.0.0.0/8", Some("10.0.0.0/8")),
        ("192.0.2.7", Some("192.0.2.7")),
        ("192.0.2.7/32", Some("192.0.2.7")),
        ("0.0.0.0/0", Some("0.0.0.0/0")),
        ("2001:db8::/32", Some("2001:db8::/32")),
        ("::1", Some("::1")),
        ("10.0.0.0/33", None),
        ("10.0.0.0/", None),
        ("10.0.0.0/+8", None),
        ("example.net", None),
        ("", None),
    ];
    for &(input, want) in cases {
        let got = input.parse::<IpNetwork>().ok().map(|n| n.to_string());
        assert_eq!(got.as_deref(), want, "{input}");
    }
    let all: IpNetwork = "0.0.0.0/0".parse().unwrap();
    assert!(all.contains("203.0.113.9".parse().unwrap()));
    assert!(!all.contains("2001:db8::1".parse().unwrap()));
    let net: IpNetwork = "10.1.2.3/16".parse().unwrap();
    assert!(net.contains("10.1.200.1".parse().unwrap()));
    assert!(!net.contains("10.2.0.1".parse().unwrap()));
}
