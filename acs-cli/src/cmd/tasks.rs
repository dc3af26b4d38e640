//! `acs reboot`, `acs factory-reset`, `acs tasks …`, `acs faults …`, `acs jobs …`, and what
//! `acs set` and `acs get --live` share with them: sending one task definition to one device
//! (a task) or many (a bulk job), and waiting for the outcome.

use std::io::IsTerminal as _;
use std::time::Duration;

use acs_core::tasks::TaskSpec;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

use crate::Exit;
use crate::cmd::client::{
    self, ApiError, Client, ClientArgs, EXIT_PARTIAL, explain_filter, note, text,
};
use crate::cmd::nbi::AFTER_HELP;
use crate::cmd::outcome::{JOB_TASKS, connection_request_note, describe_failure, show_job};
use crate::cmd::output::{self, Column, Format, at, col, pick};

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

/// How a task reaches the devices, and whether to wait for it.
#[derive(Debug, Clone, Args)]
pub struct Delivery {
    /// Wake the devices with a connection request now [default] …
    #[arg(long, overrides_with = "no_connection_request")]
    pub connection_request: bool,
    /// … or leave the task for each device's next periodic Inform.
    #[arg(long)]
    pub no_connection_request: bool,
    /// Wait until the task is finished on every device, at most SECS seconds [default 120].
    /// Before other arguments, write it `--wait=SECS`.
    #[arg(long, value_name = "SECS", num_args = 0..=1, default_missing_value = "120")]
    pub wait: Option<u64>,
}

impl Delivery {
    fn connection_request(&self) -> bool {
        !self.no_connection_request
    }
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
    /// The `devices`/`filter` members of a job.
    pub fn job_target(&self) -> (&'static str, Value) {
        match self {
            Resolved::Devices(ids) => ("devices", json!(ids)),
            Resolved::Filter(f) => ("filter", json!(f)),
        }
    }

    /// The query parameter of the bulk parameter query.
    pub fn parameter_query(&self) -> (&'static str, String) {
        match self {
            Resolved::Devices(ids) => ("devices", ids.join(",")),
            Resolved::Filter(f) => ("filter", f.clone()),
        }
    }

