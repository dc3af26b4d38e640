//! A command for every CWMP method the ACS sends that has none of its own elsewhere, and the
//! stored tree of one device: `acs params`, `refresh`, `attrs get|set`, `object add|delete`,
//! `upload`, `schedule-inform`, `rpc-methods`.
//!
//! Each takes the same target (`-d DEVICE…` or `-f FILTER`), confirmation (`--yes`), delivery
//! (`--no-connection-request`, `--wait`) and output options as `acs set`: one device gets a
//! task, several a bulk job.

use acs_api::{ParametersQuery, SetAttribute, TaskDefinition, TimeWindow};
use clap::{Args, Subcommand};

use crate::cmd::client::{self, AFTER_HELP, Cli as _, Client, ClientArgs, usage};
use crate::cmd::output::{self, Column, col};
use crate::cmd::tasks::{ActionArgs, send};

/// `acs params DEVICE [PREFIX]`.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct ParamsArgs {
    /// The device: id, serial number or MAC.
    #[arg(value_name = "DEVICE")]
    pub device: String,
    /// Only names under this partial path (`Device.DeviceInfo.`) or this one name.
    #[arg(value_name = "PREFIX")]
    pub prefix: Option<String>,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// What `acs params` shows of each stored parameter.
const PARAMS_COLUMNS: &[Column] = &[
    col("name"),
    col("value"),
    col("xsd_type"),
    col("writable"),
    col("updated_at"),
];

/// `acs params`: the device's stored tree, as the ACS last learnt it.
pub fn params(args: ParamsArgs) -> anyhow::Result<()> {
    client::run(async move {
        let client = Client::new(&args.client)?;
        let id = client.resolve_id(&args.device).await?;
        let q = ParametersQuery {
            prefix: args.prefix.clone(),
        };
        let list = client.device_parameters(&id, &q).await.cli()?;
        let mut out = output::stdout(args.client.format(), PARAMS_COLUMNS, false);
        for p in &list.parameters {
            out.row(&output::pick(p, PARAMS_COLUMNS))?;
        }
        out.finish()?;
        if list.parameters.is_empty() {
            client::note(match &args.prefix {
                Some(p) => format!(
                    "nothing stored under `{p}`; `acs refresh -d {} {p}` reads it from the device",
                    args.device
                ),
                None => "nothing stored yet".to_owned(),
            });
        }
        Ok(())
    })
}

/// `acs refresh`: GetParameterNames then GetParameterValues of a subtree, live.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct RefreshArgs {
    /// Partial path ending in `.` [default: the whole tree, `Device.`].
    #[arg(value_name = "PREFIX", default_value = "Device.")]
    pub prefix: String,
    #[command(flatten)]
    pub action: ActionArgs,
}

pub fn refresh(args: RefreshArgs) -> anyhow::Result<()> {
    let spec = TaskDefinition::Refresh {
        path: args.prefix.clone(),
    };
    send(args.action, spec, &format!("Re-read {} on", args.prefix))
}

#[derive(Debug, Subcommand)]
pub enum AttrsCommand {
    /// GetParameterAttributes: notification and access list of names or partial paths.
    Get(AttrsGetArgs),
    /// SetParameterAttributes: NAME=NOTIFICATION (0 off, 1 passive, 2 active).
    Set(AttrsSetArgs),
}

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct AttrsGetArgs {
    /// Names or partial paths (ending in `.`).
    #[arg(required = true, value_name = "NAME")]
    pub names: Vec<String>,
    #[command(flatten)]
    pub action: ActionArgs,
}

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct AttrsSetArgs {
    /// NAME=NOTIFICATION, e.g. `Device.Services.VoiceService.1.VoiceProfile.1.Line.1.Status=2`.
    #[arg(required = true, value_name = "NAME=NOTIFICATION")]
    pub attributes: Vec<String>,
    #[command(flatten)]
    pub action: ActionArgs,
}

