//! API token storage tests, on SQLite and (with `ACS_TEST_DATABASE_URL`)
//! PostgreSQL, through the same harness as the other storage tests.

use std::os::unix::fs::PermissionsExt as _;
use std::time::Duration;

use chrono::TimeDelta;

use super::{PG_ENV, TestDb, migrated, run_on, t};
use crate::storage::{
    ADMIN_TOKEN_FILE, Role, Store, StoreError, TOKEN_CACHE_TTL, ensure_admin_token, parse_token,
};

backend_tests!(
    token_create_verify_list,
    token_bad_revoked_and_malformed,
    token_duplicate_and_invalid_names,
    token_last_used_is_throttled,
    token_revoke_invalidates_cache,
    token_revoke_elsewhere_noticed_within_ttl,
    admin_token_file_is_private_and_created_once,
);

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).expect("small")
}

#[test]
fn roles_are_ordered_and_parse() {
    assert!(Role::Admin > Role::Operator && Role::Operator > Role::Viewer);
    assert!(Role::Admin >= Role::Viewer);
    assert_eq!("operator".parse::<Role>(), Ok(Role::Operator));
    assert_eq!("ADMIN".parse::<Role>(), Ok(Role::Admin));
    assert!("root".parse::<Role>().is_err());
    assert_eq!(serde_json::to_string(&Role::Viewer).unwrap(), "\"viewer\"");
    assert_eq!(
        serde_json::from_str::<Role>("\"admin\"").unwrap(),
        Role::Admin
    );
    assert_eq!(Role::Operator.to_string(), "operator");
}

#[test]
fn token_format_is_parsed_strictly() {
    let secret = "a".repeat(32);
    assert_eq!(
        parse_token(&format!("acs_AbCd1234_{secret}")),
        Some("AbCd1234")
    );
    assert_eq!(
        parse_token(&format!("acs_AbCd1234_{secret}-_x")),
        Some("AbCd1234")
    );
    for bad in [
        String::new(),
        "acs_".into(),
        format!("xyz_AbCd1234_{secret}"),
        format!("acs_AbCd123_{secret}"),
        format!("acs_AbCd12345_{secret}"),
        format!("acs_AbCd-234_{secret}"),
        format!("acs_AbCd1234_{}", "a".repeat(31)),
        format!("acs_AbCd1234_{}", "a".repeat(129)),
        format!("acs_AbCd1234_{secret}!"),
        format!("acs_AbCd1234{secret}"),
    ] {
        assert_eq!(parse_token(&bad), None, "{bad}");
    }
}

async fn token_create_verify_list(store: Store) {
    let store = migrated(store).await;
    let (info, token) = store
        .create_token("ci", Role::Operator, t(0))
        .await
        .expect("create");
    let token = token.expose().to_owned();
    assert_eq!(parse_token(&token), Some(info.prefix.as_str()));
    assert!(
        token.starts_with("acs_") && token.len() == 4 + 8 + 1 + 32,
        "{token}"
    );
    assert_eq!(info.name, "ci");
    assert_eq!(info.role, Role::Operator);
    assert_eq!(info.created_at, crate::storage::ts(t(0)));
    assert_eq!(info.last_used_at, None);
    assert_eq!(info.revoked_at, None);

    let got = store
        .verify_token(&token, t(5))
        .await
        .expect("verify")
        .expect("valid");
    assert_eq!(got.id, info.id);
    assert_eq!(got.role, Role::Operator);
    assert_eq!(got.last_used_at, Some(crate::storage::ts(t(5))));

    let (admin, _) = store
        .create_token("boss", Role::Admin, t(1))
        .await
        .expect("create second");
    let list = store.list_tokens().await.expect("list");
    assert_eq!(
        list.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(),
        ["ci", "boss"]
    );
    assert_eq!(list[1], admin);
    // The hash never leaves the store: not in the JSON form either.
    let json = serde_json::to_string(&list).unwrap();
    assert!(!json.contains("argon2") && !json.contains("hash"), "{json}");
    assert!(!json.contains(&token));

    // A fresh store (another process) verifies the same token.
    let again = store.clone();
    assert!(again.verify_token(&token, t(6)).await.unwrap().is_some());
}

async fn token_bad_revoked_and_malformed(store: Store) {
    let store = migrated(store).await;
    let (info, token) = store
        .create_token("ops", Role::Viewer, t(0))
        .await
        .expect("create");
    let token = token.expose().to_owned();
    // Same prefix, wrong secret: found by prefix, refused by argon2.
    let wrong = format!("acs_{}_{}", info.prefix, "Z".repeat(32));
    assert_eq!(store.verify_token(&wrong, t(1)).await.unwrap(), None);
    // Unknown prefix.
    let unknown = format!("acs_ZZZZZZZZ_{}", "Z".repeat(32));
    assert_eq!(store.verify_token(&unknown, t(1)).await.unwrap(), None);
    // Malformed.
    for bad in [
        "",
        "Bearer x",
        "acs_",
        &token[..token.len() - 1],
        &token[4..],
    ] {
        assert_eq!(store.verify_token(bad, t(1)).await.unwrap(), None, "{bad}");
    }
    // Revoked (by id this time).
    let revoked = store
        .revoke_token(&info.id.to_string())
        .await
        .expect("revoke");
    assert!(revoked.revoked_at.is_some());
    assert_eq!(store.verify_token(&token, t(2)).await.unwrap(), None);
    // Revoking again is a no-op; unknown names are a typed error.
    let twice = store.revoke_token("ops").await.expect("revoke again");
    assert_eq!(twice.revoked_at, revoked.revoked_at);
    assert!(matches!(
        store.revoke_token("nobody").await,
        Err(StoreError::TokenNotFound(n)) if n == "nobody"
    ));
    assert!(matches!(
        store.revoke_token("999999").await,
        Err(StoreError::TokenNotFound(_))
    ));
    let list = store.list_tokens().await.unwrap();
    assert!(list[0].revoked_at.is_some());
}

