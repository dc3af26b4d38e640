//! `acs firmware push`: a firmware rollout. One Download (`1 Firmware Upgrade Image`) of a stored
//! file to every target device, at most `--concurrency` transferring at once, stopped when more
//! than `--max-failures` fail; `--wait` follows it live and ends with a per-device report.

use std::path::PathBuf;
use std::time::Duration;

use acs_api::{CreateJob, FailureLimit, TaskDefinition};
use clap::Args;

use crate::cmd::client::{self, AFTER_HELP, Cli as _, Client, ClientArgs, note};
use crate::cmd::output::{self, col};
use crate::cmd::submit::{PushOptions, follow};
use crate::cmd::target::{Target, resolve};
use crate::cmd::upload::upload_file;

/// The FileType of a firmware image (TR-069 A.3.2.8).
pub const FIRMWARE_FILE_TYPE: &str = "1 Firmware Upgrade Image";

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct PushArgs {
    /// The image to upload and push (e.g. sip88xx.12-0-3MPP.loads) …
    #[arg(
        value_name = "FILE",
        required_unless_present = "file",
        conflicts_with = "file"
    )]
    pub path: Option<PathBuf>,
    /// … or a file already stored (`acs files list`).
    #[arg(long = "file", value_name = "ID")]
    pub file: Option<i64>,
    #[command(flatten)]
    pub target: Target,
    /// At most N devices transferring at once [default: no limit].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub concurrency: Option<u32>,
    /// Stop the rollout once more than N devices (or N% of them) failed.
    #[arg(long, value_name = "N|N%")]
    pub max_failures: Option<String>,
    #[command(flatten)]
    pub push: PushOptions,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `N` or `N%`, as the API takes it.
fn max_failures(text: &str) -> anyhow::Result<FailureLimit> {
    text.parse().map_err(|_| {
        client::usage(format!(
            "--max-failures {text:?}: give a count (5) or a percentage (10%)"
        ))
    })
}

/// The FileType a custom CA certificate is pushed with unless `--file-type` says otherwise:
/// the TR-069 vendor form (`X <OUI> <name>`, A.3.2.8) with the device's own OUI. Cisco does not
/// document the MPP value, so this is our choice; set the one your phones expect.
pub const DEFAULT_CA_FILE_TYPE: &str = "X {oui} Custom CA";

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct CaPushArgs {
    /// The Download FileType; `{oui}` becomes each device's OUI when sent.
    #[arg(long, value_name = "TYPE", default_value = DEFAULT_CA_FILE_TYPE)]
    pub file_type: String,
    #[command(flatten)]
    pub push: PushArgs,
}

/// What a rollout pushes.
enum Pushed {
    Firmware,
    Ca(String),
}

/// `acs ca push`: a custom CA certificate, rolled out like firmware.
pub fn push_ca(args: CaPushArgs) -> anyhow::Result<()> {
    if !args.file_type.starts_with("X ") {
        return Err(client::usage(format!(
            "--file-type {:?}: a vendor file type starts with `X ` (X <OUI> <name>)",
            args.file_type
        )));
    }
    rollout(args.push, Pushed::Ca(args.file_type))
}

pub fn push(args: PushArgs) -> anyhow::Result<()> {
    rollout(args, Pushed::Firmware)
}

fn rollout(args: PushArgs, pushed: Pushed) -> anyhow::Result<()> {
    let (what, stored_type, file_type) = match &pushed {
        Pushed::Firmware => ("firmware", "firmware", FIRMWARE_FILE_TYPE.to_owned()),
        Pushed::Ca(t) => ("a CA certificate", "ca", t.clone()),
    };
    let limit = args.max_failures.as_deref().map(max_failures).transpose()?;
    if let (Pushed::Ca(_), Some(path)) = (&pushed, &args.path) {
        // Refused before anything is uploaded or any device is asked (the server checks too).
        let content =
            std::fs::read(path).map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
        acs_core::filekind::check_certificate(&content).map_err(|e| {
            client::usage(format!(
                "{}: not a CA certificate: {e} (give a PEM or DER X.509 certificate)",
                path.display()
            ))
        })?;
    }
    client::run(async move {
        let client = Client::new(&args.client)?;
        let resolved = resolve(&client, &args.target).await?;
        let devices = resolved.count(&client).await?;
        if devices == 0 {
            note("no device matches: nothing to push");
            return Ok(());
        }
        if devices > 1 {
            client::confirm(&format!("push {what} to {devices} devices"), args.push.yes)?;
        }
        let file = match (&args.path, args.file) {
            (Some(path), _) => {
                let version = match pushed {
                    Pushed::Firmware => path
                        .file_name()
                        .and_then(|n| n.to_str())
                        .and_then(acs_core::filekind::firmware_version),
                    Pushed::Ca(_) => None,
                };
                let file =
                    upload_file(&client, path, stored_type, None, version.as_deref(), None).await?;
                note(format!(
                    "uploaded {} as file {} ({} bytes)",
                    file.name, file.id, file.size
                ));
                file
            }
            (None, Some(id)) => {
                let file = client.file(id).await.cli()?;
                // Only `ca` files were checked to be certificates when stored.
                if matches!(pushed, Pushed::Ca(_)) && file.file_type != "ca" {
                    return Err(client::usage(format!(
                        "file {id} ({}) is of type {:?}, not a CA certificate; upload the \
                         certificate with `acs files upload --type ca`",
                        file.name, file.file_type
                    )));
                }
                file
            }
            (None, None) => unreachable!("clap requires FILE or --file"),
        };
        let spec = TaskDefinition::download_of_file(&file_type, file.id, None);
        let mut body = CreateJob::new(&spec, resolved.job_target());
        body.connection_request = !args.push.no_connection_request;
        body.concurrency = args.concurrency;
        body.max_failures = limit;
        body.window = args.push.window.clone();
        let job = client
            .create_job(&body)
            .await
            .cli()
            .map_err(|e| resolved.explain(e))?;
        let id = job.id;
        note(format!(
            "rollout {id}: {} to {} devices{}",
            file.name,
            job.total,
            args.concurrency
                .map(|c| format!(", {c} at a time"))
                .unwrap_or_default()
        ));
        let Some(wait) = args.push.wait else {
            note(format!("follow it with `acs jobs show {id}`"));
            output::show(
                args.client.format(),
                &[col("id"), col("state"), col("total")],
                &job,
            )?;
            return Ok(());
        };
        follow(&client, id, Duration::from_secs(wait), args.client.format()).await
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_limits() {
        assert_eq!(max_failures("5").unwrap(), FailureLimit::Count(5));
        assert_eq!(max_failures("10%").unwrap(), FailureLimit::Percent(10));
        for bad in ["-1", "x", "101%", "%"] {
            assert!(max_failures(bad).is_err(), "{bad}");
        }
    }
}