pub fn attrs(command: AttrsCommand) -> anyhow::Result<()> {
    match command {
        AttrsCommand::Get(a) => send(
            a.action,
            TaskDefinition::GetParameterAttributes { names: a.names },
            "Read attributes on",
        ),
        AttrsCommand::Set(a) => {
            let mut attributes = Vec::with_capacity(a.attributes.len());
            for text in &a.attributes {
                attributes.push(parse_attribute(text).map_err(usage)?);
            }
            send(
                a.action,
                TaskDefinition::SetParameterAttributes { attributes },
                "Change notification on",
            )
        }
    }
}

/// `NAME=NOTIFICATION` as a SetParameterAttributes entry (the access list is left alone).
fn parse_attribute(text: &str) -> Result<SetAttribute, String> {
    let (name, level) = text.rsplit_once('=').ok_or_else(|| {
        format!("`{text}`: expected NAME=NOTIFICATION (0 off, 1 passive, 2 active)")
    })?;
    let notification: u8 = level
        .trim()
        .parse()
        .ok()
        .filter(|n| *n <= 6)
        .ok_or_else(|| format!("`{text}`: notification is 0 (off), 1 (passive), 2 (active) … 6"))?;
    if name.is_empty() {
        return Err(format!("`{text}`: no parameter name"));
    }
    Ok(SetAttribute {
        name: name.to_owned(),
        notification_change: true,
        notification,
        access_list_change: false,
        access_list: Vec::new(),
    })
}

#[derive(Debug, Subcommand)]
pub enum ObjectCommand {
    /// AddObject: a new instance of a table (`Device.Services.VoiceService.1.VoiceProfile.1.Line.`).
    Add(ObjectArgs),
    /// DeleteObject: one instance (`….Line.2.`).
    Delete(ObjectArgs),
}

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct ObjectArgs {
    /// The table (add) or instance (delete), ending in `.`.
    #[arg(value_name = "OBJECT")]
    pub object: String,
    #[command(flatten)]
    pub action: ActionArgs,
}

pub fn object(command: ObjectCommand) -> anyhow::Result<()> {
    match command {
        ObjectCommand::Add(a) => {
            let verb = format!("Add an instance of {} on", a.object);
            send(
                a.action,
                TaskDefinition::AddObject { object: a.object },
                &verb,
            )
        }
        ObjectCommand::Delete(a) => {
            let verb = format!("Delete {} (and everything below it) on", a.object);
            send(
                a.action,
                TaskDefinition::DeleteObject { object: a.object },
                &verb,
            )
        }
    }
}

/// `acs upload`: the device sends a file (its configuration or a log) to a URL.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct UploadArgs {
    /// FileType: `1 Vendor Configuration File`, `2 Vendor Log File`, or `X <OUI> <name>`.
    #[arg(
        long = "type",
        value_name = "FILETYPE",
        default_value = "2 Vendor Log File"
    )]
    pub file_type: String,
    /// Where the device puts the file (http, https or ftp).
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// Username for the URL.
    #[arg(long, value_name = "USER", default_value = "")]
    pub username: String,
    /// Password for the URL, read from standard input's first line when given as `-`.
    #[arg(long, value_name = "PASSWORD", default_value = "",
          value_parser = client::secret_arg)]
    pub password: acs_core::secret::Secret,
    /// Seconds the device waits before it starts.
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub delay: u32,
    #[command(flatten)]
    pub action: ActionArgs,
}

pub fn upload(args: UploadArgs) -> anyhow::Result<()> {
    let password = if args.password.expose() == "-" {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| anyhow::anyhow!("reading the password: {e}"))?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        args.password.expose().to_owned()
    };
    let spec = TaskDefinition::Upload {
        file_type: args.file_type.clone(),
        url: args.url.clone(),
        username: args.username.clone(),
        password,
        delay_seconds: args.delay,
    };
    send(
        args.action,
        spec,
        &format!("Upload `{}` from", args.file_type),
    )
}

/// `acs schedule-inform`: the device informs again after a delay.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct ScheduleInformArgs {
    /// Seconds until the Inform (at least 1).
    #[arg(long, value_name = "SECONDS", default_value_t = 60,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub delay: u32,
    #[command(flatten)]
    pub action: ActionArgs,
}

