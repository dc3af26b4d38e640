//! `acs dhcp option43` through the real binary: output, exit codes.

use std::process::{Command, Output};

fn acs(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_acs"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const URL: &str = "http://acs.example.com:7547/";
const URL_HEX: &str =
    "01:1c:68:74:74:70:3a:2f:2f:61:63:73:2e:65:78:61:6d:70:6c:65:2e:63:6f:6d:3a:37:35:34:37:2f";

#[test]
fn hex_is_the_only_output_by_default() {
    let o = acs(&["dhcp", "option43", "--url", URL]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), format!("{URL_HEX}\n"));
    assert!(o.stderr.is_empty(), "{}", stderr(&o));

    let o = acs(&[
        "dhcp",
        "option43",
        "--url",
        URL,
        "--provisioning-code",
        "cisco-mpp",
        "--format",
        "hex",
        "--separator",
        "",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        format!("{}0209636973636f2d6d7070\n", URL_HEX.replace(':', ""))
    );
}

#[test]
fn option_125_and_dhcpv6_17() {
    let o = acs(&["dhcp", "option43", "--url", URL, "--option", "125"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Enterprise 3561, 30 bytes of data, sub-option 11.
    assert_eq!(
        stdout(&o),
        format!("00:00:0d:e9:1e:0b:1c:{}\n", &URL_HEX[6..])
    );
    let o = acs(&["dhcp", "option43", "--url", URL, "--option", "v6-17"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        format!("00:00:0d:e9:00:0b:00:1c:{}\n", &URL_HEX[6..])
    );
}

#[test]
fn snippets() {
    let o = acs(&[
        "dhcp",
        "option43",
        "--url",
        URL,
        "--provisioning-code",
        "cisco-mpp",
        "--format",
        "isc",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = stdout(&o);
    assert!(
        s.contains("option cwmp.acs-url \"http://acs.example.com:7547/\";"),
        "{s}"
    );
    assert!(
        s.contains("vendor-class-identifier ~= \"dslforum.org\""),
        "{s}"
    );

    // Option 125: dhcpd builds it from its `vendor` option space (there is no `vivso` space;
    // scripts/check-dhcp-snippets.sh loads every snippet with dhcpd -t, kea -t, dnsmasq --test).
    let o = acs(&[
        "dhcp", "option43", "--url", URL, "--option", "125", "--format", "isc",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = stdout(&o);
    assert!(
        s.contains("option vendor.cwmp-vi code 3561 = encapsulate cwmp-vi;"),
        "{s}"
    );
    assert!(
        s.contains("option cwmp-vi.acs-url \"http://acs.example.com:7547/\";"),
        "{s}"
    );

    let o = acs(&["dhcp", "option43", "--url", URL, "--format", "kea"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v["Dhcp4"]["client-classes"][0]["option-data"][1]["data"],
        URL
    );

    let o = acs(&[
        "dhcp", "option43", "--url", URL, "--option", "v6-17", "--format", "kea",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["Dhcp6"]["option-def"][0]["space"], "vendor-3561");

    let o = acs(&["dhcp", "option43", "--url", URL, "--format", "dnsmasq"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("dhcp-option=vendor:dslforum.org,1,\"http://acs.example.com:7547/\""),
        "{}",
        stdout(&o)
    );

    let o = acs(&["dhcp", "option43", "--url", URL, "--format", "all"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let s = stdout(&o);
    for want in [
        URL_HEX,
        "class \"tr069-cpe\"",
        "dhcp-option=vendor:",
        "\"Dhcp4\"",
    ] {
        assert!(s.contains(want), "{want}\n{s}");
    }
}

#[test]
fn bad_values_exit_2_with_a_message() {
    let long = format!("http://h/{}", "a".repeat(256 - 9));
    let cases: [(&[&str], &str); 5] = [
        (
            &["--url", "ftp://acs.example.com/"],
            "scheme must be http or https",
        ),
        (&["--url", "acs.example.com"], "invalid ACS URL"),
        (&["--url", &long], "the ACS URL is 256 bytes"),
        (
            &["--url", URL, "--provisioning-code", &"p".repeat(256)],
            "the provisioning code is 256 bytes",
        ),
        (
            &["--url", URL, "--retry-multiplier", "10"],
            "between 1000 and 65535",
        ),
    ];
    for (extra, want) in cases {
        let mut args = vec!["dhcp", "option43"];
        args.extend_from_slice(extra);
        let o = acs(&args);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", stderr(&o));
        assert!(o.stdout.is_empty(), "{extra:?}");
        assert!(stderr(&o).contains(want), "{extra:?}: {}", stderr(&o));
    }
    // 255 bytes is fine.
    let ok = format!("http://h/{}", "a".repeat(255 - 9));
    let o = acs(&["dhcp", "option43", "--url", &ok]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("01:ff:68:74"));
    // Unknown options and missing --url are usage errors too.
    assert_eq!(
        acs(&["dhcp", "option43", "--url", URL, "--option", "44"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(acs(&["dhcp", "option43"]).status.code(), Some(2));
}

#[test]
fn warnings_go_to_stderr() {
    let o = acs(&[
        "dhcp",
        "option43",
        "--url",
        URL,
        "--provisioning-code",
        &"p".repeat(100),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains("warning: the provisioning code is 100 bytes"));
    assert_eq!(stdout(&o).lines().count(), 1);
}
