//! Counts for the fleet's gauges (`/metrics`), read at each presence sweep: devices by product
//! class, unfinished tasks by kind and state, jobs by state and the tasks of running jobs by
//! state. Each is one grouped query over an index or a small table.

use sea_orm::FromQueryResult;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Order, Query};

use crate::storage::{Store, StoreError};

/// Product classes a gauge names one by one; the rest are `other`, so devices cannot grow the
/// label set.
pub const TOP_PRODUCT_CLASSES: usize = 20;

/// The counts behind the fleet gauges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Census {
    /// Devices per product class: the most common ones, then `other`.
    pub product_classes: Vec<(String, u64)>,
    /// Held, queued and sent tasks per (kind, state).
    pub tasks: Vec<(String, String, u64)>,
    /// Jobs (bulk jobs and rollouts) per state.
    pub jobs: Vec<(String, u64)>,
    /// Tasks of running jobs per state: where the devices of the running work stand.
    pub job_tasks: Vec<(String, u64)>,
}

#[derive(Debug, FromQueryResult)]
struct One {
    a: Option<String>,
    n: i64,
}

#[derive(Debug, FromQueryResult)]
struct Two {
    a: String,
    b: String,
    n: i64,
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl Store {
    /// Reads the counts behind the fleet gauges.
    pub async fn census(&self) -> Result<Census, StoreError> {
        let backend = self.read.get_database_backend();
        let id = || Expr::col(Alias::new("id")).count();
        let classes = Query::select()
            .expr_as(Expr::col(Alias::new("product_class")), "a")
            .expr_as(id(), "n")
            .from(Alias::new("devices"))
            .group_by_col(Alias::new("product_class"))
            .order_by_expr(id(), Order::Desc)
            .to_owned();
        let mut product_classes = Vec::new();
        let mut other = 0;
        for (i, row) in One::find_by_statement(backend.build(&classes))
            .all(&self.read)
            .await?
            .into_iter()
            .enumerate()
        {
            match row.a.filter(|_| i < TOP_PRODUCT_CLASSES) {
                Some(class) => product_classes.push((class, count(row.n))),
                None => other += count(row.n),
            }
        }
        product_classes.push(("other".into(), other));

        let unfinished = ["held", "queued", "sent"];
        let tasks = Query::select()
            .expr_as(Expr::col(Alias::new("kind")), "a")
            .expr_as(Expr::col(Alias::new("state")), "b")
            .expr_as(id(), "n")
            .from(Alias::new("tasks"))
            .and_where(Expr::col(Alias::new("state")).is_in(unfinished))
            .group_by_col(Alias::new("kind"))
            .group_by_col(Alias::new("state"))
            .to_owned();
        let tasks = Two::find_by_statement(backend.build(&tasks))
            .all(&self.read)
            .await?
            .into_iter()
            .map(|r| (r.a, r.b, count(r.n)))
            .collect();

        let jobs_query = Query::select()
            .expr_as(Expr::col(Alias::new("state")), "a")
            .expr_as(id(), "n")
            .from(Alias::new("jobs"))
            .group_by_col(Alias::new("state"))
            .to_owned();
        // Every state is a series from the start, at 0 when no job is in it.
        let mut jobs: Vec<(String, u64)> = ["running", "finished", "cancelled", "stopped"]
            .into_iter()
            .map(|s| (s.to_owned(), 0))
            .collect();
        for r in One::find_by_statement(backend.build(&jobs_query))
            .all(&self.read)
            .await?
        {
            let Some(state) = r.a else { continue };
            match jobs.iter_mut().find(|(s, _)| *s == state) {
                Some(j) => j.1 = count(r.n),
                None => jobs.push((state, count(r.n))),
            }
        }

        let running = Query::select()
            .column(Alias::new("id"))
            .from(Alias::new("jobs"))
            .and_where(Expr::col(Alias::new("state")).eq("running"))
            .to_owned();
        let job_tasks_query = Query::select()
            .expr_as(Expr::col(Alias::new("state")), "a")
            .expr_as(id(), "n")
            .from(Alias::new("tasks"))
            .and_where(Expr::col(Alias::new("job_id")).in_subquery(running))
            .group_by_col(Alias::new("state"))
            .to_owned();
        let mut job_tasks: Vec<(String, u64)> = [
            "held",
            "queued",
            "sent",
            "done",
            "fault",
            "expired",
            "cancelled",
        ]
        .into_iter()
        .map(|s| (s.to_owned(), 0))
        .collect();
        for r in One::find_by_statement(backend.build(&job_tasks_query))
            .all(&self.read)
            .await?
        {
            let Some(state) = r.a else { continue };
            match job_tasks.iter_mut().find(|(s, _)| *s == state) {
                Some(j) => j.1 = count(r.n),
                None => job_tasks.push((state, count(r.n))),
            }
        }
        Ok(Census {
            product_classes,
            tasks,
            jobs,
            job_tasks,
        })
    }
}