pub fn schedule_inform(args: ScheduleInformArgs) -> anyhow::Result<()> {
    send(
        args.action,
        TaskDefinition::ScheduleInform {
            delay_seconds: args.delay,
        },
        &format!("Schedule an Inform in {} s on", args.delay),
    )
}

/// `acs schedule-download`: a Download the device runs inside a time window.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct ScheduleDownloadArgs {
    /// FileType.
    #[arg(
        long = "type",
        value_name = "FILETYPE",
        default_value = "1 Firmware Upgrade Image"
    )]
    pub file_type: String,
    /// Where the device fetches the file (http, https or ftp).
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// START-END in seconds from now (one or two windows, the second after the first), e.g.
    /// `3600-7200`.
    #[arg(
        long = "time-window",
        value_name = "START-END",
        required = true,
        num_args = 1
    )]
    pub windows: Vec<String>,
    /// How the device uses a window: `1 At Any Time`, `2 Immediately`, `3 When Idle`.
    #[arg(long, value_name = "MODE", default_value = "1 At Any Time")]
    pub mode: String,
    #[command(flatten)]
    pub action: ActionArgs,
}

pub fn schedule_download(args: ScheduleDownloadArgs) -> anyhow::Result<()> {
    let mut time_windows = Vec::with_capacity(args.windows.len());
    for w in &args.windows {
        let (start, end) = w
            .split_once('-')
            .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)))
            .ok_or_else(|| {
                usage(format!(
                    "--time-window {w:?}: expected START-END in seconds"
                ))
            })?;
        time_windows.push(TimeWindow {
            window_start: start,
            window_end: end,
            window_mode: args.mode.clone(),
            user_message: String::new(),
            max_retries: -1,
        });
    }
    let spec = TaskDefinition::ScheduleDownload {
        file_type: args.file_type.clone(),
        url: args.url.clone(),
        username: String::new(),
        password: String::new(),
        file_size: 0,
        target_file_name: String::new(),
        time_windows,
    };
    send(
        args.action,
        spec,
        &format!("Schedule a download of {} on", args.url),
    )
}

/// `acs cancel-transfer COMMANDKEY`.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct CancelTransferArgs {
    /// The transfer's CommandKey (`acs-<task id>` for the ACS's own).
    #[arg(value_name = "COMMANDKEY")]
    pub command_key: String,
    #[command(flatten)]
    pub action: ActionArgs,
}

pub fn cancel_transfer(args: CancelTransferArgs) -> anyhow::Result<()> {
    let verb = format!("Cancel transfer {} on", args.command_key);
    send(
        args.action,
        TaskDefinition::CancelTransfer {
            command_key: args.command_key,
        },
        &verb,
    )
}

/// `acs queued-transfers`: what the devices have queued or running (GetAllQueuedTransfers).
pub fn queued_transfers(args: ActionArgs) -> anyhow::Result<()> {
    send(
        args,
        TaskDefinition::GetQueuedTransfers {},
        "Ask the queued transfers of",
    )
}

/// `acs rpc-methods`: which methods the devices support.
pub fn rpc_methods(args: ActionArgs) -> anyhow::Result<()> {
    send(
        args,
        TaskDefinition::GetRpcMethods {},
        "Ask the supported methods of",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upload_password_never_prints() {
        use clap::Parser as _;
        #[derive(Debug, clap::Parser)]
        struct Cli {
            #[command(flatten)]
            upload: UploadArgs,
        }
        let cli = Cli::try_parse_from([
            "acs",
            "--url",
            "http://x/y",
            "--password",
            "hunter2",
            "-d",
            "SN1",
        ])
        .unwrap();
        assert_eq!(cli.upload.password.expose(), "hunter2");
        assert!(!format!("{cli:?}").contains("hunter2"));
    }

    #[test]
    fn attributes_read_as_name_and_notification() {
        let a = parse_attribute("Device.X.Status=2").unwrap();
        assert_eq!((a.name.as_str(), a.notification), ("Device.X.Status", 2));
        assert!(a.notification_change && !a.access_list_change);
        for bad in ["Device.X", "Device.X=loud", "Device.X=9", "=2"] {
            assert!(parse_attribute(bad).is_err(), "{bad}");
        }
    }
}