    /// How many devices it names (a filter is counted by the server).
    pub async fn count(&self, client: &Client) -> anyhow::Result<u64> {
        match self {
            Resolved::Devices(ids) => Ok(ids.len() as u64),
            Resolved::Filter(f) => count_devices(client, Some(f)).await,
        }
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

/// Columns of a task in listings.
pub const TASK_LIST: &[Column] = &[
    col("id"),
    col("device_id"),
    col("kind"),
    col("state"),
    col("attempts"),
    col("created_at"),
    col("finished_at"),
    col("job_id"),
    at("fault_code", "fault.code"),
    at("meaning", "fault.meaning"),
    at("fault_string", "fault.string"),
];

/// Columns of one task.
pub const TASK_SHOW: &[Column] = &[
    col("id"),
    col("device_id"),
    col("kind"),
    col("state"),
    col("attempts"),
    col("max_attempts"),
    col("created_at"),
    col("sent_at"),
    col("finished_at"),
    col("expires_at"),
    col("job_id"),
    col("definition"),
    col("result"),
    col("fault"),
    col("connection_request"),
];

const FAULT_LIST: &[Column] = &[
    col("id"),
    col("device_id"),
    col("kind"),
    at("fault_code", "fault.code"),
    at("meaning", "fault.meaning"),
    at("fault_string", "fault.string"),
    col("attempts"),
    col("finished_at"),
    col("job_id"),
];

const JOB_LIST: &[Column] = &[
    col("id"),
    at("kind", "definition.kind"),
    col("state"),
    col("total"),
    at("queued", "counts.queued"),
    at("sent", "counts.sent"),
    at("done", "counts.done"),
    at("fault", "counts.fault"),
    at("expired", "counts.expired"),
    at("cancelled", "counts.cancelled"),
    col("created_by"),
    col("created_at"),
    col("finished_at"),
];

const TASK_STATES: &[&str] = &[
    "held",
    "queued",
    "sent",
    "done",
    "fault",
    "expired",
    "cancelled",
];

fn is_final(state: &str) -> bool {
    // `held`: a rollout has not released the device's task yet.
    !matches!(state, "held" | "queued" | "sent")
}

fn failed(state: &str) -> bool {
    matches!(state, "fault" | "expired" | "cancelled")
}

// ---------------------------------------------------------------------------------------------
// reboot / factory-reset
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct ActionArgs {
    #[command(flatten)]
    pub target: Target,
    #[command(flatten)]
    pub delivery: Delivery,
    /// Do not ask for confirmation when several devices are affected (required when standard
    /// input is not a terminal).
    #[arg(short, long)]
    pub yes: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

/// What `acs reboot` / `acs factory-reset` do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Reboot,
    FactoryReset,
}

pub fn action(args: ActionArgs, action: Action) -> anyhow::Result<()> {
    let (spec, verb) = match action {
        Action::Reboot => (TaskSpec::Reboot {}, "Reboot"),
        Action::FactoryReset => (
            TaskSpec::FactoryReset {},
            "Reset to factory settings (erasing their configuration)",
        ),
    };
    // Refuse before any network traffic when the command line alone names several devices.
    let mut names = args.target.devices.clone();
    names.sort();
    names.dedup();
    if names.len() > 1 && !args.yes && !std::io::stdin().is_terminal() {
        client::confirm(&format!("{verb} {} devices", names.len()), false)?;
    }
    client::run(async move {
        let client = Client::new(&args.client)?;
        let resolved = resolve(&client, &args.target).await?;
        let count = resolved.count(&client).await?;
        let which = match &resolved {
            Resolved::Devices(_) => String::new(),
            Resolved::Filter(f) => format!(" matching `{f}`"),
        };
        if count == 0 {
            note(format!(
                "no device matches `{}`; nothing to do",
                text_of(&resolved)
            ));
            return Ok(());
        }
        if count > 1 {
            client::confirm(&format!("{verb} {count} devices{which}"), args.yes)?;
        }
        let spec = serde_json::to_value(&spec)?;
        submit(
            &client,
            args.client.format(),
            &spec,
            &resolved,
            &args.delivery,
        )
        .await
    })
}

/// How many devices match `filter` (all devices without one).
pub async fn count_devices(client: &Client, filter: Option<&str>) -> anyhow::Result<u64> {
    let query: Vec<_> = filter.iter().map(|f| ("filter", (*f).to_owned())).collect();
    let answer = client
        .get(client.url(&["devices", "count"], &query))
        .await
        .map_err(|e| match filter {
            Some(f) => explain_filter(e, f),
            None => e,
        })?;
    Ok(answer.get("count").and_then(Value::as_u64).unwrap_or(0))
}

fn text_of(r: &Resolved) -> String {
    match r {
        Resolved::Filter(f) => f.clone(),
        Resolved::Devices(d) => d.join(", "),
    }
}

/// Sends `spec` to the devices: a task for a single `-d` device, else a job. Prints the task or
/// job, waits when asked, and ends with exit code 3 when a device failed.
pub async fn submit(
    client: &Client,
    format: Format,
    spec: &Value,
    resolved: &Resolved,
    delivery: &Delivery,
) -> anyhow::Result<()> {
    match resolved {
        Resolved::Devices(ids) if ids.len() == 1 => {
            submit_task(client, format, spec, &ids[0], delivery).await
        }
        _ => {
            let job = create_job(client, spec, resolved, delivery.connection_request()).await?;
            let id = job_id(&job)?;
            let Some(secs) = delivery.wait else {
                show_job(client, format, job.clone()).await?;
                note(format!(
                    "job {id} created for {} devices; follow it with `acs jobs show {id} --tasks`",
                    job.get("total").and_then(Value::as_i64).unwrap_or(0)
                ));
                return Ok(());
            };
            let (job, timed_out) = wait_job(client, id, Duration::from_secs(secs)).await?;
            show_job(client, format, job).await?;
            let failures = report_job_failures(client, id, timed_out, secs).await?;
            if failures > 0 {
                return Err(Exit(EXIT_PARTIAL).into());
            }
            Ok(())
        }
    }
}

async fn submit_task(
    client: &Client,
    format: Format,
    spec: &Value,
    device: &str,
    delivery: &Delivery,
) -> anyhow::Result<()> {
    let mut query = vec![(
        "connection_request",
        delivery.connection_request().to_string(),
    )];
    if let Some(w) = delivery.wait {
        query.push(("wait", w.min(300).to_string()));
    }
    let started = tokio::time::Instant::now();
    let (_, mut task) = client
        .post(client.url(&["devices", device, "tasks"], &query), spec)
        .await?;
    if let Some(cr) = task.get("connection_request")
        && text(cr, "outcome") != "accepted"
        && !cr.is_null()
    {
        note(format!(
            "{device}: connection request {}: {}; the task waits for the device's next Inform",
            text(cr, "outcome"),
            text(cr, "detail")
        ));
    }
    let id = task
        .get("id")
        .and_then(Value::as_i64)
        .ok_or_else(|| anyhow::anyhow!("the server's task has no id"))?;
    if let Some(w) = delivery.wait {
        // The server waits at most 300 s; the rest is polled.
        let deadline = started + Duration::from_secs(w);
        let mut pause = Duration::from_millis(200);
        while !is_final(text(&task, "state")) && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(pause.min(deadline - tokio::time::Instant::now())).await;
            pause = (pause * 2).min(Duration::from_secs(2));
            task = client
                .get(client.url(&["tasks", &id.to_string()], &[]))
                .await?;
        }
    }
    output::show(format, TASK_SHOW, &task)?;
    let state = text(&task, "state");
    if failed(state) {
        note(describe_failure(&task));
        return Err(Exit(EXIT_PARTIAL).into());
    }
    if let Some(w) = delivery.wait
        && !is_final(state)
    {
        note(format!("{device}: task {id} is still {state} after {w} s"));
        return Err(Exit(EXIT_PARTIAL).into());
    }
    Ok(())
}

/// Creates a bulk job.
pub async fn create_job(
    client: &Client,
    spec: &Value,
    resolved: &Resolved,
    connection_request: bool,
) -> anyhow::Result<Value> {
    let (key, target) = resolved.job_target();
    let mut body = json!({"task": spec, "connection_request": connection_request});
    body[key] = target;
    let (_, job) = client
        .post(client.url(&["jobs"], &[]), &body)
        .await
        .map_err(|e| resolved.explain(e))?;
    Ok(job)
}

fn job_id(job: &Value) -> anyhow::Result<i64> {
    job.get("id")
        .and_then(Value::as_i64)
        .ok_or_else(|| anyhow::anyhow!("the server's job has no id"))
}

fn count(job: &Value, state: &str) -> u64 {
    job.get("counts")
        .and_then(|c| c.get(state))
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

/// Polls a job until it is no longer running (every task final) or `timeout` passes; shows a
/// progress bar on stderr when stderr is a terminal. Returns the job and whether time ran out.
pub async fn wait_job(
    client: &Client,
    id: i64,
    timeout: Duration,
) -> anyhow::Result<(Value, bool)> {
    let deadline = tokio::time::Instant::now() + timeout;
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} job {prefix}: [{bar:40}] {pos}/{len} devices ({msg}) {elapsed}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_prefix(id.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let url = client.url(&["jobs", &id.to_string()], &[]);
    let mut pause = Duration::from_millis(200);
    let result = loop {
        let job = match client.get(url.clone()).await {
            Ok(j) => j,
            Err(e) => {
                bar.abandon();
                return Err(e);
            }
        };
        let total = job.get("total").and_then(Value::as_u64).unwrap_or(0);
        let finished: u64 = ["done", "fault", "expired", "cancelled"]
            .iter()
            .map(|s| count(&job, s))
            .sum();
        bar.set_length(total);
        bar.set_position(finished);
        bar.set_message(format!(
            "{} done, {} failed",
            count(&job, "done"),
            finished - count(&job, "done")
        ));
        if text(&job, "state") != "running" {
            break (job, false);
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            break (job, true);
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    };
    bar.finish_and_clear();
    Ok(result)
}

/// Prints one stderr line per device whose task failed (or is still pending when time ran
/// out); returns how many.
pub async fn report_job_failures(
    client: &Client,
    id: i64,
    timed_out: bool,
    secs: u64,
) -> anyhow::Result<usize> {
    let mut states = vec!["fault", "expired", "cancelled"];
    if timed_out {
        states.extend(["queued", "sent"]);
    }
    let mut n = 0;
    let job = id.to_string();
    for state in states {
        client
            .pages(
                &["jobs", &job, "tasks"],
                &[("state", state.to_owned())],
                "tasks",
                None,
                |t| {
                    n += 1;
                    if is_final(state) {
                        note(describe_failure(&t));
                    } else {
                        note(format!(
                            "{}: no answer within {secs} s (task {} still {state}{})",
                            text(&t, "device_id"),
                            t.get("id").map(Value::to_string).unwrap_or_default(),
                            connection_request_note(&t)
                        ));
                    }
                    Ok(())
                },
            )
            .await?;
    }
    if timed_out {
        note(format!(
            "job {id} is still running; follow it with `acs jobs show {id} --tasks`"
        ));
    }
    Ok(n)
}

// ---------------------------------------------------------------------------------------------
// tasks
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Subcommand)]
pub enum TasksCommand {
    /// List tasks, oldest first.
    List(TaskListArgs),
    /// Show one task with its definition, result and fault.
    Show(TaskIdArgs),
    /// Cancel a queued task.
    Cancel(TaskIdArgs),
    /// Queue a task that faulted, expired or was cancelled again (as a new task).
    Retry(TaskIdArgs),
}

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct TaskListArgs {
    /// Only this device's tasks (id, serial number or MAC).
    #[arg(short = 'd', long = "device", value_name = "DEVICE")]
    pub device: Option<String>,
    /// Only tasks in this state.
    #[arg(long, value_name = "STATE", value_parser = clap::builder::PossibleValuesParser::new(TASK_STATES))]
    pub state: Option<String>,
    /// Only this job's tasks.
    #[arg(long, value_name = "N")]
    pub job: Option<i64>,
    /// Only this kind (reboot, set_parameter_values, …).
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    /// At most N tasks [default: all].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct TaskIdArgs {
    /// The task id.
    #[arg(value_name = "ID")]
    pub id: i64,
    #[command(flatten)]
    pub client: ClientArgs,
}

fn limit(l: Option<u64>) -> Option<usize> {
    l.map(|l| usize::try_from(l).unwrap_or(usize::MAX))
}

pub fn tasks(command: TasksCommand) -> anyhow::Result<()> {
    client::run(async move {
        match command {
            TasksCommand::List(a) => {
                let client = Client::new(&a.client)?;
                let mut query = Vec::new();
                if let Some(d) = &a.device {
                    query.push(("device", client.resolve_id(d).await?));
                }
                if let Some(s) = &a.state {
                    query.push(("state", s.clone()));
                }
                if let Some(j) = a.job {
                    query.push(("job", j.to_string()));
                }
                if let Some(k) = &a.kind {
                    query.push(("kind", k.clone()));
                }
                list(
                    &client,
                    a.client.format(),
                    &["tasks"],
                    &query,
                    "tasks",
                    TASK_LIST,
                    limit(a.limit),
                )
                .await
            }
            TasksCommand::Show(a) => {
                let client = Client::new(&a.client)?;
                let task = client
                    .get(client.url(&["tasks", &a.id.to_string()], &[]))
                    .await
                    .map_err(|e| not_found(e, "task", a.id))?;
                output::show(a.client.format(), TASK_SHOW, &task)
            }
            TasksCommand::Cancel(a) => {
                let client = Client::new(&a.client)?;
                let (_, task) = client
                    .post(
                        client.url(&["tasks", &a.id.to_string(), "cancel"], &[]),
                        &json!({}),
                    )
                    .await
                    .map_err(|e| not_found(e, "task", a.id))?;
                output::show(a.client.format(), TASK_SHOW, &task)
            }
            TasksCommand::Retry(a) => {
                let client = Client::new(&a.client)?;
                let (_, task) = client
                    .post(
                        client.url(&["tasks", &a.id.to_string(), "retry"], &[]),
                        &json!({}),
                    )
                    .await
                    .map_err(|e| not_found(e, "task", a.id))?;
                note(format!(
                    "task {} queued again as task {}",
                    a.id,
                    task.get("id").map(Value::to_string).unwrap_or_default()
                ));
                output::show(a.client.format(), TASK_SHOW, &task)
            }
        }
    })
}

pub(crate) fn not_found(e: anyhow::Error, what: &str, id: i64) -> anyhow::Error {
    match e.downcast_ref::<ApiError>() {
        Some(a) if a.status == 404 => anyhow::anyhow!("no {what} {id}"),
        _ => e,
    }
}

async fn list(
    client: &Client,
    format: Format,
    segments: &[&str],
    query: &[(&str, String)],
    key: &str,
    columns: &[Column],
    limit: Option<usize>,
) -> anyhow::Result<()> {
    let mut out = output::stdout(format, columns, false);
    client
        .pages(segments, query, key, limit, |t| {
            out.row(&pick(&t, columns))?;
            Ok(())
        })
        .await?;
    out.finish()?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// faults
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Subcommand)]
pub enum FaultsCommand {
    /// List faults not yet cleared.
    List(FaultListArgs),
    /// Clear one fault (by task id), a device's faults (-d), or all faults.
    Clear(FaultClearArgs),
}

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct FaultListArgs {
    /// Only this device's faults (id, serial number or MAC).
    #[arg(short = 'd', long = "device", value_name = "DEVICE")]
    pub device: Option<String>,
    /// At most N faults [default: all].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct FaultClearArgs {
    /// Clear this device's faults (id, serial number or MAC).
    #[arg(
        short = 'd',
        long = "device",
        value_name = "DEVICE",
        conflicts_with = "id"
    )]
    pub device: Option<String>,
    /// Clear this one fault (its task id). Without it or -d, every fault is cleared.
    #[arg(value_name = "ID")]
    pub id: Option<i64>,
    #[command(flatten)]
    pub client: ClientArgs,
}

