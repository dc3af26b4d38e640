//! Per-device ACS credentials and the sealing of stored passwords.
//!
//! Architecture invariant: a device's credentials authenticate only that device. A row binds a
//! username to one device id; the CWMP endpoint looks the claimed username up here (one index
//! lookup) and refuses an Inform from any other device. Passwords are stored sealed
//! ([`crate::vault`]); what leaves this module is a [`Secret`] or nothing.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

use super::entity::{device, device_credential};
use super::{Store, StoreError, ts};
use crate::secret::Secret;
use crate::vault::{Vault, is_sealed};

/// Who set a device's credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialOrigin {
    /// An operator (`acs cpe-credentials set`).
    Operator,
    /// The ACS, which set them on the device (`provision_device_credentials`).
    Acs,
    /// The ACS is setting them: stored before the SetParameterValues that carries them, so a
    /// crash after the CPE applied them cannot lock the device out. Accepted from the device
    /// (which then proves it applied them, and they become [`CredentialOrigin::Acs`]), but they
    /// do not yet take the shared pair away.
    Pending,
}

impl CredentialOrigin {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Operator => "operator",
            Self::Acs => "acs",
            Self::Pending => "pending",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "acs" => Self::Acs,
            "pending" => Self::Pending,
            _ => Self::Operator,
        }
    }
}

/// A device's credentials, password opened (never printed by `Debug`).
#[derive(Debug, Clone)]
pub struct DeviceCredential {
    pub device_id: String,
    pub username: String,
    pub password: Secret,
    pub origin: CredentialOrigin,
}

