//! `acs reboot`, `acs factory-reset`, `acs tasks …`, `acs faults …` and `acs jobs …`.

use std::io::IsTerminal as _;

use acs_api::{
    ClearFaults, FaultListQuery, Job, JobListQuery, JobTasksQuery, Task, TaskDefinition,
    TaskListQuery,
};
use clap::{Args, Subcommand};

use crate::cmd::client::{
    self, AFTER_HELP, Cli as _, Client, ClientArgs, last_id, not_found, note, pages,
};
use crate::cmd::outcome::{JOB_TASKS, show_job};
use crate::cmd::output::{self, Column, at, col, pick};
use crate::cmd::submit::{Delivery, TASK_SHOW, submit};
use crate::cmd::target::{Resolved, Target, resolve};

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
        Action::Reboot => (TaskDefinition::Reboot {}, "Reboot"),
        Action::FactoryReset => (
            TaskDefinition::FactoryReset {},
            "Reset to factory settings (erasing their configuration)",
        ),
    };
    send(args, spec, verb)
}

/// Sends `spec` to the devices `args` names: a task for one device, a job for several, after
/// asking (stating `verb` and the count) when more than one is affected.
pub fn send(args: ActionArgs, spec: TaskDefinition, verb: &str) -> anyhow::Result<()> {
    let verb = verb.to_owned();
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

fn text_of(r: &Resolved) -> String {
    match r {
        Resolved::Filter(f) => f.clone(),
        Resolved::Devices(d) => d.join(", "),
    }
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
                let device = match &a.device {
                    Some(d) => Some(client.resolve_id(d).await?),
                    None => None,
                };
                let client = &client;
                let mut out = output::stdout(a.client.format(), TASK_LIST, false);
                pages(
                    limit(a.limit),
                    |after, n| {
                        let q = TaskListQuery {
                            device: device.clone(),
                            state: a.state.clone(),
                            job: a.job,
                            kind: a.kind.clone(),
                            limit: Some(n),
                            after,
                        };
                        async move {
                            let page = client.list_tasks(&q).await.cli()?;
                            Ok((page.tasks, page.next))
                        }
                    },
                    |t: Task| Ok(out.row(&pick(&t, TASK_LIST))?),
                )
                .await?;
                out.finish()?;
                Ok(())
            }
            TasksCommand::Show(a) => {
                let client = Client::new(&a.client)?;
                let task = client
                    .task(a.id)
                    .await
                    .cli()
                    .map_err(|e| not_found(e, "task", a.id))?;
                output::show(a.client.format(), TASK_SHOW, &task)
            }
            TasksCommand::Cancel(a) => {
                let client = Client::new(&a.client)?;
                let task = client
                    .cancel_task(a.id)
                    .await
                    .cli()
                    .map_err(|e| not_found(e, "task", a.id))?;
                output::show(a.client.format(), TASK_SHOW, &task)
            }
            TasksCommand::Retry(a) => {
                let client = Client::new(&a.client)?;
                let task = client
                    .retry_task(a.id)
                    .await
                    .cli()
                    .map_err(|e| not_found(e, "task", a.id))?;
                note(format!("task {} queued again as task {}", a.id, task.id));
                output::show(a.client.format(), TASK_SHOW, &task)
            }
        }
    })
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
    /// Do not ask before clearing every fault (needed without a terminal).
    #[arg(long)]
    pub yes: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