async fn token_duplicate_and_invalid_names(store: Store) {
    let store = migrated(store).await;
    store
        .create_token("dup", Role::Viewer, t(0))
        .await
        .expect("first");
    assert!(matches!(
        store.create_token("dup", Role::Admin, t(1)).await,
        Err(StoreError::TokenNameTaken(n)) if n == "dup"
    ));
    // A revoked token keeps its name.
    store.revoke_token("dup").await.unwrap();
    assert!(matches!(
        store.create_token("dup", Role::Admin, t(2)).await,
        Err(StoreError::TokenNameTaken(_))
    ));
    for bad in ["", " padded", "42", &"x".repeat(65), "a\nb"] {
        assert!(
            matches!(
                store.create_token(bad, Role::Viewer, t(3)).await,
                Err(StoreError::InvalidInput(_))
            ),
            "{bad:?}"
        );
    }
    assert_eq!(store.list_tokens().await.unwrap().len(), 1);
}

async fn token_last_used_is_throttled(store: Store) {
    let store = migrated(store).await;
    let (_, token) = store
        .create_token("poller", Role::Viewer, t(0))
        .await
        .unwrap();
    let token = token.expose().to_owned();
    let last_used = |store: Store| async move {
        store
            .token_by_name("poller")
            .await
            .unwrap()
            .unwrap()
            .last_used_at
    };
    let at = |s: i64| crate::storage::ts(t(s));

    store.verify_token(&token, t(10)).await.unwrap().unwrap();
    assert_eq!(last_used(store.clone()).await, Some(at(10)));
    // Within the minute: no write, from the cache or from argon2.
    store.verify_token(&token, t(15)).await.unwrap().unwrap();
    store.verify_token(&token, t(40)).await.unwrap().unwrap();
    assert_eq!(last_used(store.clone()).await, Some(at(10)));
    // A minute later: written again.
    let info = store.verify_token(&token, t(71)).await.unwrap().unwrap();
    assert_eq!(info.last_used_at, Some(at(71)));
    assert_eq!(last_used(store.clone()).await, Some(at(71)));
    store.verify_token(&token, t(100)).await.unwrap().unwrap();
    assert_eq!(last_used(store.clone()).await, Some(at(71)));
}

async fn token_revoke_invalidates_cache(store: Store) {
    let store = migrated(store).await;
    let (_, token) = store.create_token("a", Role::Admin, t(0)).await.unwrap();
    let token = token.expose().to_owned();
    assert!(store.verify_token(&token, t(1)).await.unwrap().is_some());
    // Cached now; a clone shares the cache, and its revoke clears it at once
    // (well within the TTL and the last-used resolution).
    store.clone().revoke_token("a").await.unwrap();
    assert_eq!(store.verify_token(&token, t(2)).await.unwrap(), None);
}

/// A revoke by another process (here: a second connection with its own
/// cache) is noticed once the cache entry expires.
async fn token_revoke_elsewhere_noticed_within_ttl(store: Store) {
    let store = migrated(store).await;
    let (_, token) = store.create_token("b", Role::Admin, t(0)).await.unwrap();
    let token = token.expose().to_owned();
    assert!(store.verify_token(&token, t(1)).await.unwrap().is_some());
    // Revoke behind the store's back, as `acs token revoke` would.
    use sea_orm::ConnectionTrait as _;
    store
        .write
        .execute_unprepared("UPDATE api_tokens SET revoked_at = created_at")
        .await
        .unwrap();
    // Still cached (bounded staleness) ...
    assert!(store.verify_token(&token, t(2)).await.unwrap().is_some());
    // ... but not past the TTL.
    let later = t(1) + TimeDelta::seconds(secs(TOKEN_CACHE_TTL));
    assert_eq!(store.verify_token(&token, later).await.unwrap(), None);
}

async fn admin_token_file_is_private_and_created_once(store: Store) {
    let store = migrated(store).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let path = ensure_admin_token(&store, &data)
        .await
        .expect("ensure")
        .expect("created");
    assert_eq!(path, data.join(ADMIN_TOKEN_FILE));
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    let text = std::fs::read_to_string(&path).unwrap();
    let token = text.trim_end();
    let info = store
        .verify_token(token, chrono::Utc::now())
        .await
        .unwrap()
        .expect("the file holds a valid token");
    assert_eq!(info.role, Role::Admin);
    assert_eq!(info.name, "admin");

    // Second start: the file exists and is left alone.
    assert_eq!(ensure_admin_token(&store, &data).await.unwrap(), None);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    // File deleted on purpose while the `admin` token exists: no new one.
    std::fs::remove_file(&path).unwrap();
    assert_eq!(ensure_admin_token(&store, &data).await.unwrap(), None);
    assert!(!path.exists());
    assert_eq!(store.list_tokens().await.unwrap().len(), 1);
}