/// A device's credentials as listed: no password.
#[derive(Debug, Clone)]
pub struct DeviceCredentialInfo {
    pub device_id: String,
    pub username: String,
    pub origin: CredentialOrigin,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Store {
    /// Installs the key that seals stored passwords (once; later calls keep the first key, so
    /// every clone of the store seals with the same key).
    pub fn install_vault(&self, vault: Vault) {
        let _ = self.vault.set(vault);
    }

    fn vault(&self) -> Result<&Vault, StoreError> {
        self.vault.get().ok_or(StoreError::NoVault)
    }

    /// Seals a password for storage.
    pub fn seal_secret(&self, plain: &str) -> Result<String, StoreError> {
        Ok(self.vault()?.seal(plain))
    }

    /// Opens a stored password (a `DeviceRow`'s connection-request password). Legacy plain
    /// text passes through, so nothing breaks before it is sealed at start-up.
    pub fn open_secret(&self, stored: &Secret) -> Result<Secret, StoreError> {
        if !is_sealed(stored.expose()) {
            return Ok(stored.clone());
        }
        Ok(self.vault()?.open(stored.expose())?)
    }

    /// A task payload ready for storage: the password of a credentials task (connection-request
    /// or ManagementServer credentials the ACS sets on a device) is sealed, so the queue never
    /// holds it in plain text. Other payloads are returned unchanged.
    pub fn seal_payload(
        &self,
        payload: &serde_json::Value,
    ) -> Result<serde_json::Value, StoreError> {
        let mut payload = payload.clone();
        if let Some(pw) = credential_password(&mut payload)
            && let Some(plain) = pw.as_str().filter(|p| !p.is_empty() && !is_sealed(p))
        {
            *pw = serde_json::Value::String(self.seal_secret(plain)?);
        }
        Ok(payload)
    }

    /// The inverse of [`Store::seal_payload`], for the session that sends the task.
    pub fn open_payload(
        &self,
        payload: &serde_json::Value,
    ) -> Result<serde_json::Value, StoreError> {
        let mut payload = payload.clone();
        if let Some(pw) = credential_password(&mut payload)
            && let Some(stored) = pw.as_str().filter(|p| is_sealed(p))
        {
            let plain = self.vault()?.open(stored)?;
            *pw = serde_json::Value::String(plain.expose().to_owned());
        }
        Ok(payload)
    }

    fn credential(&self, m: device_credential::Model) -> Result<DeviceCredential, StoreError> {
        Ok(DeviceCredential {
            password: self.vault()?.open(&m.password)?,
            origin: CredentialOrigin::parse(&m.origin),
            device_id: m.device_id,
            username: m.username,
        })
    }

    /// The credentials whose username is `username` (the CWMP hot path: one index lookup).
    pub async fn device_credential_by_username(
        &self,
        username: &str,
    ) -> Result<Option<DeviceCredential>, StoreError> {
        device_credential::Entity::find()
            .filter(device_credential::Column::Username.eq(username))
            .one(&self.read)
            .await?
            .map(|m| self.credential(m))
            .transpose()
    }

    /// Whether a device has credentials of its own in the database (pending ones do not count:
    /// until the device has applied them it may still need the shared pair).
    pub async fn has_device_credential(&self, device_id: &str) -> Result<bool, StoreError> {
        Ok(device_credential::Entity::find_by_id(device_id)
            .filter(device_credential::Column::Origin.ne(CredentialOrigin::Pending.as_str()))
            .one(&self.read)
            .await?
            .is_some())
    }

    /// Pending credentials the device has just used: it applied them, so they are its own now.
    /// `false` when they were not pending (any more).
    pub async fn confirm_device_credential(
        &self,
        device_id: &str,
        username: &str,
    ) -> Result<bool, StoreError> {
        use device_credential::Column as C;
        let res = device_credential::Entity::update_many()
            .col_expr(C::Origin, Expr::val(CredentialOrigin::Acs.as_str()))
            .col_expr(C::UpdatedAt, Expr::val(ts(Utc::now())))
            .filter(C::DeviceId.eq(device_id))
            .filter(C::Username.eq(username))
            .filter(C::Origin.eq(CredentialOrigin::Pending.as_str()))
            .exec(&self.write)
            .await?;
        Ok(res.rows_affected > 0)
    }

    /// Sets (or replaces) a device's credentials. A username another device already uses is
    /// refused: one username must name one device.
    pub async fn set_device_credential(
        &self,
        device_id: &str,
        username: &str,
        password: &Secret,
        origin: CredentialOrigin,
    ) -> Result<(), StoreError> {
        if device_id.is_empty() || username.is_empty() || password.is_empty() {
            return Err(StoreError::InvalidInput(
                "device id, username and password must not be empty".into(),
            ));
        }
        use device_credential::Column as C;
        if let Some(other) = device_credential::Entity::find()
            .filter(C::Username.eq(username))
            .filter(C::DeviceId.ne(device_id))
            .one(&self.write)
            .await?
        {
            return Err(StoreError::AlreadyExists(format!(
                "username `{username}` (it belongs to device `{}`)",
                other.device_id
            )));
        }
        let now = ts(Utc::now());
        let row = device_credential::ActiveModel {
            device_id: Set(device_id.to_owned()),
            username: Set(username.to_owned()),
            password: Set(self.seal_secret(password.expose())?),
            origin: Set(origin.as_str().to_owned()),
            created_at: Set(now),
            updated_at: Set(now),
        };
        device_credential::Entity::insert(row)
            .on_conflict(
                OnConflict::column(C::DeviceId)
                    .update_columns([C::Username, C::Password, C::Origin, C::UpdatedAt])
                    .to_owned(),
            )
            .exec(&self.write)
            .await?;
        Ok(())
    }

    /// Removes a device's credentials; `false` when it had none.
    pub async fn remove_device_credential(&self, device_id: &str) -> Result<bool, StoreError> {
        let res = device_credential::Entity::delete_by_id(device_id)
            .exec(&self.write)
            .await?;
        Ok(res.rows_affected > 0)
    }

    /// Every device's credentials, without passwords, by device id.
    pub async fn list_device_credentials(&self) -> Result<Vec<DeviceCredentialInfo>, StoreError> {
        Ok(device_credential::Entity::find()
            .order_by_asc(device_credential::Column::DeviceId)
            .all(&self.read)
            .await?
            .into_iter()
            .map(|m| DeviceCredentialInfo {
                origin: CredentialOrigin::parse(&m.origin),
                device_id: m.device_id,
                username: m.username,
                created_at: m.created_at,
                updated_at: m.updated_at,
            })
            .collect())
    }

    /// Seals connection-request passwords that a version before sealing stored in plain text.
    /// Run at start-up, after the migrations; returns how many were sealed. Idempotent.
    pub async fn seal_legacy_secrets(&self) -> Result<u64, StoreError> {
        use device::Column as C;
        let vault = self.vault()?;
        let plain: Vec<(String, String)> = device::Entity::find()
            .select_only()
            .column(C::Id)
            .column(C::ConnectionRequestPassword)
            .filter(C::ConnectionRequestPassword.is_not_null())
            .filter(
                C::ConnectionRequestPassword.not_like(format!("{}%", crate::vault::SEALED_PREFIX)),
            )
            .into_tuple::<(String, Option<String>)>()
            .all(&self.read)
            .await?
            .into_iter()
            .filter_map(|(id, pw)| Some((id, pw?)))
            .collect();
        let mut sealed = 0;
        for (id, pw) in plain {
            // Compare-and-set on the old value: a password written meanwhile is kept.
            let res = device::Entity::update_many()
                .col_expr(C::ConnectionRequestPassword, Expr::val(vault.seal(&pw)))
                .filter(C::Id.eq(id))
                .filter(C::ConnectionRequestPassword.eq(pw))
                .exec(&self.write)
                .await?;
            sealed += res.rows_affected;
        }
        Ok(sealed)
    }
}

/// Task kinds whose payload carries a password the ACS generated.
const CREDENTIAL_TASK_KINDS: [&str; 2] = [
    "set_connection_request_credentials",
    "set_management_server_credentials",
];

/// The password of a credentials task, in a queue payload (`{"spec": …}`) or a bare definition
/// (a job's).
fn credential_password(payload: &mut serde_json::Value) -> Option<&mut serde_json::Value> {
    let spec = if payload.get("spec").is_some() {
        payload.get_mut("spec")?
    } else {
        payload
    };
    let kind = spec.get("kind")?.as_str()?;
    if !CREDENTIAL_TASK_KINDS.contains(&kind) {
        return None;
    }
    spec.get_mut("password")
}
