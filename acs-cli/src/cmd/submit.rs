//! Sending a task definition to devices (one task or a bulk job) and following it to the end.

use std::io::IsTerminal as _;
use std::time::Duration;

use acs_api::{
    CreateJob, CreateTaskQuery, Job, JobStateName, JobTasksQuery, Task, TaskDefinition,
    TaskStateName,
};
use clap::Args;

use crate::Exit;
use crate::cmd::client::{Cli as _, Client, EXIT_PARTIAL, note, pages};
use crate::cmd::outcome::{connection_request_note, describe_failure, show_job};
use crate::cmd::output::{self, Column, Format, at, col};
use crate::cmd::target::Resolved;
use acs_api::ClientError;

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
    /// Send and wake only inside this maintenance window, e.g. 'Mon-Fri 01:00-05:00
    /// Europe/Oslo' (days, local times, a tz database zone); work still queued when it closes
    /// waits for the next one.
    #[arg(long, value_name = "WINDOW")]
    pub window: Option<String>,
}

impl Delivery {
    fn connection_request(&self) -> bool {
        !self.no_connection_request
    }
}

/// How a push reaches the devices and whether to follow it (firmware, CA and configuration
/// pushes share them).
#[derive(Debug, Clone, Args)]
pub struct PushOptions {
    /// Leave the Download for each device's next Inform instead of waking it now.
    #[arg(long)]
    pub no_connection_request: bool,
    /// Follow the push until it ends (at most SECS seconds) and print a per-device report.
    #[arg(long, value_name = "SECS", num_args = 0..=1, default_missing_value = "3600")]
    pub wait: Option<u64>,
    /// Do not ask before pushing to more than one device.
    #[arg(long)]
    pub yes: bool,
    /// Send and wake only inside this maintenance window, e.g. 'Mon-Fri 01:00-05:00
    /// Europe/Oslo' (days, local times, a tz database zone); work still queued when it closes
    /// waits for the next one.
    #[arg(long, value_name = "WINDOW")]
    pub window: Option<String>,
}

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

/// Columns of a rollout's per-device report.
const REPORT: &[Column] = &[
    col("device_id"),
    at("rollout_state", "rollout.state"),
    at("task_id", "id"),
    at("fault_code", "rollout.fault_code"),
    at("meaning", "rollout.meaning"),
    at("fault_string", "rollout.fault_string"),
];

fn failed(state: TaskStateName) -> bool {
    matches!(
        state,
        TaskStateName::Fault | TaskStateName::Expired | TaskStateName::Cancelled
    )
}

