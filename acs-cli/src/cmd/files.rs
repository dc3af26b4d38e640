//! `acs files …` (the file store: firmware images, configuration templates, CA certificates)
//! and `acs config render` (a dry run of a configuration template for one device).

use std::path::PathBuf;

use acs_api::{CreateJob, FileListQuery, JobDevices, RenderRequest, TaskDefinition};
use anyhow::Context as _;
use clap::{Args, Subcommand};

use crate::cmd::client::{self, AFTER_HELP, ApiError, Cli as _, Client, ClientArgs, not_found};
use crate::cmd::output::{self, Column, col};
use crate::cmd::submit::{PushOptions, follow};
use crate::cmd::target::{Target, resolve};
use crate::cmd::upload::upload_file;

/// Columns of a file.
const FILE_COLUMNS: &[Column] = &[
    col("id"),
    col("name"),
    col("type"),
    col("product_class"),
    col("version"),
    col("size"),
    col("sha256"),
    col("created_at"),
];

#[derive(Debug, Subcommand)]
pub enum FilesCommand {
    /// Upload a file (streamed; a firmware image is never read into memory whole).
    Upload(UploadArgs),
    /// List stored files, newest first.
    List(ListArgs),
    /// Show one file.
    Show(IdArgs),
    /// Delete a file (download URLs already handed out for it then answer 404).
    Delete(DeleteArgs),
}

#[derive(Debug, Args)]
// `--version` here is the file's version, not the program's.
#[command(after_help = AFTER_HELP, disable_version_flag = true)]
pub struct UploadArgs {
    /// The file to upload.
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
    /// What it is.
    #[arg(long = "type", value_name = "TYPE", default_value = "other",
        value_parser = ["firmware", "config-template", "ca", "vars", "other"])]
    pub file_type: String,
    /// Only for devices of this product class (e.g. CP-8851-3PCC).
    #[arg(long, value_name = "PC")]
    pub product_class: Option<String>,
    /// The version it carries (firmware: what SoftwareVersion reads once installed).
    #[arg(long, value_name = "V")]
    pub version: Option<String>,
    /// The name devices see [default: the file's name].
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct ListArgs {
    /// Only files of this type.
    #[arg(long = "type", value_name = "TYPE",
        value_parser = ["firmware", "config-template", "ca", "vars", "other"])]
    pub file_type: Option<String>,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct IdArgs {
    /// The file id.
    #[arg(value_name = "ID")]
    pub id: i64,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct DeleteArgs {
    /// The file id.
    #[arg(value_name = "ID")]
    pub id: i64,
    /// Do not ask first (needed without a terminal).
    #[arg(long)]
    pub yes: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

pub fn run(command: FilesCommand) -> anyhow::Result<()> {
    client::run(async move {
        match command {
            FilesCommand::Upload(a) => upload(a).await,
            FilesCommand::List(a) => {
                let client = Client::new(&a.client)?;
                let query = FileListQuery {
                    file_type: a.file_type.clone(),
                };
                let listed = client.list_files(&query).await.cli()?;
                let mut out = output::stdout(a.client.format(), FILE_COLUMNS, false);
                for f in &listed.files {
                    out.row(&output::pick(f, FILE_COLUMNS))?;
                }
                out.finish()?;
                Ok(())
            }
            FilesCommand::Show(a) => {
                let client = Client::new(&a.client)?;
                let file = client
                    .file(a.id)
                    .await
                    .cli()
                    .map_err(|e| not_found(e, "file", a.id))?;
                output::show(a.client.format(), FILE_COLUMNS, &file)
            }
            FilesCommand::Delete(a) => {
                let client = Client::new(&a.client)?;
                let file = client
                    .file(a.id)
                    .await
                    .cli()
                    .map_err(|e| not_found(e, "file", a.id))?;
                client::confirm(
                    &format!(
                        "Delete file {} ({}, {} bytes); devices can no longer download it",
                        a.id, file.name, file.size
                    ),
                    a.yes,
                )?;
                client
                    .delete_file(a.id)
                    .await
                    .cli()
                    .map_err(|e| not_found(e, "file", a.id))?;
                client::note(format!("file {} deleted", a.id));
                Ok(())
            }
        }
    })
}

async fn upload(a: UploadArgs) -> anyhow::Result<()> {
    let client = Client::new(&a.client)?;
    let file = upload_file(
        &client,
        &a.path,
        &a.file_type,
        a.product_class.as_deref(),
        a.version.as_deref(),
        a.name.as_deref(),
    )
    .await?;
    output::show(a.client.format(), FILE_COLUMNS, &file)
}

/// `acs config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Render a flat-profile template for one device without pushing it (a dry run): prints
    /// the file the device would get, or names every missing variable.
    Render(RenderArgs),
    /// Push a flat-profile template to devices as `3 Vendor Configuration File`, rendered for
    /// each device when it downloads it.
    Push(PushArgs),
}

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct RenderArgs {
    /// The template (MPP flat-profile XML with `{{ variables }}`).
    #[arg(value_name = "TEMPLATE")]
    pub template: PathBuf,
    /// The device: id, serial number or MAC.
    #[arg(short = 'd', long = "device", value_name = "DEVICE")]
    pub device: String,
    /// A CSV with a `serial` or `mac` column; the device's row adds variables.
    #[arg(long, value_name = "FILE.csv")]
    pub vars: Option<PathBuf>,
    #[command(flatten)]
    pub client: ClientArgs,
}

pub fn config(command: ConfigCommand) -> anyhow::Result<()> {
    let a = match command {
        ConfigCommand::Render(a) => a,
        ConfigCommand::Push(a) => return push(a),
    };
    let template = std::fs::read_to_string(&a.template)
        .with_context(|| format!("reading {}", a.template.display()))?;
    let vars = a
        .vars
        .as_ref()
        .map(|p| std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display())))
        .transpose()?;
    client::run(async move {
        let client = Client::new(&a.client)?;
        let body = RenderRequest {
            template,
            device: a.device,
            vars_csv: vars,
        };
        let rendered = client.render_config(&body).await.cli()?;
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        out.write_all(rendered.rendered.as_bytes())?;
        out.write_all(b"\n")?;
        Ok(())
    })
}