pub fn faults(command: FaultsCommand) -> anyhow::Result<()> {
    client::run(async move {
        match command {
            FaultsCommand::List(a) => {
                let client = Client::new(&a.client)?;
                let mut query = Vec::new();
                if let Some(d) = &a.device {
                    query.push(("device", client.resolve_id(d).await?));
                }
                list(
                    &client,
                    a.client.format(),
                    &["faults"],
                    &query,
                    "faults",
                    FAULT_LIST,
                    limit(a.limit),
                )
                .await
            }
            FaultsCommand::Clear(a) => {
                let client = Client::new(&a.client)?;
                if let Some(id) = a.id {
                    client
                        .call(
                            Method::DELETE,
                            client.url(&["faults", &id.to_string()], &[]),
                        )
                        .await
                        .map_err(|e| not_found(e, "fault", id))?;
                    note(format!("cleared fault {id}"));
                    return Ok(());
                }
                let body = match &a.device {
                    Some(d) => json!({"device": client.resolve_id(d).await?}),
                    None => json!({}),
                };
                let (_, answer) = client
                    .post(client.url(&["faults", "clear"], &[]), &body)
                    .await?;
                note(format!(
                    "cleared {} faults",
                    answer.get("cleared").and_then(Value::as_u64).unwrap_or(0)
                ));
                Ok(())
            }
        }
    })
}

