//! File transfers the ACS asked for: Download (HTTP GET) and Upload (HTTP PUT), reported as a
//! TransferComplete.
//!
//! What a successful Download installs depends on the profile (`supports` in
//! `schemas/profiles/README.md`):
//! - `1 Firmware Upgrade Image`: with `firmware_image_families` (Cisco MPP: `["sip88xx"]`) the
//!   file must be named `<family>.<version>.loads` (TargetFileName when given, else the last
//!   segment of the URL's path) and the phone then reports SoftwareVersion `<family>.<version>`;
//!   any other name fails with 9018 (file corrupted: the phone cannot use it as an image; 9019
//!   is for signature failures, which are not simulated). Without the list, a
//!   `<name>.<version>.loads` name sets the version and other names install without changing
//!   it. Either way a successful image reboots the device.
//! - `3 Vendor Configuration File`: with `vendor_config_format: "cisco-flat-profile"` the file
//!   is parsed as an MPP flat profile ([`super::flat_profile`]) and applied; a malformed file
//!   fails with 9018 and changes nothing; one over 1 MiB fails with 9010.
//! - Anything else is fetched and discarded.
//!
//! HTTP failures: 401/403 → 9012, 404 → 9016, other statuses → 9010, no connection → 9015, a
//! transfer cut short → 9017.

use acs_core::auth::client::digest_authorization;
use acs_core::cwmp::{CwmpDateTime, Download, FaultCode, TransferComplete, TransferFault, Upload};
use base64::Engine as _;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};

use super::Shared;
use super::device::DeviceSlot;
use super::flat_profile::{self, FlatProfile};
use super::profile::Profile;
use super::rpc::Action;
use super::session::error_chain;

/// The Download FileType of a firmware image.
pub(crate) const FIRMWARE_FILE_TYPE: &str = "1 Firmware Upgrade Image";

/// The Download FileType of a configuration file.
pub(crate) const CONFIG_FILE_TYPE: &str = "3 Vendor Configuration File";

/// The `supports.vendor_config_format` that makes configuration files Cisco flat profiles.
pub(crate) const CISCO_FLAT_PROFILE: &str = "cisco-flat-profile";

/// The file name of a download: TargetFileName's last segment when given, else the last
/// segment of the URL's path.
fn file_name(d: &Download) -> Option<String> {
    if d.target_file_name.is_empty() {
        reqwest::Url::parse(&d.url)
            .ok()
            .and_then(|u| u.path_segments()?.next_back().map(str::to_owned))
    } else {
        d.target_file_name
            .rsplit(['/', '\\'])
            .next()
            .map(str::to_owned)
    }
}

/// The version a firmware file installs: for a file named `<name>.<version>.loads` (Cisco
/// `sip88xx.12-0-3MPP-5.loads`), `<name>.<version>`. The name is TargetFileName when given,
/// else the last segment of the URL's path.
pub(crate) fn firmware_version(d: &Download) -> Option<String> {
    let name = file_name(d)?;
    let stem = name.strip_suffix(".loads")?;
    let (prefix, version) = stem.split_once('.')?;
    (!prefix.is_empty() && !version.is_empty()).then(|| stem.to_owned())
}

/// What installing this image does for a device that takes `families` (see the module
/// documentation): `Ok(Some(version))`, `Ok(None)` (installs, version unchanged) or `Err` (not
/// an image for this device).
pub(crate) fn firmware_image(d: &Download, families: &[String]) -> Result<Option<String>, String> {
    if families.is_empty() {
        return Ok(firmware_version(d));
    }
    let expected = || {
        families
            .iter()
            .map(|f| format!("{f}.<version>.loads"))
            .collect::<Vec<_>>()
            .join(" or ")
    };
    let name = file_name(d)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| format!("the download has no file name; expected {}", expected()))?;
    let version = firmware_version(d).filter(|v| {
        let (family, rest) = v.split_once('.').unwrap_or_default();
        families.iter().any(|f| f == family)
            && rest.starts_with(|c: char| c.is_ascii_alphanumeric())
            && rest
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    });
    version.map(Some).ok_or_else(|| {
        format!(
            "{name:?} is not a firmware image for this device; expected {}",
            expected()
        )
    })
}

/// What a finished transfer leaves to install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Installed {
    /// Nothing (an upload, a file the device only stores, or a failure).
    Nothing,
    /// A firmware image: the device reboots, with this SoftwareVersion when known.
    Firmware(Option<String>),
    /// A parsed flat-profile configuration to apply.
    Config(FlatProfile),
}

type Failure = (FaultCode, String);

