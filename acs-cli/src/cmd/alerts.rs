//! `acs alerts …`: webhook deliveries of alerts, and a test alert to check a receiver.

use acs_api::{AlertListQuery, AlertTestQuery, DeliveryStateName};
use clap::{Args, Subcommand};

use crate::cmd::client::{self, AFTER_HELP, Cli as _, Client, ClientArgs};
use crate::cmd::output::{self, Column, col, wide};

const COLUMNS: &[Column] = &[
    col("id"),
    col("created_at"),
    col("webhook"),
    col("event"),
    col("state"),
    col("attempts"),
    col("last_error"),
    wide("next_attempt_at"),
    wide("delivered_at"),
    wide("key"),
];

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Queue a test alert (event `test`) to every webhook, or to one (admin token). The
    /// server delivers it like any alert; `acs alerts list` shows how that went.
    Test(TestArgs),
    /// Recent deliveries, newest first: webhook, event, state, attempts and the last error.
    List(ListArgs),
}

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct TestArgs {
    /// Only this webhook (its `name` in `[[alerts.webhooks]]`).
    #[arg(long, value_name = "NAME")]
    pub webhook: Option<String>,
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct ListArgs {
    /// Only deliveries in this state.
    #[arg(long, value_name = "STATE", value_parser = ["pending", "delivered", "failed"])]
    pub state: Option<String>,
    /// How many, 1–1000.
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub limit: u64,
    #[command(flatten)]
    pub client: ClientArgs,
}

pub fn run(command: AlertsCommand) -> anyhow::Result<()> {
    client::run(async move {
        match command {
            AlertsCommand::Test(a) => {
                let client = Client::new(&a.client)?;
                let queued = client
                    .test_alert(&AlertTestQuery { webhook: a.webhook })
                    .await
                    .cli()?;
                let columns = &[col("webhook")];
                let mut out = output::stdout(a.client.format(), columns, false);
                for webhook in queued.webhooks {
                    out.row(&[serde_json::Value::String(webhook)])?;
                }
                out.finish()?;
                client::note("test alert queued; `acs alerts list` shows its delivery");
                Ok(())
            }
            AlertsCommand::List(a) => {
                let client = Client::new(&a.client)?;
                let state = a
                    .state
                    .as_deref()
                    .map(str::parse::<DeliveryStateName>)
                    .transpose()
                    .map_err(client::usage)?;
                let list = client
                    .list_alerts(&AlertListQuery {
                        state,
                        limit: Some(a.limit),
                    })
                    .await
                    .cli()?;
                let mut out = output::stdout(a.client.format(), COLUMNS, false);
                for d in &list.alerts {
                    out.row(&output::pick(d, COLUMNS))?;
                }
                out.finish()?;
                Ok(())
            }
        }
    })
}
