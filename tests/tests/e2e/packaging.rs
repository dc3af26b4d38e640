//! What the packages promise, read from the files that make them: the container image, the
//! systemd unit and the Debian package's configuration. `.ci/run` also builds the Debian
//! package and checks the unit with `systemd-analyze verify`.

use std::path::{Path, PathBuf};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// `KEY=value` lines of a systemd unit, in order.
fn directives(unit: &str) -> Vec<(String, String)> {
    unit.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

#[test]
fn the_image_tells_every_command_where_the_data_is() {
    let dockerfile = read("Dockerfile");
    assert!(
        dockerfile.contains("ACS_DATA_DIR=/var/lib/acs"),
        "the image sets ACS_DATA_DIR"
    );
    assert!(dockerfile.contains(r#"VOLUME ["/var/lib/acs"]"#));
    // `serve` gets the directory from the environment like every other command, so a
    // `docker exec … acs devices` reads the same admin token the server wrote.
    assert!(dockerfile.contains(r#"CMD ["serve"]"#));
    assert!(!dockerfile.contains("--data-dir"));
}

#[test]
fn the_service_is_confined_to_its_own_state() {
    let unit = directives(&read("acs-cli/debian/acs.service"));
    let has = |key: &str, value: &str| {
        assert!(
            unit.iter().any(|(k, v)| k == key && v == value),
            "acs.service lacks {key}={value}"
        );
    };
    has("ExecStart", "/usr/bin/acs serve --config /etc/acs/acs.toml");
    has("Environment", "ACS_DATA_DIR=/var/lib/acs");
    has("DynamicUser", "yes");
    has("StateDirectory", "acs");
    has("ProtectSystem", "strict");
    has("ProtectHome", "yes");
    has("NoNewPrivileges", "yes");
    has("CapabilityBoundingSet", "");
    has("WantedBy", "multi-user.target");
}

#[test]
fn the_packaged_configuration_loads_and_keeps_the_api_on_loopback() {
    let path = repo("acs-cli/debian/acs.toml");
    let settings = acs_core::config::Settings::load(acs_core::config::LoadOptions {
        config_file: Some(path),
        ..Default::default()
    })
    .expect("the packaged acs.toml loads");
    assert!(settings.nbi.listen.ip().is_loopback());
    assert_eq!(settings.cwmp.listen.port(), 7547);
}

#[test]
fn the_package_ships_files_that_exist() {
    let manifest = read("acs-cli/Cargo.toml");
    let deb = manifest
        .split_once("[package.metadata.deb]")
        .expect("acs-cli/Cargo.toml has [package.metadata.deb]")
        .1;
    // Each asset is one `["source", "destination", "mode"],` line.
    let sources: Vec<&str> = deb
        .lines()
        .filter_map(|l| l.trim().strip_prefix("[\""))
        .filter_map(|l| l.split_once('"').map(|(source, _)| source))
        .collect();
    assert!(sources.contains(&"target/release/acs"), "{sources:?}");
    for source in sources.iter().filter(|s| !s.starts_with("target/")) {
        assert!(
            repo("acs-cli").join(source).is_file(),
            "the package ships {source}, which does not exist"
        );
    }
    assert!(deb.contains("unit-scripts = \"debian/\""));
    assert!(repo("acs-cli/debian/acs.service").is_file());
}
