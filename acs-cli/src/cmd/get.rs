//! `acs get` (the bulk parameter query for scripts) and `acs set`.
//!
//! `acs get` streams `GET /api/v1/parameters` (NDJSON, one line per device and name) straight
//! to the output: each line is parsed, written and dropped, and the output is flushed after
//! every chunk from the network, so json/ndjson/csv use constant memory however many devices
//! there are. `--live` first asks the devices for fresh values with a bulk job.

use std::io::IsTerminal as _;
use std::time::Duration;

use acs_core::cwmp::ParameterValue;
use acs_core::tasks::TaskSpec;
use clap::Args;
use reqwest::Method;
use serde_json::Value;

use crate::Exit;
use crate::cmd::assignment::parse_assignment;
use crate::cmd::client::{
    self, AFTER_HELP, ApiError, Client, ClientArgs, EXIT_PARTIAL, note, usage,
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

/// What the NDJSON reader hands its consumer.
enum Streamed {
    /// One parsed line.
    Row(Value),
    /// A network chunk was consumed: a good moment to flush.
    Chunk,
}

/// One line of the NDJSON answer; `None` for a blank line.
fn parse_line(line: &[u8], line_no: u64) -> anyhow::Result<Option<Value>> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let v: Value = serde_json::from_slice(line)
        .map_err(|e| anyhow::anyhow!("line {line_no} of the server's answer is not JSON: {e}"))?;
    // A failure after the answer started arrives as an error object in the stream.
    if v.get("device_id").is_none()
        && let Some(msg) = v.get("message").and_then(Value::as_str)
    {
        anyhow::bail!("{msg}");
    }
    Ok(Some(v))
}

/// Streams the bulk parameter query, line by line. `each` returns `false` to stop early.
async fn stream_parameters(
    client: &Client,
    query: &[(&str, String)],
    mut each: impl FnMut(Streamed) -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    let mut resp = client
        .send(Method::GET, client.url(&["parameters"], query), None)
        .await?;
    let mut buf: Vec<u8> = Vec::new();
    let mut line_no = 0u64;
    while let Some(chunk) = client.chunk(&mut resp).await? {
        buf.extend_from_slice(&chunk);
        let mut start = 0;
        while let Some(i) = buf[start..].iter().position(|&b| b == b'\n') {
            line_no += 1;
            if let Some(v) = parse_line(&buf[start..start + i], line_no)?
                && !each(Streamed::Row(v))?
            {
                return Ok(());
            }
            start += i + 1;
        }
        buf.drain(..start);
        if !each(Streamed::Chunk)? {
            return Ok(());
        }
    }
    if let Some(v) = parse_line(&buf, line_no + 1)? {
        each(Streamed::Row(v))?;
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
            let spec = serde_json::to_value(TaskSpec::GetParameterValues {
                names: args.names.clone(),
            })?;
            let target = resolved
                .clone()
                .unwrap_or_else(|| Resolved::Filter(ALL_DEVICES.to_owned()));
            let job = create_job(&client, &spec, &target, !args.no_connection_request)
                .await
                .map_err(explain)?;
            let id = job
                .get("id")
                .and_then(Value::as_i64)
                .ok_or_else(|| anyhow::anyhow!("the server's job has no id"))?;
            if std::io::stderr().is_terminal() {
                note(format!(
                    "job {id}: asking {} devices for fresh values",
                    job.get("total").and_then(Value::as_u64).unwrap_or(0)
                ));
            }
            let (_, timed_out) = wait_job(&client, id, Duration::from_secs(args.timeout)).await?;
            failures = report_job_failures(&client, id, timed_out, args.timeout).await?;
        }
        let mut query = vec![("names", args.names.join(","))];
        if let Some(r) = &resolved {
            query.push(r.parameter_query());
        }
        let mut out = output::stdout(args.client.format(), PARAM_COLUMNS, false);
        stream_parameters(&client, &query, |s| {
            match s {
                Streamed::Row(v) => {
                    out.row(&pick(&v, PARAM_COLUMNS))?;
                }
                // What one network chunk brought reaches the reader before the next is read.
                Streamed::Chunk => out.flush()?,
            }
            Ok(true)
        })
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
        // Without :TYPE the ACS picks the type per device when it sends the request (stored
        // type, data model, else the CPE's own answer), so every device of a job gets its own.
        let values: Vec<ParameterValue> = assignments
            .into_iter()
            .map(|a| {
                ParameterValue::new(
                    a.name,
                    a.value,
                    a.value_type.unwrap_or(acs_core::tasks::UNSPECIFIED_TYPE),
                )
            })
            .collect();
        let spec = serde_json::to_value(TaskSpec::SetParameterValues { values })?;
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