/// Sends `spec` to the devices: a task for a single `-d` device, else a job. Prints the task or
/// job, waits when asked, and ends with exit code 3 when a device failed.
pub async fn submit(
    client: &Client,
    format: Format,
    spec: &TaskDefinition,
    resolved: &Resolved,
    delivery: &Delivery,
) -> anyhow::Result<()> {
    match resolved {
        // A window is a job's: one device with a window gets a job of one.
        Resolved::Devices(ids) if ids.len() == 1 && delivery.window.is_none() => {
            submit_task(client, format, spec, &ids[0], delivery).await
        }
        _ => {
            let job = create_job(
                client,
                spec,
                resolved,
                delivery.connection_request(),
                delivery.window.clone(),
            )
            .await?;
            let id = job.id;
            let Some(secs) = delivery.wait else {
                let total = job.total;
                show_job(client, format, job).await?;
                note(format!(
                    "job {id} created for {total} devices; follow it with `acs jobs show {id} --tasks`"
                ));
                return Ok(());
            };
            // Said first, so whatever ends the wait (a timeout, Ctrl-C, a lost server), the
            // operator knows what to follow.
            note(format!(
                "job {id} created for {} devices; waiting up to {secs} s (`acs jobs show {id}` follows it)",
                job.total
            ));
            let (job, timed_out) = wait_job(client, id, Duration::from_secs(secs))
                .await
                .map_err(|e| e.context(format!("following job {id}")))?;
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
    spec: &TaskDefinition,
    device: &str,
    delivery: &Delivery,
) -> anyhow::Result<()> {
    // Created without the server's own wait: the id comes back at once, so a wait that
    // outlives a restart of the ACS still knows which task it follows.
    let query = CreateTaskQuery {
        connection_request: delivery.connection_request(),
        ..CreateTaskQuery::default()
    };
    let started = tokio::time::Instant::now();
    let mut task: Task = client.create_task(device, &query, spec).await.cli()?;
    let name = output::friendly_device(device);
    if let Some(cr) = &task.connection_request
        && !cr.accepted()
    {
        note(format!(
            "{name}: connection request {}: {}; the task waits for the device's next Inform",
            cr.outcome, cr.detail
        ));
    }
    let id = task.id;
    if let Some(w) = delivery.wait {
        if !task.state.is_final() {
            note(format!(
                "{name}: task {id} created; waiting up to {w} s (`acs tasks show {id}` follows it)"
            ));
        }
        let deadline = started + Duration::from_secs(w);
        let mut pause = Duration::from_millis(100);
        while !task.state.is_final() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(pause.min(deadline - tokio::time::Instant::now())).await;
            pause = (pause * 2).min(Duration::from_secs(1));
            match reread(&format!("task {id}"), deadline, || client.task(id)).await? {
                Some(t) => task = t,
                None => break,
            }
        }
    }
    output::show(format, TASK_SHOW, &task)?;
    let state = task.state;
    if failed(state) {
        note(describe_failure(&task));
        return Err(Exit(EXIT_PARTIAL).into());
    }
    if let Some(w) = delivery.wait
        && !state.is_final()
    {
        note(format!("{name}: task {id} is still {state} after {w} s"));
        return Err(Exit(EXIT_PARTIAL).into());
    }
    Ok(())
}

/// Whether a failed call may succeed if made again: the ACS is restarting or unreachable for
/// a moment (no answer, or a gateway's 502/503/504), as opposed to an answer that says no.
fn transient(e: &ClientError) -> bool {
    match e {
        ClientError::Transport { .. } => true,
        ClientError::Api(a) => matches!(a.status, 502..=504),
        _ => false,
    }
}

/// Makes `fetch` until it answers, riding out a restart of the ACS: a transient failure is
/// retried with backoff (0.5 s, doubling to 5 s) until `deadline`, said once on stderr, and
/// the return said too. `Ok(None)`: the ACS stayed away until the deadline.
pub async fn reread<T, F, Fut>(
    what: &str,
    deadline: tokio::time::Instant,
    mut fetch: F,
) -> anyhow::Result<Option<T>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ClientError>>,
{
    let mut pause = Duration::from_millis(500);
    let mut lost = false;
    loop {
        match fetch().await {
            Ok(v) => {
                if lost {
                    note(format!("{what}: the ACS answers again"));
                }
                return Ok(Some(v));
            }
            Err(e) if transient(&e) => {
                if !lost {
                    note(format!(
                        "{what}: lost the ACS ({}); retrying until the wait ends",
                        crate::cmd::client::describe(&e)
                    ));
                    lost = true;
                }
                let now = tokio::time::Instant::now();
                if now >= deadline {
                    return Ok(None);
                }
                tokio::time::sleep(pause.min(deadline - now)).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(e).cli(),
        }
    }
}

/// Creates a bulk job.
pub async fn create_job(
    client: &Client,
    spec: &TaskDefinition,
    resolved: &Resolved,
    connection_request: bool,
    window: Option<String>,
) -> anyhow::Result<Job> {
    let mut body = CreateJob::new(spec, resolved.job_target());
    body.connection_request = connection_request;
    body.window = window;
    client
        .create_job(&body)
        .await
        .cli()
        .map_err(|e| resolved.explain(e))
}

/// Polls a job until it is no longer running (every task final) or `timeout` passes; shows a
/// progress bar on stderr when stderr is a terminal. Returns the job and whether time ran out.
pub async fn wait_job(client: &Client, id: i64, timeout: Duration) -> anyhow::Result<(Job, bool)> {
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
    let mut pause = Duration::from_millis(200);
    let mut last: Option<Job> = None;
    let result = loop {
        let job = match reread(&format!("job {id}"), deadline, || client.job(id)).await {
            Ok(Some(j)) => j,
            // The ACS stayed away until the wait ended: the last state read stands.
            Ok(None) => match last.take() {
                Some(j) => break (j, true),
                None => {
                    bar.abandon();
                    anyhow::bail!("the ACS did not answer before the wait ended");
                }
            },
            Err(e) => {
                bar.abandon();
                return Err(e);
            }
        };
        let finished = job.counts.finished();
        bar.set_length(u64::try_from(job.total).unwrap_or(0));
        bar.set_position(u64::try_from(finished).unwrap_or(0));
        bar.set_message(format!(
            "{} done, {} failed",
            job.counts.done,
            finished - job.counts.done
        ));
        if job.state != JobStateName::Running {
            break (job, false);
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            break (job, true);
        }
        last = Some(job);
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
    let mut states = vec![
        TaskStateName::Fault,
        TaskStateName::Expired,
        TaskStateName::Cancelled,
    ];
    if timed_out {
        states.extend([TaskStateName::Queued, TaskStateName::Sent]);
    }
    let mut n = 0;
    for state in states {
        pages(
            None,
            |after, limit| async move {
                let q = JobTasksQuery {
                    state: Some(state.as_str().to_owned()),
                    limit: Some(limit),
                    after,
                };
                let page = client.job_tasks(id, &q).await.cli()?;
                Ok((page.tasks, page.next))
            },
            |t: Task| {
                n += 1;
                if state.is_final() {
                    note(describe_failure(&t));
                } else {
                    note(format!(
                        "{}: no answer within {secs} s (task {} still {state}{})",
                        t.device_id,
                        t.id,
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

fn counts_line(job: &Job) -> String {
    let r = &job.rollout;
    format!(
        "{}: pending {}, queued {}, sent {}, transferring {}, installed {}, verified {}, failed {}, \
         cancelled {}",
        job.state,
        r.pending,
        r.queued,
        r.sent,
        r.transferring,
        r.installed,
        r.verified,
        r.failed,
        r.cancelled
    )
}

/// Polls the rollout until it ends or `wait` passes, then prints the per-device report.
pub async fn follow(
    client: &Client,
    id: i64,
    wait: Duration,
    format: output::Format,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + wait;
    let tty = std::io::stderr().is_terminal();
    let mut last = String::new();
    let mut seen: Option<Job> = None;
    let job = loop {
        let job = match reread(&format!("rollout {id}"), deadline, || client.job(id)).await? {
            Some(job) => job,
            None => match seen.take() {
                Some(job) => break job,
                None => anyhow::bail!("rollout {id}: the ACS did not answer before the wait ended"),
            },
        };
        let line = counts_line(&job);
        if line != last {
            // A terminal gets one line rewritten in place; a log gets each change once.
            if tty {
                eprint!("\r\x1b[2K{line}");
            } else {
                note(&line);
            }
            last = line;
        }
        if job.state != JobStateName::Running || tokio::time::Instant::now() >= deadline {
            break job;
        }
        seen = Some(job);
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    if tty {
        eprintln!();
    }
    let mut rows = Vec::new();
    pages(
        None,
        |after, limit| async move {
            let q = JobTasksQuery {
                limit: Some(limit),
                after,
                ..JobTasksQuery::default()
            };
            let page = client.job_tasks(id, &q).await.cli()?;
            Ok((page.tasks, page.next))
        },
        |t: Task| {
            rows.push(t);
            Ok(())
        },
    )
    .await?;
    let mut out = output::stdout(format, REPORT, false);
    for t in &rows {
        out.row(&output::pick(t, REPORT))?;
    }
    out.finish()?;
    let failed = job.rollout.failed;
    if job.state == JobStateName::Running {
        note(format!(
            "rollout {id} is still running after the wait; follow it with `acs jobs show {id}`"
        ));
        return Err(Exit(EXIT_PARTIAL).into());
    }
    if job.state == JobStateName::Stopped {
        note(format!(
            "rollout {id} stopped: {}",
            job.stop_reason.as_deref().unwrap_or("too many failures")
        ));
        return Err(Exit(EXIT_PARTIAL).into());
    }
    if failed > 0 {
        note(format!("{failed} devices failed"));
        return Err(Exit(EXIT_PARTIAL).into());
    }
    Ok(())
}
