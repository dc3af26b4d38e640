//! Sending a task definition to devices (one task or a bulk job) and following it to the end.

use std::io::IsTerminal as _;
use std::time::Duration;

use clap::Args;
use serde_json::{Value, json};

use crate::Exit;
use crate::cmd::client::{Client, EXIT_PARTIAL, note, text};
use crate::cmd::outcome::{connection_request_note, describe_failure, show_job};
use crate::cmd::output::{self, Column, Format, at, col};
use crate::cmd::target::Resolved;

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

fn is_final(state: &str) -> bool {
    // `held`: a rollout has not released the device's task yet.
    !matches!(state, "held" | "queued" | "sent")
}

fn failed(state: &str) -> bool {
    matches!(state, "fault" | "expired" | "cancelled")
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

/// How many of a job's tasks are in `state`.
pub fn count(job: &Value, state: &str) -> u64 {
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

fn counts_line(job: &Value) -> String {
    let r = &job["rollout"];
    let n = |k: &str| r[k].as_i64().unwrap_or(0);
    format!(
        "{}: pending {}, queued {}, sent {}, transferring {}, installed {}, verified {}, failed {}, \
         cancelled {}",
        text(job, "state"),
        n("pending"),
        n("queued"),
        n("sent"),
        n("transferring"),
        n("installed"),
        n("verified"),
        n("failed"),
        n("cancelled")
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
    let job = loop {
        let job = client
            .get(client.url(&["jobs", &id.to_string()], &[]))
            .await?;
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
        if text(&job, "state") != "running" || tokio::time::Instant::now() >= deadline {
            break job;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    if tty {
        eprintln!();
    }
    let mut rows = Vec::new();
    let mut after: Option<i64> = None;
    loop {
        let mut query = vec![("limit", "1000".to_owned())];
        if let Some(a) = after {
            query.push(("after", a.to_string()));
        }
        let page = client
            .get(client.url(&["jobs", &id.to_string(), "tasks"], &query))
            .await?;
        rows.extend(page["tasks"].as_array().into_iter().flatten().cloned());
        match page["next"].as_i64() {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    let mut out = output::stdout(format, REPORT, false);
    for t in &rows {
        out.row(&output::pick(t, REPORT))?;
    }
    out.finish()?;
    let state = text(&job, "state");
    let failed = job["rollout"]["failed"].as_i64().unwrap_or(0);
    if state == "running" {
        note(format!(
            "rollout {id} is still running after the wait; follow it with `acs jobs show {id}`"
        ));
        return Err(Exit(EXIT_PARTIAL).into());
    }
    if state == "stopped" {
        note(format!(
            "rollout {id} stopped: {}",
            job["stop_reason"].as_str().unwrap_or("too many failures")
        ));
        return Err(Exit(EXIT_PARTIAL).into());
    }
    if failed > 0 {
        note(format!("{failed} devices failed"));
        return Err(Exit(EXIT_PARTIAL).into());
    }
    Ok(())
}
