//! `acs provision …`: zero-touch provisioning rules and where each device stands with them.

use std::path::PathBuf;

use acs_api::{
    ProvisionAttribute, ProvisionObject, ProvisionRule, ProvisionRuleInput, ResetQuery, SetValue,
};
use clap::{Args, Subcommand};
use serde::Serialize;

use crate::cmd::assignment::parse_assignment;
use crate::cmd::client::{self, AFTER_HELP, ApiError, Cli as _, Client, ClientArgs, usage};
use crate::cmd::output::{self, Column, col, wide};
use crate::cmd::target::Resolved;
use crate::cmd::upload::upload_file;

const RULE_COLUMNS: &[Column] = &[
    col("order"),
    col("name"),
    col("events"),
    col("filter"),
    col("ensures"),
    col("source"),
];

const ITEM_COLUMNS: &[Column] = &[
    col("rule"),
    col("item"),
    col("status"),
    col("task_id"),
    col("failures"),
    col("next_attempt_at"),
    wide("checked_at"),
    col("detail"),
];

#[derive(Debug, Subcommand)]
pub enum ProvisionCommand {
    /// List the rules, in the order they apply.
    List(ListArgs),
    /// Show one rule.
    Show(NameArgs),
    /// Add a rule (admin token). It acts from each matching device's next matching Inform.
    Add(Box<AddArgs>),
    /// Remove a rule added with `add` (admin token); rules from the configuration file are
    /// changed there.
    Remove(RemoveArgs),
    /// Where a device stands with each rule item: checking, pending, applied, failed (with
    /// the fault and the next attempt), mismatch or halted.
    Status(StatusArgs),
    /// Forget a device's provisioning record (of one rule, or all): failed and halted items are
    /// tried again at its next matching Inform.
    Reset(ResetArgs),
}

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct ListArgs {
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct NameArgs {
    /// The rule's name.
    #[arg(value_name = "NAME")]
    pub name: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct RemoveArgs {
    /// The rule's name.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Do not ask first (needed without a terminal).
    #[arg(long)]
    pub yes: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct StatusArgs {
    /// The device: id, serial number or MAC.
    #[arg(
        value_name = "DEVICE",
        required_unless_present = "filter",
        conflicts_with = "filter"
    )]
    pub device: Option<String>,
    /// Every device this filter matches (docs/FILTERS.md), one row per device and item.
    #[arg(short = 'f', long = "filter", value_name = "FILTER")]
    pub filter: Option<String>,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `provision status -f`: the device each item belongs to, first.
const FLEET_ITEM_COLUMNS: &[Column] = &[
    col("device_id"),
    col("rule"),
    col("item"),
    col("status"),
    col("task_id"),
    col("failures"),
    col("next_attempt_at"),
    wide("checked_at"),
    col("detail"),
];

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct ResetArgs {
    /// The device: id, serial number or MAC.
    #[arg(value_name = "DEVICE")]
    pub device: String,
    /// Only this rule's items.
    #[arg(long, value_name = "NAME")]
    pub rule: Option<String>,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct AddArgs {
    /// Unique name: letters, digits, `.`, `-`, `_`.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Devices the rule is for (filter language, e.g. 'product_class ~ "CP-88*"'); all
    /// devices when absent.
    #[arg(short = 'f', long, value_name = "FILTER")]
    pub filter: Option<String>,
    /// An event it acts on: BOOTSTRAP, BOOT, PERIODIC or 'VALUE CHANGE' (repeat for several)
    /// [default: BOOTSTRAP and BOOT]. At PERIODIC and VALUE CHANGE the rule also verifies what
    /// it ensures and pushes again what drifted.
    #[arg(long = "event", value_name = "EVENT")]
    pub events: Vec<String>,
    /// Position: rules apply in ascending order, then by name.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub order: i32,
    /// A parameter value to ensure, NAME=VALUE[:TYPE] (repeat for several; type default
    /// string), e.g. Device.ManagementServer.PeriodicInformInterval=3600:unsignedInt.
    #[arg(long = "set", value_name = "NAME=VALUE[:TYPE]")]
    pub set: Vec<String>,
    /// A table to keep at N instances or more, TABLE.=N (repeat for several), e.g.
    /// Device.Services.VoiceService.1.VoiceProfile.1.Line.=2 for "line 2 exists".
    #[arg(long = "object", value_name = "TABLE.=N")]
    pub objects: Vec<String>,
    /// A Notification attribute to keep, NAME=0|1|2 (off, passive, active; repeat for
    /// several). A rule parameter with notification on is verified from what the device
    /// reports, without reading it.
    #[arg(long = "notify", value_name = "NAME=0|1|2")]
    pub notify: Vec<String>,
    /// Give each device its own random connection-request credentials.
    #[arg(long)]
    pub connection_request_credentials: bool,
    /// A flat-profile template to upload and push as `3 Vendor Configuration File`.
    #[arg(long, value_name = "FILE.xml", conflicts_with = "template_file")]
    pub template: Option<PathBuf>,
    /// An already stored template, by file id.
    #[arg(long, value_name = "ID")]
    pub template_file: Option<i64>,
    /// A CSV of per-device template variables (`serial` or `mac` column) to upload.
    #[arg(long, value_name = "FILE.csv", conflicts_with = "vars_file")]
    pub vars: Option<PathBuf>,
    /// An already stored variables CSV, by file id.
    #[arg(long, value_name = "ID")]
    pub vars_file: Option<i64>,
    /// A firmware image to upload and push while devices report another version.
    #[arg(long, value_name = "IMAGE", conflicts_with = "firmware_file")]
    pub firmware: Option<PathBuf>,
    /// An already stored firmware image, by file id.
    #[arg(long, value_name = "ID")]
    pub firmware_file: Option<i64>,
    /// The SoftwareVersion the image installs [default: the file's version, else the MPP image
    /// name's: sip88xx.12-0-1MPP.loads → sip88xx.12-0-1MPP].
    #[arg(long, value_name = "V")]
    pub firmware_version: Option<String>,
    /// Push only at Informs inside this maintenance window, e.g. 'Mon-Fri 01:00-05:00
    /// Europe/Oslo'.
    #[arg(long, value_name = "WINDOW")]
    pub window: Option<String>,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// A one-line summary of what a rule ensures.
fn ensures(rule: &ProvisionRule) -> String {
    let mut parts = Vec::new();
    for o in &rule.objects {
        parts.push(format!("{} ≥{} instances", o.path, o.instances));
    }
    if !rule.parameters.is_empty() {
        let names: Vec<&str> = rule.parameters.iter().map(|p| p.name.as_str()).collect();
        parts.push(format!("set {}", names.join(",")));
    }
    if !rule.attributes.is_empty() {
        let names: Vec<String> = rule
            .attributes
            .iter()
            .map(|a| format!("{}={}", a.name, a.notification))
            .collect();
        parts.push(format!("notify {}", names.join(",")));
    }
    if rule.connection_request_credentials {
        parts.push("connection-request credentials".into());
    }
    if let Some(id) = rule.template_file {
        parts.push(match rule.vars_file {
            Some(v) => format!("config file {id} (vars {v})"),
            None => format!("config file {id}"),
        });
    }
    if let Some(id) = rule.firmware_file {
        parts.push(format!(
            "firmware file {id} ({})",
            rule.firmware_version.as_deref().unwrap_or("?")
        ));
    }
    parts.join("; ")
}

/// A rule as the commands print it: with its one-line summary.
#[derive(Serialize)]
struct RuleRow {
    #[serde(flatten)]
    rule: ProvisionRule,
    ensures: String,
}

fn with_summary(rule: ProvisionRule) -> RuleRow {
    RuleRow {
        ensures: ensures(&rule),
        rule,
    }
}

pub fn run(command: ProvisionCommand) -> anyhow::Result<()> {
    if let ProvisionCommand::Add(a) = &command {
        // Everything the server would refuse is refused before any file is uploaded.
        check_locally(a)?;
    }
    client::run(async move {
        match command {
            ProvisionCommand::List(a) => {
                let client = Client::new(&a.client)?;
                let rules = client.list_rules().await.cli()?;
                let mut out = output::stdout(a.client.format(), RULE_COLUMNS, false);
                for r in rules {
                    out.row(&output::pick(&with_summary(r), RULE_COLUMNS))?;
                }
                out.finish()?;
                Ok(())
            }
            ProvisionCommand::Show(a) => {
                let client = Client::new(&a.client)?;
                let rule = client.rule(&a.name).await.cli()?;
                output::show(a.client.format(), RULE_COLUMNS, &with_summary(rule))
            }
            ProvisionCommand::Add(a) => add(*a).await,
            ProvisionCommand::Remove(a) => {
                let client = Client::new(&a.client)?;
                // Named first, so a mistyped name fails before anything is asked.
                client.rule(&a.name).await.cli()?;
                client::confirm(
                    &format!(
                        "Remove provisioning rule {}; devices it applies to get nothing more from it",
                        a.name
                    ),
                    a.yes,
                )?;
                client.remove_rule(&a.name).await.cli()?;
                client::note(format!("provisioning rule {} removed", a.name));
                Ok(())
            }
            ProvisionCommand::Status(StatusArgs {
                filter: Some(filter),
                client: args,
                ..
            }) => {
                let client = &Client::new(&args)?;
                let mut out = output::stdout(args.format(), FLEET_ITEM_COLUMNS, false);
                let ids = Resolved::Filter(filter).ids(client).await?;
                for id in &ids {
                    for item in client.device_provisioning(id).await.cli()? {
                        let mut row = output::pick(&item, ITEM_COLUMNS);
                        row.insert(0, serde_json::Value::String(id.clone()));
                        out.row(&row)?;
                    }
                }
                out.finish()?;
                Ok(())
            }
            ProvisionCommand::Status(a) => {
                let client = Client::new(&a.client)?;
                let Some(device) = &a.device else {
                    return Err(client::usage("name a device, or -f FILTER"));
                };
                let id = client.resolve_id(device).await?;
                let items = client.device_provisioning(&id).await.cli()?;
                let mut out = output::stdout(a.client.format(), ITEM_COLUMNS, false);
                for i in &items {
                    out.row(&output::pick(i, ITEM_COLUMNS))?;
                }
                out.finish()?;
                Ok(())
            }
            ProvisionCommand::Reset(a) => {
                let client = Client::new(&a.client)?;
                let id = client.resolve_id(&a.device).await?;
                let query = ResetQuery {
                    rule: a.rule.clone(),
                };
                let answer = client.reset_provisioning(&id, &query).await.cli()?;
                client::note(format!(
                    "{} provisioning item(s) of {id} forgotten; they are evaluated again at its next matching Inform",
                    answer.reset
                ));
                Ok(())
            }
        }
    })
}

/// The rule as the API takes it, with the ids of files still to upload set to 0.
fn spec(a: &AddArgs) -> anyhow::Result<ProvisionRuleInput> {
    let mut parameters = Vec::with_capacity(a.set.len());
    for s in &a.set {
        let assignment = parse_assignment(s).map_err(usage)?;
        let ty = assignment
            .value_type
            .unwrap_or(acs_core::cwmp::ValueType::String);
        parameters.push(SetValue {
            name: assignment.name,
            value: assignment.value,
            value_type: Some(ty.wire_name().to_owned()),
        });
    }
    let mut objects = Vec::with_capacity(a.objects.len());
    for o in &a.objects {
        let (path, n) = o
            .rsplit_once('=')
            .ok_or_else(|| usage(format!("--object {o:?}: write TABLE.=N")))?;
        let instances = n.trim().parse().map_err(|_| {
            usage(format!(
                "--object {o:?}: {n:?} is not a number of instances"
            ))
        })?;
        objects.push(ProvisionObject {
            path: path.trim().to_owned(),
            instances,
        });
    }
    let mut attributes = Vec::with_capacity(a.notify.len());
    for n in &a.notify {
        let (name, level) = n
            .rsplit_once('=')
            .ok_or_else(|| usage(format!("--notify {n:?}: write NAME=0|1|2")))?;
        let notification = level
            .trim()
            .parse()
            .map_err(|_| usage(format!("--notify {n:?}: {level:?} is not 0, 1 or 2")))?;
        attributes.push(ProvisionAttribute {
            name: name.trim().to_owned(),
            notification,
        });
    }
    let placeholder = |path: &Option<PathBuf>, id: Option<i64>| match (path, id) {
        (Some(_), _) => Some(0),
        (None, id) => id,
    };
    Ok(ProvisionRuleInput {
        name: a.name.clone(),
        order: Some(a.order),
        filter: a.filter.clone(),
        events: (!a.events.is_empty()).then(|| a.events.clone()),
        parameters: Some(parameters),
        objects: (!objects.is_empty()).then_some(objects),
        attributes: (!attributes.is_empty()).then_some(attributes),
        connection_request_credentials: Some(a.connection_request_credentials),
        template_file: placeholder(&a.template, a.template_file),
        vars_file: placeholder(&a.vars, a.vars_file),
        firmware_file: placeholder(&a.firmware, a.firmware_file),
        firmware_version: a.firmware_version.clone(),
        window: a.window.clone(),
    })
}

fn check_locally(a: &AddArgs) -> anyhow::Result<()> {
    // The server's own reading and checks, before anything is uploaded.
    let rule: acs_core::provision::RuleSpec =
        serde_json::from_value(serde_json::to_value(spec(a)?)?)
            .map_err(|e| usage(e.to_string()))?;
    acs_core::provision::validate(rule, acs_core::provision::RuleSource::Api)
        .map_err(|e| usage(e.to_string()))?;
    for path in [&a.template, &a.vars, &a.firmware].into_iter().flatten() {
        if !path.is_file() {
            return Err(usage(format!("{}: no such file", path.display())));
        }
    }
    Ok(())
}

async fn add(a: AddArgs) -> anyhow::Result<()> {
    let client = Client::new(&a.client)?;
    let mut rule = spec(&a)?;
    // What the server would refuse after the uploads is checked before them, so a refused
    // rule leaves no (possibly large) files behind.
    match client.rule(&a.name).await.cli() {
        Ok(_) => {
            return Err(anyhow::anyhow!(
                "a provisioning rule named `{}` already exists",
                a.name
            ));
        }
        Err(e)
            if e.downcast_ref::<ApiError>()
                .is_some_and(|e| e.status == 404) => {}
        Err(e) => return Err(e),
    }
    if let Some(image) = &a.firmware
        && a.firmware_version.is_none()
    {
        let name = image
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if acs_core::provision::version_from_image_name(name).is_none() {
            return Err(usage(format!(
                "{name}: the version cannot be told from the name; give --firmware-version"
            )));
        }
    }
    let uploads = [
        (
            &mut rule.template_file,
            &a.template,
            "config-template",
            None,
        ),
        (&mut rule.vars_file, &a.vars, "vars", None),
        (
            &mut rule.firmware_file,
            &a.firmware,
            "firmware",
            a.firmware_version.as_deref(),
        ),
    ];
    for (id, path, kind, version) in uploads {
        if let Some(path) = path {
            let file = upload_file(&client, path, kind, None, version, None).await?;
            *id = Some(file.id);
        }
    }
    let created = client.add_rule(&rule).await.cli()?;
    output::show(a.client.format(), RULE_COLUMNS, &with_summary(created))
}