pub fn faults(command: FaultsCommand) -> anyhow::Result<()> {
    client::run(async move {
        match command {
            FaultsCommand::List(a) => {
                let client = Client::new(&a.client)?;
                let device = match &a.device {
                    Some(d) => Some(client.resolve_id(d).await?),
                    None => None,
                };
                let client = &client;
                let mut out = output::stdout(a.client.format(), FAULT_LIST, false);
                pages(
                    limit(a.limit),
                    |after, n| {
                        let q = FaultListQuery {
                            device: device.clone(),
                            limit: Some(n),
                            after,
                        };
                        async move {
                            let page = client.list_faults(&q).await.cli()?;
                            Ok((page.faults, page.next))
                        }
                    },
                    |t: Task| Ok(out.row(&pick(&t, FAULT_LIST))?),
                )
                .await?;
                out.finish()?;
                Ok(())
            }
            FaultsCommand::Clear(a) => {
                let client = Client::new(&a.client)?;
                if let Some(id) = a.id {
                    client
                        .clear_fault(id)
                        .await
                        .cli()
                        .map_err(|e| not_found(e, "fault", id))?;
                    note(format!("cleared fault {id}"));
                    return Ok(());
                }
                let body = ClearFaults {
                    device: match &a.device {
                        Some(d) => Some(client.resolve_id(d).await?),
                        None => None,
                    },
                };
                if body.device.is_none() {
                    // Every device's faults: counted, so the question says what it costs.
                    let mut count = 0usize;
                    pages(
                        None,
                        |after, limit| {
                            let client = &client;
                            async move {
                                let q = FaultListQuery {
                                    limit: Some(limit),
                                    after,
                                    ..FaultListQuery::default()
                                };
                                let page = client.list_faults(&q).await.cli()?;
                                Ok((page.faults, page.next))
                            }
                        },
                        |_: Task| {
                            count += 1;
                            Ok(())
                        },
                    )
                    .await?;
                    if count == 0 {
                        note("no faults to clear");
                        return Ok(());
                    }
                    client::confirm(&format!("Clear {count} faults on every device"), a.yes)?;
                }
                let answer = client.clear_faults(&body).await.cli()?;
                note(format!("cleared {} faults", answer.cleared));
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
                let client = &client;
                let mut out = output::stdout(a.client.format(), JOB_LIST, false);
                pages(
                    limit(a.limit),
                    // Jobs page by the last id seen, newest first.
                    |after, n| async move {
                        let q = JobListQuery {
                            limit: Some(n),
                            after,
                        };
                        let jobs = client.list_jobs(&q).await.cli()?.jobs;
                        let next = last_id(&jobs, n, |j: &Job| j.id);
                        Ok((jobs, next))
                    },
                    |j: Job| Ok(out.row(&pick(&j, JOB_LIST))?),
                )
                .await?;
                out.finish()?;
                Ok(())
            }
            JobsCommand::Show(a) => {
                let client = Client::new(&a.client)?;
                let id = a.id;
                let job = client
                    .job(id)
                    .await
                    .cli()
                    .map_err(|e| not_found(e, "job", id))?;
                if !a.tasks {
                    return show_job(&client, a.client.format(), job).await;
                }
                let c = &job.counts;
                note(format!(
                    "job {id} ({}): {}, {} devices: {} queued, {} sent, {} done, {} fault, {} \
                     expired, {} cancelled",
                    job.kind().unwrap_or_default(),
                    job.state,
                    job.total,
                    c.queued,
                    c.sent,
                    c.done,
                    c.fault,
                    c.expired,
                    c.cancelled,
                ));
                let client = &client;
                let mut out = output::stdout(a.client.format(), JOB_TASKS, false);
                pages(
                    None,
                    |after, n| {
                        let q = JobTasksQuery {
                            state: a.state.clone(),
                            limit: Some(n),
                            after,
                        };
                        async move {
                            let page = client.job_tasks(id, &q).await.cli()?;
                            Ok((page.tasks, page.next))
                        }
                    },
                    |t: Task| Ok(out.row(&pick(&t, JOB_TASKS))?),
                )
                .await?;
                out.finish()?;
                Ok(())
            }
            JobsCommand::Cancel(a) => {
                let client = Client::new(&a.client)?;
                let job = client
                    .cancel_job(a.id)
                    .await
                    .cli()
                    .map_err(|e| not_found(e, "job", a.id))?;
                show_job(&client, a.client.format(), job).await
            }
        }
    })
}