// ---------------------------------------------------------------------------------------------
// jobs
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// List bulk jobs, newest first.
    List(JobListArgs),
    /// Show a job's progress, or with --tasks its outcome per device.
    Show(JobShowArgs),
    /// Cancel a job: its queued tasks are cancelled.
    Cancel(JobIdArgs),
}

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct JobListArgs {
    /// At most N jobs [default: all the server returns].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct JobShowArgs {
    /// The job id.
    #[arg(value_name = "ID")]
    pub id: i64,
    /// List the job's task on every device (the per-device outcome) instead of the summary.
    #[arg(long)]
    pub tasks: bool,
    /// With --tasks: only tasks in this state.
    #[arg(long, value_name = "STATE", requires = "tasks", value_parser = clap::builder::PossibleValuesParser::new(TASK_STATES))]
    pub state: Option<String>,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct JobIdArgs {
    /// The job id.
    #[arg(value_name = "ID")]
    pub id: i64,
    #[command(flatten)]
    pub client: ClientArgs,
}

pub fn jobs(command: JobsCommand) -> anyhow::Result<()> {
    client::run(async move {
        match command {
            JobsCommand::List(a) => {
                let client = Client::new(&a.client)?;
                list(
                    &client,
                    a.client.format(),
                    &["jobs"],
                    &[],
                    "jobs",
                    JOB_LIST,
                    limit(a.limit),
                )
                .await
            }
            JobsCommand::Show(a) => {
                let client = Client::new(&a.client)?;
                let id = a.id.to_string();
                let job = client
                    .get(client.url(&["jobs", &id], &[]))
                    .await
                    .map_err(|e| not_found(e, "job", a.id))?;
                if !a.tasks {
                    return show_job(&client, a.client.format(), job).await;
                }
                note(format!(
                    "job {id} ({}): {}, {} devices: {} queued, {} sent, {} done, {} fault, {} \
                     expired, {} cancelled",
                    job.get("definition")
                        .map(|d| text(d, "kind"))
                        .unwrap_or_default(),
                    text(&job, "state"),
                    job.get("total").and_then(Value::as_u64).unwrap_or(0),
                    count(&job, "queued"),
                    count(&job, "sent"),
                    count(&job, "done"),
                    count(&job, "fault"),
                    count(&job, "expired"),
                    count(&job, "cancelled"),
                ));
                let query: Vec<_> = a.state.iter().map(|s| ("state", s.clone())).collect();
                list(
                    &client,
                    a.client.format(),
                    &["jobs", &id, "tasks"],
                    &query,
                    "tasks",
                    JOB_TASKS,
                    None,
                )
                .await
            }
            JobsCommand::Cancel(a) => {
                let client = Client::new(&a.client)?;
                let (_, job) = client
                    .post(
                        client.url(&["jobs", &a.id.to_string(), "cancel"], &[]),
                        &json!({}),
                    )
                    .await
                    .map_err(|e| not_found(e, "job", a.id))?;
                show_job(&client, a.client.format(), job).await
            }
        }
    })
}