/// The FileType of a configuration file (TR-069 A.3.2.8).
pub const CONFIG_FILE_TYPE: &str = "3 Vendor Configuration File";

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct PushArgs {
    /// The template (MPP flat-profile XML with `{{ variables }}`).
    #[arg(value_name = "TEMPLATE")]
    pub template: PathBuf,
    #[command(flatten)]
    pub target: Target,
    /// A CSV with a `serial` or `mac` column; each device's row adds variables.
    #[arg(long, value_name = "FILE.csv")]
    pub vars: Option<PathBuf>,
    #[command(flatten)]
    pub push: PushOptions,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `acs config push`: renders the template for every target device first (nothing is pushed
/// if any device lacks a variable, and every such device is named), then stores the template
/// and the CSV and sends each device a Download of `3 Vendor Configuration File`; the file
/// server renders the file for the device that fetches it.
pub fn push(a: PushArgs) -> anyhow::Result<()> {
    let template = std::fs::read_to_string(&a.template)
        .with_context(|| format!("reading {}", a.template.display()))?;
    acs_core::template::ConfigTemplate::parse(&template)
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.template.display()))?;
    let vars = a
        .vars
        .as_ref()
        .map(|p| std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display())))
        .transpose()?;
    if let Some(v) = &vars {
        acs_core::template::VarsTable::from_csv(v)?;
    }
    client::run(async move {
        let client = &Client::new(&a.client)?;
        let resolved = resolve(client, &a.target).await?;
        let ids = resolved.ids(client).await?;
        if ids.is_empty() {
            client::note("no device matches: nothing to push");
            return Ok(());
        }
        if ids.len() > 1 {
            client::confirm(
                &format!("push a configuration to {} devices", ids.len()),
                a.push.yes,
            )?;
        }
        // The dry run for every device: a missing variable stops the push before anything is
        // stored or sent.
        let mut problems = Vec::new();
        for id in &ids {
            let body = RenderRequest {
                template: template.clone(),
                device: id.clone(),
                vars_csv: vars.clone(),
            };
            if let Err(e) = client.render_config(&body).await.cli() {
                match e.downcast_ref::<ApiError>() {
                    Some(api) if api.status == 400 => {
                        problems.push(format!("{id}: {}", api.message))
                    }
                    _ => return Err(e),
                }
            }
        }
        if !problems.is_empty() {
            let shown = problems
                .iter()
                .take(20)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n  ");
            anyhow::bail!(
                "the template cannot be rendered for {} of {} devices; nothing was pushed:\n  {shown}{}",
                problems.len(),
                ids.len(),
                if problems.len() > 20 { "\n  …" } else { "" }
            );
        }
        let file = upload_file(client, &a.template, "config-template", None, None, None).await?;
        let vars_file = match &a.vars {
            Some(path) => {
                let stem = a
                    .template
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or("config");
                let name = format!("{stem}.vars-{}.csv", file.id);
                // Stored as `vars`: the file server never sends one to a device.
                Some(upload_file(client, path, "vars", None, None, Some(&name)).await?)
            }
            None => None,
        };
        let spec = TaskDefinition::download_of_file(
            CONFIG_FILE_TYPE,
            file.id,
            vars_file.as_ref().map(|v| v.id),
        );
        let mut body = CreateJob::new(&spec, JobDevices::Devices(ids));
        body.connection_request = !a.push.no_connection_request;
        body.window = a.push.window.clone();
        let job = client.create_job(&body).await.cli()?;
        let id = job.id;
        client::note(format!(
            "configuration push {id}: {} to {} devices",
            file.name, job.total
        ));
        match a.push.wait {
            Some(wait) => {
                follow(
                    client,
                    id,
                    std::time::Duration::from_secs(wait),
                    a.client.format(),
                )
                .await
            }
            None => {
                client::note(format!("follow it with `acs jobs show {id}`"));
                Ok(())
            }
        }
    })
}
