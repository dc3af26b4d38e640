//! `acs get` (the bulk parameter query for scripts) and `acs set`.
//!
//! `acs get` streams `GET /api/v1/parameters` (NDJSON, one line per device and name) straight
//! to the output: each line is parsed, written and dropped, and the output is flushed after
//! every chunk from the network, so json/ndjson/csv use constant memory however many devices
//! there are. `--live` first asks the devices for fresh values with a bulk job.

use std::io::IsTerminal as _;
use std::time::Duration;

use acs_api::{BulkParametersQuery, SetValue, TaskDefinition};
use clap::Args;

use crate::Exit;
use crate::cmd::assignment::parse_assignment;
use crate::cmd::client::{
    self, AFTER_HELP, ApiError, Cli as _, Client, ClientArgs, EXIT_PARTIAL, note, usage,
};
use crate::cmd::output::{self, Column, col, pick};
use crate::cmd::submit::{Delivery, create_job, report_job_failures, submit, wait_job};
use crate::cmd::target::{
    ALL_DEVICES, GetTarget, Resolved, Target, count_devices, resolve, resolve_get,
};

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct GetArgs {
    #[command(flatten)]
    pub target: GetTarget,
    /// Full parameter names, e.g. Device.DeviceInfo.SoftwareVersion.
    #[arg(required = true, value_name = "PARAM")]
    pub names: Vec<String>,
    /// First fetch fresh values from the devices (a GetParameterValues job with connection
    /// requests), then print the stored values. Devices that fail are reported on stderr and
    /// make the exit code 3.
    #[arg(long)]
    pub live: bool,
    /// With --live: stop waiting for devices after SECS seconds.
    #[arg(long, value_name = "SECS", default_value_t = 120, requires = "live")]
    pub timeout: u64,
    /// With --live: no connection requests; devices answer at their next periodic Inform.
    #[arg(long, requires = "live")]
    pub no_connection_request: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
#[command(
    long_about = "Set parameter values on devices: a SetParameterValues task (one device) or a \
                  bulk job (several devices, a filter).\n\nEach value is NAME=VALUE[:TYPE]. TYPE \
                  is an XML Schema type with or without `xsd:` (string, int, unsignedInt, long, \
                  unsignedLong, boolean, dateTime, base64Binary, hexBinary, decimal). Without \
                  TYPE, the ACS uses the type stored for the parameter, else the data model's \
                  (TR-181, TR-098, the device profile), else asks the device first (a \
                  GetParameterValues in the same session). A VALUE that itself ends in \
                  `:<type name>` needs an explicit TYPE (`X=a:string:string`)."
)]
pub struct SetArgs {
    #[command(flatten)]
    pub target: Target,
    /// NAME=VALUE[:TYPE], e.g. Device.ManagementServer.PeriodicInformInterval=300:unsignedInt.
    #[arg(required = true, value_name = "NAME=VALUE[:TYPE]")]
    pub values: Vec<String>,
    /// Do not ask before writing to more than one device (needed without a terminal).
    #[arg(long)]
    pub yes: bool,
    #[command(flatten)]
    pub delivery: Delivery,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// The columns of `acs get`.
pub const PARAM_COLUMNS: &[Column] = &[
    col("device_id"),
    col("name"),
    col("value"),
    col("type"),
    col("updated_at"),
];

/// Streams the bulk parameter query to `out`, flushing after every network chunk: what one
/// chunk brought reaches the reader before the next is read.
async fn stream_parameters(
    client: &Client,
    query: &BulkParametersQuery,
    out: &mut output::Output<impl std::io::Write>,
) -> anyhow::Result<()> {
    let mut lines = client.bulk_parameters(query).await.cli()?;
    while let Some(batch) = lines.next_batch().await.cli()? {
        for line in &batch {
            out.row(&pick(line, PARAM_COLUMNS))?;
        }
        out.flush()?;
    }
    Ok(())
}

pub fn get(args: GetArgs) -> anyhow::Result<()> {
    for n in &args.names {
        if n.is_empty() || n.contains(',') || n.contains(char::is_whitespace) {
            return Err(usage(format!("`{n}` is not a parameter name")));
        }
    }
    client::run(async move {
        let client = Client::new(&args.client)?;
        let resolved = resolve_get(&client, &args.target).await?;
        let explain = |e: anyhow::Error| match &resolved {
            Some(r) => r.explain(e),
            None => e,
        };
        let mut failures = 0;
        // A job needs at least one device: with a filter that matches none there is nothing
        // to refresh (and nothing to print but the header).
        let live = args.live
            && match &resolved {
                Some(Resolved::Devices(_)) => true,
                Some(Resolved::Filter(f)) => count_devices(&client, Some(f)).await? > 0,
                None => count_devices(&client, None).await? > 0,
            };
        if live {
            let spec = TaskDefinition::GetParameterValues {
                names: args.names.clone(),
            };
            let target = resolved
                .clone()
                .unwrap_or_else(|| Resolved::Filter(ALL_DEVICES.to_owned()));
            let job = create_job(&client, &spec, &target, !args.no_connection_request, None)
                .await
                .map_err(explain)?;
            let id = job.id;
            if std::io::stderr().is_terminal() {
                note(format!(
                    "job {id}: asking {} devices for fresh values",
                    job.total
                ));
            }
            let (_, timed_out) = wait_job(&client, id, Duration::from_secs(args.timeout)).await?;
            failures = report_job_failures(&client, id, timed_out, args.timeout).await?;
        }
        let names = args.names.join(",");
        let query = match &resolved {
            Some(r) => r.parameter_query(names),
            None => BulkParametersQuery {
                names,
                ..BulkParametersQuery::default()
            },
        };
        let mut out = output::stdout(args.client.format(), PARAM_COLUMNS, false);
        stream_parameters(&client, &query, &mut out)
            .await
            .map_err(explain)?;
        out.finish()?;
        if failures > 0 {
            return Err(Exit(EXIT_PARTIAL).into());
        }
        Ok(())
    })
}

pub fn set(args: SetArgs) -> anyhow::Result<()> {
    let mut assignments = Vec::with_capacity(args.values.len());
    for a in &args.values {
        assignments.push(parse_assignment(a).map_err(usage)?);
    }
    client::run(async move {
        let client = Client::new(&args.client)?;
        let resolved = resolve(&client, &args.target).await?;
        if matches!(&resolved, Resolved::Devices(d) if d.is_empty()) {
            return Err(usage("no device given"));
        }
        let count = resolved.count(&client).await?;
        if count == 0 {
            client::note("no device matches; nothing to set");
            return Ok(());
        }
        if count > 1 {
            let which = match &resolved {
                Resolved::Filter(f) => format!(" matching `{f}`"),
                Resolved::Devices(_) => String::new(),
            };
            client::confirm(
                &format!(
                    "Write {} value(s) on {count} devices{which}",
                    assignments.len()
                ),
                args.yes,
            )?;
        }
        // Without :TYPE the ACS picks the type per device when it sends the request (stored
        // type, data model, else the CPE's own answer), so every device of a job gets its own.
        let values: Vec<SetValue> = assignments
            .into_iter()
            .map(|a| SetValue {
                name: a.name,
                value: a.value,
                value_type: a.value_type.map(|t| t.wire_name().to_owned()),
            })
            .collect();
        let spec = TaskDefinition::SetParameterValues { values };
        submit(
            &client,
            args.client.format(),
            &spec,
            &resolved,
            &args.delivery,
        )
        .await
        .map_err(|e| match e.downcast_ref::<ApiError>() {
            Some(_) => resolved.explain(e),
            None => e,
        })
    })
}
