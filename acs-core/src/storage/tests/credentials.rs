//! Per-device credentials and sealed passwords, on SQLite and (with `ACS_TEST_DATABASE_URL`)
//! PostgreSQL.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::{PG_ENV, TestDb, inform, migrated, run_on, t};
use crate::secret::Secret;
use crate::storage::entity::device;
use crate::storage::{CredentialOrigin, NewTask, Store, StoreError};
use crate::tasks::{QueuedTask, TaskSpec};
use crate::vault::{Vault, is_sealed};

backend_tests!(
    device_credentials_are_bound_listed_and_removed,
    credential_task_passwords_are_sealed_in_the_queue,
    legacy_plain_text_passwords_are_sealed_once,
);

async fn device_credentials_are_bound_listed_and_removed(store: Store) {
    let store = migrated(store).await;
    let pw = Secret::new("pw-a");
    // Without a key nothing is written in plain text.
    assert!(matches!(
        store
            .set_device_credential("dev-a", "phone-a", &pw, CredentialOrigin::Operator)
            .await,
        Err(StoreError::NoVault)
    ));
    store.install_vault(Vault::from_key(&[1; 32]));
    store
        .set_device_credential("dev-a", "phone-a", &pw, CredentialOrigin::Operator)
        .await
        .expect("set");
    let found = store
        .device_credential_by_username("phone-a")
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(found.device_id, "dev-a");
    assert_eq!(found.password.expose(), "pw-a");
    assert!(!format!("{found:?}").contains("pw-a"));
    assert!(store.has_device_credential("dev-a").await.unwrap());
    assert!(!store.has_device_credential("dev-b").await.unwrap());
    // One username names one device.
    assert!(matches!(
        store
            .set_device_credential("dev-b", "phone-a", &pw, CredentialOrigin::Operator)
            .await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert!(matches!(
        store
            .set_device_credential("dev-b", "", &pw, CredentialOrigin::Operator)
            .await,
        Err(StoreError::InvalidInput(_))
    ));
    // Replacing: the old username stops working.
    store
        .set_device_credential(
            "dev-a",
            "phone-a2",
            &Secret::new("pw-2"),
            CredentialOrigin::Acs,
        )
        .await
        .expect("replace");
    assert!(
        store
            .device_credential_by_username("phone-a")
            .await
            .unwrap()
            .is_none()
    );
    let list = store.list_device_credentials().await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].username, "phone-a2");
    assert_eq!(list[0].origin, CredentialOrigin::Acs);
    // Pending credentials are found by username but do not count as the device's own until
    // confirmed.
    store
        .set_device_credential(
            "dev-a",
            "phone-a3",
            &Secret::new("pw-3"),
            CredentialOrigin::Pending,
        )
        .await
        .expect("pending");
    assert!(!store.has_device_credential("dev-a").await.unwrap());
    let found = store
        .device_credential_by_username("phone-a3")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.origin, CredentialOrigin::Pending);
    assert!(
        !store
            .confirm_device_credential("dev-a", "phone-a2")
            .await
            .unwrap()
    );
    assert!(
        store
            .confirm_device_credential("dev-a", "phone-a3")
            .await
            .unwrap()
    );
    assert!(
        !store
            .confirm_device_credential("dev-a", "phone-a3")
            .await
            .unwrap()
    );
    assert!(store.has_device_credential("dev-a").await.unwrap());
    assert!(store.remove_device_credential("dev-a").await.unwrap());
    assert!(!store.remove_device_credential("dev-a").await.unwrap());
    assert!(store.list_device_credentials().await.unwrap().is_empty());
}

async fn credential_task_passwords_are_sealed_in_the_queue(store: Store) {
    let store = migrated(store).await;
    store.install_vault(Vault::from_key(&[2; 32]));
    store
        .record_inform(&inform("dev-q", t(0), &["0 BOOTSTRAP"]), 64)
        .await
        .unwrap();
    for spec in [
        TaskSpec::SetConnectionRequestCredentials {
            root: "Device.".into(),
            username: "cr".into(),
            password: "cr-secret-1".into(),
        },
        TaskSpec::SetManagementServerCredentials {
            root: "Device.".into(),
            username: "ms".into(),
            password: "ms-secret-1".into(),
        },
    ] {
        let task = store
            .enqueue_task(&NewTask::for_spec("dev-q", &spec))
            .await
            .unwrap();
        let stored = store.get_task(task.id).await.unwrap().unwrap().payload;
        assert!(!stored.to_string().contains("secret-1"), "{stored}");
        assert!(is_sealed(stored["spec"]["password"].as_str().unwrap()));
        let opened = store.open_payload(&stored).unwrap();
        assert_eq!(opened, QueuedTask::payload(&spec));
    }
    // Other kinds are untouched, a Download's password included (it is the file server's).
    let download = serde_json::json!({"spec": {"kind": "download", "password": "p"}});
    assert_eq!(store.seal_payload(&download).unwrap(), download);
}

async fn legacy_plain_text_passwords_are_sealed_once(store: Store) {
    let store = migrated(store).await;
    store
        .record_inform(&inform("dev-l", t(0), &["1 BOOT"]), 64)
        .await
        .unwrap();
    // As a version before sealing wrote it.
    device::Entity::update_many()
        .col_expr(
            device::Column::ConnectionRequestPassword,
            Expr::val("legacy-pw"),
        )
        .filter(device::Column::Id.eq("dev-l"))
        .exec(&store.write)
        .await
        .unwrap();
    let row = store.get_device("dev-l").await.unwrap().unwrap();
    // Readable before it is sealed, so connection requests keep working.
    let plain = row.connection_request_password.unwrap();
    assert_eq!(store.open_secret(&plain).unwrap().expose(), "legacy-pw");
    store.install_vault(Vault::from_key(&[4; 32]));
    assert_eq!(store.seal_legacy_secrets().await.unwrap(), 1);
    assert_eq!(store.seal_legacy_secrets().await.unwrap(), 0);
    let sealed = store
        .get_device("dev-l")
        .await
        .unwrap()
        .unwrap()
        .connection_request_password
        .unwrap();
    assert!(is_sealed(sealed.expose()));
    assert_eq!(store.open_secret(&sealed).unwrap().expose(), "legacy-pw");
}

#[cfg(unix)]
#[tokio::test]
async fn the_database_file_and_its_directory_are_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let path = data.join("acs.db");
    let store = Store::connect(
        &format!("sqlite://{}?mode=rwc", path.display()),
        Default::default(),
    )
    .await
    .unwrap();
    store.migrate().await.unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&data.join("acs.db-wal")), 0o600);
    store.close().await.unwrap();
    // A database created before (world-readable) is made private at the next start.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let store = Store::connect(
        &format!("sqlite://{}?mode=rwc", path.display()),
        Default::default(),
    )
    .await
    .unwrap();
    assert_eq!(mode(&path), 0o600);
    store.close().await.unwrap();
}
