//! `acs devices list|show|delete|tag` and `acs events`.

use acs_api::{Device, DeviceListQuery, EventsQuery};
use clap::{Args, Subcommand};

use crate::cmd::client::{
    self, AFTER_HELP, Cli as _, Client, ClientArgs, explain_filter, note, pages,
};
use crate::cmd::output::{self, Column, col, pick, wide};
use crate::cmd::target::{Resolved, count_devices};

#[derive(Debug, Subcommand)]
pub enum DevicesCommand {
    /// List devices, all of them or those matching a filter (see docs/FILTERS.md).
    List(ListArgs),
    /// Show everything known about one device.
    Show(ShowArgs),
    /// Delete a device with its parameters, events, tags and tasks (admin token).
    Delete(DeleteArgs),
    /// Add tags to a device, or remove them with --remove.
    Tag(TagArgs),
}

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct ListArgs {
    /// Only devices matching FILTER, e.g. `product_class = CP-8851-3PCC and tag = lab`.
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Option<String>,
    /// Order by FIELD, descending with a leading `-` (id, serial_number, product_class, oui,
    /// manufacturer, mac, software_version, last_inform, first_seen).
    #[arg(long, value_name = "FIELD|-FIELD", allow_hyphen_values = true)]
    pub sort: Option<String>,
    /// At most N devices [default: all, fetched page by page].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct ShowArgs {
    /// The device: id, serial number or MAC.
    pub device: String,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct DeleteArgs {
    /// The device: id, serial number or MAC.
    pub device: String,
    /// Do not ask for confirmation (required when standard input is not a terminal).
    #[arg(short, long)]
    pub yes: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct TagArgs {
    /// The device (id, serial number or MAC), then the tags to add (or remove); with -f,
    /// only the tags.
    #[arg(required = true, value_name = "DEVICE TAG")]
    pub words: Vec<String>,
    /// Tag every device this filter matches (docs/FILTERS.md) instead of one.
    #[arg(short = 'f', long = "filter", value_name = "FILTER")]
    pub filter: Option<String>,
    /// Remove the tags instead of adding them.
    #[arg(long)]
    pub remove: bool,
    /// Do not ask before tagging more than one device (needed without a terminal).
    #[arg(long)]
    pub yes: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct EventsArgs {
    /// The device: id, serial number or MAC.
    pub device: String,
    /// At most N events (1–1000).
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub limit: u64,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// `devices list`.
/// A table shows a device by its serial number and product class; the id, manufacturer, OUI
/// and address are for the machine formats (and `devices show`).
pub const LIST_COLUMNS: &[Column] = &[
    wide("id"),
    col("serial_number"),
    col("product_class"),
    wide("manufacturer"),
    wide("oui"),
    col("mac"),
    col("software_version"),
    wide("remote_ip"),
    col("status"),
    col("last_inform"),
    col("tags"),
];

/// `devices show`: every field of the API's Device.
pub const SHOW_COLUMNS: &[Column] = &[
    col("id"),
    col("manufacturer"),
    col("oui"),
    col("product_class"),
    col("serial_number"),
    col("mac"),
    col("software_version"),
    col("hardware_version"),
    col("provisioning_code"),
    col("connection_request_url"),
    col("remote_ip"),
    col("cwmp_version"),
    col("first_seen"),
    col("last_inform"),
    col("last_boot"),
    col("last_bootstrap"),
    col("periodic_inform_interval"),
    col("status"),
    col("last_events"),
    col("tags"),
];

const EVENT_COLUMNS: &[Column] = &[col("received_at"), col("event_code"), col("command_key")];

pub fn run(command: DevicesCommand) -> anyhow::Result<()> {
    match command {
        DevicesCommand::List(a) => client::run(list(a)),
        DevicesCommand::Show(a) => client::run(show(a)),
        DevicesCommand::Delete(a) => client::run(delete(a)),
        DevicesCommand::Tag(a) => client::run(tag(a)),
    }
}

async fn list(args: ListArgs) -> anyhow::Result<()> {
    let client = &Client::new(&args.client)?;
    let mut out = output::stdout(args.client.format(), LIST_COLUMNS, false);
    let limit = args.limit.map(|l| usize::try_from(l).unwrap_or(usize::MAX));
    pages(
        limit,
        |after, n| {
            let q = DeviceListQuery {
                filter: args.filter.clone(),
                sort: args.sort.clone(),
                limit: Some(n),
                after,
            };
            async move {
                let page = client.list_devices(&q).await.cli()?;
                Ok((page.devices, page.next))
            }
        },
        |d: Device| Ok(out.row(&pick(&d, LIST_COLUMNS))?),
    )
    .await
    .map_err(|e| match &args.filter {
        Some(f) => explain_filter(e, f),
        None => e,
    })?;
    out.finish()?;
    Ok(())
}

async fn show(args: ShowArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.client)?;
    let id = client.resolve_id(&args.device).await?;
    let device = client.device(&id).await.cli()?;
    output::show(args.client.format(), SHOW_COLUMNS, &device)
}

async fn delete(args: DeleteArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.client)?;
    let id = client.resolve_id(&args.device).await?;
    client::confirm(
        &format!("Delete device {id} with its parameters, events, tags and tasks"),
        args.yes,
    )?;
    client.delete_device(&id).await.cli()?;
    note(format!("deleted {id}"));
    Ok(())
}

async fn tag(args: TagArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.client)?;
    let (ids, tags) = match &args.filter {
        Some(filter) => {
            let count = count_devices(&client, Some(filter)).await?;
            if count == 0 {
                note(format!("no device matches `{filter}`; nothing to tag"));
                return Ok(());
            }
            if count > 1 {
                client::confirm(
                    &format!(
                        "{} {} on {count} devices matching `{filter}`",
                        if args.remove {
                            "Remove tag(s)"
                        } else {
                            "Add tag(s)"
                        },
                        args.words.join(", ")
                    ),
                    args.yes,
                )?;
            }
            let ids = Resolved::Filter(filter.clone()).ids(&client).await?;
            (ids, args.words.clone())
        }
        None => {
            let [device, tags @ ..] = args.words.as_slice() else {
                return Err(client::usage("name a device, then the tags"));
            };
            if tags.is_empty() {
                return Err(client::usage(
                    "no tag given: `acs devices tag DEVICE TAG…` (or -f FILTER TAG…)",
                ));
            }
            (vec![client.resolve_id(device).await?], tags.to_vec())
        }
    };
    for id in &ids {
        tag_one(&client, id, &tags, args.remove, args.filter.is_some()).await?;
    }
    if args.filter.is_some() {
        note(format!(
            "{} {} device(s)",
            if args.remove { "untagged" } else { "tagged" },
            ids.len()
        ));
    }
    Ok(())
}

/// Adds or removes `tags` on one device. Removing a tag a device lacks is an error for one
/// device and nothing for a filter's (the filter may match devices with and without it).
async fn tag_one(
    client: &Client,
    id: &str,
    tags: &[String],
    remove: bool,
    lenient: bool,
) -> anyhow::Result<()> {
    for t in tags {
        let result = if remove {
            client.remove_tag(id, t).await.cli()
        } else {
            client.add_tag(id, t).await.cli()
        };
        match result {
            Err(e)
                if remove
                    && e.downcast_ref::<client::ApiError>()
                        .is_some_and(|a| a.status == 404) =>
            {
                if !lenient {
                    anyhow::bail!("{} has no tag `{t}`", output::friendly_device(id));
                }
            }
            other => other?,
        }
    }
    Ok(())
}

pub fn events(args: EventsArgs) -> anyhow::Result<()> {
    client::run(async move {
        let client = Client::new(&args.client)?;
        let id = client.resolve_id(&args.device).await?;
        let q = EventsQuery {
            limit: Some(args.limit),
        };
        let answer = client.device_events(&id, &q).await.cli()?;
        let mut out = output::stdout(args.client.format(), EVENT_COLUMNS, false);
        for e in &answer.events {
            out.row(&pick(e, EVENT_COLUMNS))?;
        }
        out.finish()?;
        Ok(())
    })
}
