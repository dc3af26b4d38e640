//! Roles hold on every route: one test walks every operation of `schemas/openapi.json` with no
//! token, a revoked token and each role, against the table of role decisions below. A route
//! added to the API without a row here fails the test, so every route gets a decision.

use acs_core::storage::Role;
use acs_tests::{Api, api_token, spawn_app};
use std::collections::BTreeSet;

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Needs {
    /// No token at all (tooling fetches the contract).
    Public,
    /// Any valid token: reads.
    Viewer,
    /// Changes devices, tasks, jobs, files, faults; or reveals secrets.
    Operator,
    /// Destroys data or changes what the ACS does to the whole fleet.
    Admin,
}

/// The role decision for every operation of the API. Keep it in the document's terms.
const DECISIONS: &[(&str, &str, Needs)] = &[
    ("GET", "/api/v1/alerts", Needs::Viewer),
    // Sends to every receiver: a misused test alert pages whoever is on call.
    ("POST", "/api/v1/alerts/test", Needs::Admin),
    // Rendering a template fills in the variables CSV: every phone's secrets.
    ("POST", "/api/v1/config/render", Needs::Operator),
    ("GET", "/api/v1/devices", Needs::Viewer),
    ("GET", "/api/v1/devices/count", Needs::Viewer),
    ("GET", "/api/v1/devices/resolve", Needs::Viewer),
    ("GET", "/api/v1/devices/{id}", Needs::Viewer),
    ("DELETE", "/api/v1/devices/{id}", Needs::Admin),
    ("GET", "/api/v1/devices/{id}/events", Needs::Viewer),
    ("GET", "/api/v1/devices/{id}/parameters", Needs::Viewer),
    ("GET", "/api/v1/devices/{id}/provisioning", Needs::Viewer),
    (
        "DELETE",
        "/api/v1/devices/{id}/provisioning",
        Needs::Operator,
    ),
    ("PUT", "/api/v1/devices/{id}/tags/{tag}", Needs::Operator),
    ("DELETE", "/api/v1/devices/{id}/tags/{tag}", Needs::Operator),
    ("GET", "/api/v1/devices/{id}/tasks", Needs::Viewer),
    ("POST", "/api/v1/devices/{id}/tasks", Needs::Operator),
    ("GET", "/api/v1/devices/{id}/transfers", Needs::Viewer),
    ("GET", "/api/v1/faults", Needs::Viewer),
    ("POST", "/api/v1/faults/clear", Needs::Operator),
    ("DELETE", "/api/v1/faults/{task_id}", Needs::Operator),
    ("GET", "/api/v1/files", Needs::Viewer),
    ("POST", "/api/v1/files", Needs::Operator),
    ("GET", "/api/v1/files/{id}", Needs::Viewer),
    ("DELETE", "/api/v1/files/{id}", Needs::Operator),
    ("GET", "/api/v1/jobs", Needs::Viewer),
    ("POST", "/api/v1/jobs", Needs::Operator),
    ("GET", "/api/v1/jobs/{id}", Needs::Viewer),
    ("POST", "/api/v1/jobs/{id}/cancel", Needs::Operator),
    ("GET", "/api/v1/jobs/{id}/tasks", Needs::Viewer),
    ("GET", "/api/v1/openapi.json", Needs::Public),
    ("GET", "/api/v1/parameters", Needs::Viewer),
    // Rules can carry parameter values such as SIP passwords.
    ("GET", "/api/v1/provision/rules", Needs::Operator),
    ("POST", "/api/v1/provision/rules", Needs::Admin),
    ("GET", "/api/v1/provision/rules/{name}", Needs::Operator),
    ("DELETE", "/api/v1/provision/rules/{name}", Needs::Admin),
    ("GET", "/api/v1/tasks", Needs::Viewer),
    ("GET", "/api/v1/tasks/{id}", Needs::Viewer),
    ("POST", "/api/v1/tasks/{id}/cancel", Needs::Operator),
    ("POST", "/api/v1/tasks/{id}/retry", Needs::Operator),
];

/// The operations the checked-in document lists, as (METHOD, path template).
fn documented_operations() -> BTreeSet<(String, String)> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/openapi.json");
    let text = std::fs::read_to_string(&path).expect("read schemas/openapi.json");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("openapi.json is JSON");
    let mut ops = BTreeSet::new();
    for (template, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            if ["get", "put", "post", "delete", "patch", "head", "options"]
                .contains(&method.as_str())
            {
                ops.insert((method.to_uppercase(), template.clone()));
            }
        }
    }
    ops
}

/// A concrete path for a template: numeric ids where the API takes numbers, so that a refusal
/// can only come from the role, never from a path that does not parse.
fn concrete(template: &str) -> String {
    template
        .replace("/devices/{id}", "/devices/no-such-device")
        .replace("{tag}", "lobby")
        .replace("{task_id}", "999999")
        .replace("{name}", "no-such-rule")
        .replace("{id}", "999999")
}

fn rank(role: Role) -> Needs {
    match role {
        Role::Viewer => Needs::Viewer,
        Role::Operator => Needs::Operator,
        Role::Admin => Needs::Admin,
    }
}

#[tokio::test]
async fn every_documented_route_has_a_role_decision_that_holds() {
    // 1. The table and the document list the same operations.
    let documented = documented_operations();
    let decided: BTreeSet<(String, String)> = DECISIONS
        .iter()
        .map(|(m, p, _)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    let undecided: Vec<_> = documented.difference(&decided).collect();
    assert!(
        undecided.is_empty(),
        "operations without a role decision in tests/e2e/roles.rs: {undecided:?}"
    );
    let stale: Vec<_> = decided.difference(&documented).collect();
    assert!(
        stale.is_empty(),
        "role decisions for operations the document no longer has: {stale:?}"
    );
    assert_eq!(
        decided.len(),
        DECISIONS.len(),
        "an operation is listed twice"
    );

    // 2. The server keeps every decision.
    let app = spawn_app().await;
    let revoked = api_token(&app, "revoked", Role::Admin).await;
    app.store.revoke_token("revoked").await.expect("revoke");
    let mut clients = vec![("no token", Api::new(&app, None), None)];
    clients.push(("revoked admin token", Api::new(&app, Some(&revoked)), None));
    for role in [Role::Viewer, Role::Operator, Role::Admin] {
        // Startup made the token named `admin` already, as `acs serve` does.
        let token = api_token(&app, &format!("roles-{role:?}").to_lowercase(), role).await;
        clients.push(("role", Api::new(&app, Some(&token)), Some(role)));
    }
    let mut broken = Vec::new();
    for (method, template, needs) in DECISIONS {
        let path = concrete(template);
        // A body that parses for none of the operations: the role must be decided before it.
        let body = Some((b"{}".to_vec(), "application/json"));
        for (who, api, role) in &clients {
            let reply = api.raw(method, &path, body.clone()).await;
            let allowed = match (needs, role) {
                (Needs::Public, _) => true,
                (_, None) => false,
                (needs, Some(role)) => rank(*role) >= *needs,
            };
            let expected_refusal = match role {
                None => 401,
                Some(_) => 403,
            };
            let ok = if allowed {
                reply.status != 401 && reply.status != 403
            } else {
                reply.status == expected_refusal
            };
            if !ok {
                let who = role.map_or((*who).to_owned(), |r| format!("{r:?}"));
                broken.push(format!(
                    "{method} {path} as {who}: {} (needs {needs:?}): {}",
                    reply.status,
                    reply.text.trim()
                ));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "role decisions broken:\n{}",
        broken.join("\n")
    );
    app.cleanup().await;
}