/// Carries out a Download or Upload and reports it, with what is left to install (nothing
/// unless the transfer succeeded).
pub(crate) async fn perform(
    shared: &Shared,
    slot: &DeviceSlot,
    action: &Action,
) -> (TransferComplete, Installed) {
    let start = chrono::Utc::now();
    let client = &shared.transfer_client;
    let (command_key, result) = match action {
        Action::Download(d) => (
            d.command_key.clone(),
            download(client, d, &shared.config.profile).await,
        ),
        Action::Upload(u) => {
            let content = {
                let st = slot.lock();
                upload_content(&u.file_type, &st.model, &shared.config.profile.root)
            };
            (
                u.command_key.clone(),
                upload(client, u, content)
                    .await
                    .map(|()| Installed::Nothing),
            )
        }
        _ => (String::new(), Ok(Installed::Nothing)),
    };
    let (fault_struct, installed) = match result {
        Ok(installed) => (TransferFault::success(), installed),
        Err((code, message)) => {
            tracing::info!(serial = %slot.serial, "transfer {command_key:?} failed: {code}: {message}");
            let fault = TransferFault {
                fault_code: code,
                fault_string: format!("{}: {message}", code.meaning()),
            };
            (fault, Installed::Nothing)
        }
    };
    let complete = TransferComplete {
        command_key,
        fault_struct,
        start_time: CwmpDateTime::from_utc(start),
        complete_time: CwmpDateTime::from_utc(chrono::Utc::now()),
    };
    (complete, installed)
}

async fn download(
    client: &reqwest::Client,
    d: &Download,
    profile: &Profile,
) -> Result<Installed, Failure> {
    // Configuration files are kept (capped) to be parsed; anything else is only counted.
    let keep = d.file_type == CONFIG_FILE_TYPE
        && profile.supports.vendor_config_format.as_deref() == Some(CISCO_FLAT_PROFILE);
    let mut resp = send(
        client,
        Method::GET,
        &d.url,
        &d.username,
        d.password.expose(),
        None,
    )
    .await?;
    let status = resp.status();
    if !status.is_success() {
        return Err((
            match status {
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    FaultCode::FileTransferServerAuthenticationFailure
                }
                StatusCode::NOT_FOUND => FaultCode::FileAccessFailure,
                _ => FaultCode::DownloadFailure,
            },
            format!("GET {} answered {status}", d.url),
        ));
    }
    let mut size: u64 = 0;
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                size += chunk.len() as u64;
                if keep {
                    if body.len() + chunk.len() > flat_profile::MAX_BYTES {
                        return Err((
                            FaultCode::DownloadFailure,
                            format!(
                                "GET {}: the configuration file is larger than {} bytes",
                                d.url,
                                flat_profile::MAX_BYTES
                            ),
                        ));
                    }
                    body.extend_from_slice(&chunk);
                }
            }
            Ok(None) => break,
            Err(e) => {
                return Err((
                    FaultCode::DownloadIncomplete,
                    format!("GET {} after {size} bytes: {}", d.url, error_chain(&e)),
                ));
            }
        }
    }
    if d.file_size > 0 && size != u64::from(d.file_size) {
        tracing::info!(url = %d.url, "downloaded {size} bytes, FileSize said {}", d.file_size);
    }
    if d.file_type == FIRMWARE_FILE_TYPE {
        return firmware_image(d, &profile.supports.firmware_image_families)
            .map(Installed::Firmware)
            .map_err(|m| (FaultCode::FileCorrupted, m));
    }
    if keep {
        return flat_profile::parse(&body)
            .map(Installed::Config)
            .map_err(|e| (FaultCode::FileCorrupted, format!("{}: {e}", d.url)));
    }
    Ok(Installed::Nothing)
}

async fn upload(client: &reqwest::Client, u: &Upload, content: Vec<u8>) -> Result<(), Failure> {
    let resp = send(
        client,
        Method::PUT,
        &u.url,
        &u.username,
        u.password.expose(),
        Some(content),
    )
    .await?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    Err((
        match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                FaultCode::FileTransferServerAuthenticationFailure
            }
            _ => FaultCode::UploadFailure,
        },
        format!("PUT {} answered {status}", u.url),
    ))
}

