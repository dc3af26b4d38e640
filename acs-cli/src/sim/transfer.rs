//! File transfers the ACS asked for: Download (HTTP GET) and Upload (HTTP PUT), reported as a
//! TransferComplete.

use acs_core::auth::client::digest_authorization;
use acs_core::cwmp::{CwmpDateTime, Download, FaultCode, TransferComplete, TransferFault, Upload};
use base64::Engine as _;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};

use super::Shared;
use super::device::DeviceSlot;
use super::rpc::Action;
use super::session::error_chain;

/// The Download FileType of a firmware image.
pub(crate) const FIRMWARE_FILE_TYPE: &str = "1 Firmware Upgrade Image";

/// The version a firmware file installs: for a file named `<name>.<version>.loads` (Cisco
/// `sip88xx.12-0-3MPP-5.loads`), `<name>.<version>`. The name is TargetFileName when given,
/// else the last segment of the URL's path.
pub(crate) fn firmware_version(d: &Download) -> Option<String> {
    let from_url = || {
        reqwest::Url::parse(&d.url)
            .ok()
            .and_then(|u| u.path_segments()?.next_back().map(str::to_owned))
    };
    let name = if d.target_file_name.is_empty() {
        from_url()?
    } else {
        d.target_file_name
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    let stem = name.strip_suffix(".loads")?;
    let (prefix, version) = stem.split_once('.')?;
    (!prefix.is_empty() && !version.is_empty()).then(|| stem.to_owned())
}

type Failure = (FaultCode, String);

/// Carries out a Download or Upload and reports it.
pub(crate) async fn perform(
    shared: &Shared,
    slot: &DeviceSlot,
    action: &Action,
) -> TransferComplete {
    let start = chrono::Utc::now();
    let client = &shared.transfer_client;
    let (command_key, result) = match action {
        Action::Download(d) => (d.command_key.clone(), download(client, d).await),
        Action::Upload(u) => {
            let content = {
                let st = slot.lock();
                upload_content(&u.file_type, &st.model, &shared.config.profile.root)
            };
            (u.command_key.clone(), upload(client, u, content).await)
        }
        _ => (String::new(), Ok(())),
    };
    let fault_struct = match result {
        Ok(()) => TransferFault::success(),
        Err((code, message)) => {
            tracing::info!(serial = %slot.serial, "transfer {command_key:?} failed: {code}: {message}");
            TransferFault {
                fault_code: code,
                fault_string: format!("{}: {message}", code.meaning()),
            }
        }
    };
    TransferComplete {
        command_key,
        fault_struct,
        start_time: CwmpDateTime::from_utc(start),
        complete_time: CwmpDateTime::from_utc(chrono::Utc::now()),
    }
}

async fn download(client: &reqwest::Client, d: &Download) -> Result<(), Failure> {
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
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => size += chunk.len() as u64,
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
    Ok(())
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
