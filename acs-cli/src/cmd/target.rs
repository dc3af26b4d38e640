//! Which devices a command acts on: the `-d`/`-f`/`--all` options, resolved to ids or a filter.

use acs_api::{BulkParametersQuery, CountQuery, Device, DeviceListQuery, JobDevices};
use clap::Args;

use crate::cmd::client::{Cli as _, Client, explain_filter, pages};

/// The filter that matches every device (used for `--all` jobs).
pub const ALL_DEVICES: &str = "id ~ \"*\"";

/// Which devices a command acts on: `-d` (repeatable) or `-f`.
#[derive(Debug, Clone, Args)]
#[group(id = "target", required = true, multiple = false)]
pub struct Target {
    /// A device: id, serial number or MAC; repeat for several (-d A -d B).
    #[arg(short = 'd', long = "device", value_name = "DEVICE", action = clap::ArgAction::Append)]
    pub devices: Vec<String>,
    /// Every device matching FILTER (see docs/FILTERS.md).
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Option<String>,
}

/// Which devices `acs get` reads: `-d` (repeatable), `-f` or `--all`.
#[derive(Debug, Clone, Args)]
#[group(id = "get_target", required = true, multiple = false)]
pub struct GetTarget {
    /// A device: id, serial number or MAC; repeat for several (-d A -d B).
    #[arg(short = 'd', long = "device", value_name = "DEVICE", action = clap::ArgAction::Append)]
    pub devices: Vec<String>,
    /// Every device matching FILTER (see docs/FILTERS.md).
    #[arg(short, long, value_name = "FILTER")]
    pub filter: Option<String>,
    /// Every device.
    #[arg(long)]
    pub all: bool,
}

/// Devices after name resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// Device ids.
    Devices(Vec<String>),
    /// A filter.
    Filter(String),
}

impl Resolved {
    /// The devices of a job.
    pub fn job_target(&self) -> JobDevices {
        match self {
            Resolved::Devices(ids) => JobDevices::Devices(ids.clone()),
            Resolved::Filter(f) => JobDevices::Filter(f.clone()),
        }
    }

    /// The bulk parameter query of `names` over these devices.
    pub fn parameter_query(&self, names: String) -> BulkParametersQuery {
        let (filter, devices) = match self {
            Resolved::Devices(ids) => (None, Some(ids.join(","))),
            Resolved::Filter(f) => (Some(f.clone()), None),
        };
        BulkParametersQuery {
            names,
            filter,
            devices,
        }
    }

    /// How many devices it names (a filter is counted by the server).
    pub async fn count(&self, client: &Client) -> anyhow::Result<u64> {
        match self {
            Resolved::Devices(ids) => Ok(ids.len() as u64),
            Resolved::Filter(f) => count_devices(client, Some(f)).await,
        }
    }

    /// The ids of the devices it names: a filter's matches, page by page.
    pub async fn ids(&self, client: &Client) -> anyhow::Result<Vec<String>> {
        let filter = match self {
            Resolved::Devices(ids) => return Ok(ids.clone()),
            Resolved::Filter(f) => f,
        };
        let mut ids = Vec::new();
        pages(
            None,
            |after, n| {
                let q = DeviceListQuery {
                    filter: Some(filter.clone()),
                    limit: Some(n),
                    after,
                    ..DeviceListQuery::default()
                };
                async move {
                    let page = client.list_devices(&q).await.cli()?;
                    Ok((page.devices, page.next))
                }
            },
            |d: Device| {
                ids.push(d.id);
                Ok(())
            },
        )
        .await
        .map_err(|e| self.explain(e))?;
        Ok(ids)
    }

    /// Re-words an invalid filter error.
    pub fn explain(&self, e: anyhow::Error) -> anyhow::Error {
        match self {
            Resolved::Filter(f) => explain_filter(e, f),
            Resolved::Devices(_) => e,
        }
    }
}

/// Resolves `-d` names to ids (or keeps the filter).
pub async fn resolve(client: &Client, target: &Target) -> anyhow::Result<Resolved> {
    match &target.filter {
        Some(f) => Ok(Resolved::Filter(f.clone())),
        None => Ok(Resolved::Devices(
            client.resolve_ids(&target.devices).await?,
        )),
    }
}

/// Resolves `acs get`'s target like [`resolve`]; `None` for `--all`.
pub async fn resolve_get(client: &Client, target: &GetTarget) -> anyhow::Result<Option<Resolved>> {
    Ok(if target.all {
        None
    } else if let Some(f) = &target.filter {
        Some(Resolved::Filter(f.clone()))
    } else {
        Some(Resolved::Devices(
            client.resolve_ids(&target.devices).await?,
        ))
    })
}

/// How many devices match `filter` (all devices without one).
pub async fn count_devices(client: &Client, filter: Option<&str>) -> anyhow::Result<u64> {
    let query = CountQuery {
        filter: filter.map(str::to_owned),
    };
    let answer = client
        .count_devices(&query)
        .await
        .cli()
        .map_err(|e| match filter {
            Some(f) => explain_filter(e, f),
            None => e,
        })?;
    Ok(answer.count)
}