/// Sends the request, answering up to two 401 challenges (Digest or Basic) when credentials
/// were given. Connection failures are 9015.
async fn send(
    client: &reqwest::Client,
    method: Method,
    url: &str,
    username: &str,
    password: &str,
    body: Option<Vec<u8>>,
) -> Result<reqwest::Response, Failure> {
    let parsed = reqwest::Url::parse(url).map_err(|e| {
        (
            FaultCode::FileServerUnreachable,
            format!("URL {url:?}: {e}"),
        )
    })?;
    let uri = match parsed.query() {
        Some(q) => format!("{}?{q}", parsed.path()),
        None => parsed.path().to_owned(),
    };
    let mut authorization: Option<String> = None;
    let mut tries = 0;
    loop {
        let mut req = client.request(method.clone(), parsed.clone());
        if let Some(b) = &body {
            req = req
                .header(CONTENT_TYPE, "application/octet-stream")
                .body(b.clone());
        }
        if let Some(a) = &authorization {
            req = req.header(AUTHORIZATION, a);
        }
        let resp = req.send().await.map_err(|e| {
            (
                FaultCode::FileServerUnreachable,
                format!("{method} {url}: {}", error_chain(&e)),
            )
        })?;
        if resp.status() != StatusCode::UNAUTHORIZED || username.is_empty() || tries >= 2 {
            return Ok(resp);
        }
        let challenges: Vec<String> = resp
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        let cnonce = format!("{:016x}", rand::random::<u64>());
        let digest = challenges.iter().find_map(|c| {
            digest_authorization(c, method.as_str(), &uri, username, password, &cnonce, 1).ok()
        });
        authorization = match digest {
            Some(d) => Some(d),
            None if challenges
                .iter()
                .any(|c| c.to_ascii_lowercase().contains("basic")) =>
            {
                let token = base64::engine::general_purpose::STANDARD
                    .encode(format!("{username}:{password}"));
                Some(format!("Basic {token}"))
            }
            None => return Ok(resp),
        };
        tries += 1;
    }
}

/// What an Upload sends: the configuration as `name=value` lines, or a short log.
fn upload_content(file_type: &str, model: &super::model::DataModel, root: &str) -> Vec<u8> {
    let mut out = String::new();
    if file_type.contains("Log") {
        let serial = model.value(&format!("{root}DeviceInfo.SerialNumber"));
        out.push_str(&format!(
            "{} acs-sim device {} log\n",
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ"),
            serial.unwrap_or_default()
        ));
    } else if let Ok(values) = model.get_values(&[root]) {
        for v in values {
            out.push_str(&format!("{}={}\n", v.name, v.value));
        }
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use acs_core::cwmp::Password;

    fn dl(url: &str, target: &str) -> Download {
        Download {
            command_key: String::new(),
            file_type: FIRMWARE_FILE_TYPE.into(),
            url: url.into(),
            username: String::new(),
            password: Password::default(),
            file_size: 0,
            target_file_name: target.into(),
            delay_seconds: 0,
            success_url: String::new(),
            failure_url: String::new(),
        }
    }

    #[test]
    fn images_a_device_takes() {
        let families = vec!["sip88xx".to_owned(), "sip8845_65".to_owned()];
        let ok = |url: &str, target: &str| firmware_image(&dl(url, target), &families);
        assert_eq!(
            ok("http://h/sip88xx.12-0-3MPP-5.loads", ""),
            Ok(Some("sip88xx.12-0-3MPP-5".into()))
        );
        assert_eq!(
            ok("http://h/x", "sip8845_65.14-1-1MPP0001-123.loads"),
            Ok(Some("sip8845_65.14-1-1MPP0001-123".into()))
        );
        for (url, target) in [
            ("http://h/sip78xx.12-0-3.loads", ""),
            ("http://h/sip88xx.12-0-3.zip", ""),
            ("http://h/sip88xx..loads", ""),
            ("http://h/sip88xx.12 0.loads", ""),
            ("http://h/SIP88XX.12-0-3.loads", ""),
            ("http://h/", ""),
        ] {
            let e = ok(url, target).unwrap_err();
            assert!(
                e.contains("sip88xx.<version>.loads or sip8845_65.<version>.loads"),
                "{e}"
            );
        }
        // Without families: the generic rule, never an error.
        assert_eq!(firmware_image(&dl("http://h/fw.bin", ""), &[]), Ok(None));
        assert_eq!(
            firmware_image(&dl("http://h/gw.3.3.0.loads", ""), &[]),
            Ok(Some("gw.3.3.0".into()))
        );
    }

    #[test]
    fn firmware_versions_from_file_names() {
        let cases = [
            (
                "http://h/fw/sip88xx.12-0-3MPP-5.loads",
                "",
                Some("sip88xx.12-0-3MPP-5"),
            ),
            (
                "http://h/fw/sip88xx.12-0-3MPP-5.loads?token=1",
                "",
                Some("sip88xx.12-0-3MPP-5"),
            ),
            (
                "http://h/fw/x",
                "sip78xx.14-1-1.loads",
                Some("sip78xx.14-1-1"),
            ),
            ("http://h/fw/x", "/tmp/sip88xx.1.loads", Some("sip88xx.1")),
            ("http://h/fw/image.bin", "", None),
            ("http://h/fw/.loads", "", None),
            ("http://h/fw/sip88xx.loads", "", None),
            ("http://h/", "", None),
        ];
        for (url, target, want) in cases {
            assert_eq!(
                firmware_version(&dl(url, target)).as_deref(),
                want,
                "{url} {target}"
            );
        }
    }
}
