//! API tokens for the northbound interface: roles, the token format, argon2
//! hashes, verification with a short in-memory cache, and the admin token
//! file `acs serve` writes on first start.
//!
//! # Token format
//!
//! `acs_<prefix>_<secret>`, e.g. `acs_4fZq81Kd_N0cWx…` where `prefix` is 8 and
//! `secret` 32 characters of `[0-9A-Za-z]` (base62; 32 characters carry about
//! 190 bits). Each part has a job:
//!
//! * `acs_` makes a leaked token greppable (secret scanners, `git log -S`).
//! * The prefix is stored in clear in an indexed column: it *locates* the row,
//!   so a request costs one index lookup and one argon2 verification instead
//!   of trying every stored hash. Knowing a prefix does not help guessing the
//!   secret.
//! * The whole token (prefix included) is hashed with argon2id and verified
//!   with `argon2`'s constant-time comparison; only the hash is stored, so a
//!   copy of the database does not hand out usable tokens.
//!
//! The parser accepts a secret of 32 to 128 characters from the base64url
//! alphabet (`[0-9A-Za-z_-]`) so that longer tokens stay valid if the format
//! grows; anything else is "malformed" and never reaches the database.
//!
//! # Cost and caching
//!
//! argon2id runs with the crate's defaults (`Argon2::default()`: argon2id
//! v19, m = 19 MiB, t = 2, p = 1, the OWASP recommendation), which takes tens
//! of milliseconds of CPU, so it runs on tokio's blocking pool. Successful
//! verifications are cached in memory for [`TOKEN_CACHE_TTL`], keyed by the
//! SHA-256 of the token (the plaintext is not kept). A revoke through this
//! store (any clone of it) removes the token's entries at once; a revoke
//! from *another process* (the `acs token revoke` CLI beside a running
//! server) takes effect in the server within [`TOKEN_CACHE_TTL`].
//!
//! `last_used_at` is written at most once per [`LAST_USED_RESOLUTION`] per
//! token and process, so an authenticated request does not cost a write.

use std::collections::HashMap;
use std::fmt;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::{DateTime, TimeDelta, Utc};
use rand::Rng as _;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ActiveValue, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::secret::Secret;
use crate::storage::entity::api_token;
use crate::storage::{Store, StoreError, ts};

/// What every token starts with.
pub const TOKEN_TAG: &str = "acs_";
/// Length of the clear prefix that locates a token's row.
pub const PREFIX_LEN: usize = 8;
/// Length of the secret part of generated tokens.
pub const SECRET_LEN: usize = 32;
/// Longest secret part accepted by the parser.
const MAX_SECRET_LEN: usize = 128;
/// Longest token name.
const MAX_NAME_LEN: usize = 64;

/// How long a successful verification is remembered (also the bound on how
/// late a revoke made by another process is noticed).
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(10);
/// `last_used_at` is updated at most this often per token.
pub const LAST_USED_RESOLUTION: Duration = Duration::from_secs(60);
/// Entries kept in the verification cache before expired ones are dropped.
const CACHE_MAX_ENTRIES: usize = 4096;

/// The admin token file in the data directory.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";
/// Name of the token [`ensure_admin_token`] creates.
pub const ADMIN_TOKEN_NAME: &str = "admin";

/// What a token may do. Ordered: `Admin > Operator > Viewer`, so a route
/// guard checks `role >= Role::Operator`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read-only access.
    Viewer,
    /// Read access plus device operations (tasks, tags, ...).
    Operator,
    /// Everything, including token management.
    Admin,
}

impl Role {
    /// Every role, lowest first.
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Operator, Role::Admin];

    /// The lowercase name (`viewer`, `operator`, `admin`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not a role name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role `{0}` (expected viewer, operator or admin)")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    /// Parses `viewer`, `operator` or `admin` (ASCII case-insensitive).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

/// A stored token, without its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// Database id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// What the token may do.
    pub role: Role,
    /// The clear prefix (`acs_<prefix>_…`), to recognise a token.
    pub prefix: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Last successful use, to [`LAST_USED_RESOLUTION`].
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked; a revoked token never verifies.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TryFrom<api_token::Model> for TokenInfo {
    type Error = StoreError;

    fn try_from(m: api_token::Model) -> Result<Self, StoreError> {
        let role = m.role.parse::<Role>().map_err(|e| StoreError::Corrupt {
            table: "api_tokens",
            column: "role",
            key: m.id.to_string(),
            reason: e.to_string(),
        })?;
        Ok(TokenInfo {
            id: m.id,
            name: m.name,
            role,
            prefix: m.prefix,
            created_at: m.created_at,
            last_used_at: m.last_used_at,
            revoked_at: m.revoked_at,
        })
    }
}

/// The prefix of a well-formed token, `None` for anything that is not
/// `acs_<8 × [0-9A-Za-z]>_<32..=128 × [0-9A-Za-z_-]>`.
pub fn parse_token(token: &str) -> Option<&str> {
    let rest = token.strip_prefix(TOKEN_TAG)?;
    let (prefix, secret) = rest.split_once('_')?;
    let ok = prefix.len() == PREFIX_LEN
        && prefix.bytes().all(|b| b.is_ascii_alphanumeric())
        && (SECRET_LEN..=MAX_SECRET_LEN).contains(&secret.len())
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    ok.then_some(prefix)
}

fn random_base62(n: usize) -> String {
    // ThreadRng is a CSPRNG (ChaCha12) seeded from the operating system.
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

/// A new token and its prefix.
fn generate_token() -> (String, Secret) {
    let prefix = random_base62(PREFIX_LEN);
    let token = format!("{TOKEN_TAG}{prefix}_{}", random_base62(SECRET_LEN));
    (prefix, Secret::new(token))
}

fn hash_token(token: &str) -> Result<String, StoreError> {
    let salt: [u8; 16] = rand::rng().random();
    let salt = SaltString::encode_b64(&salt).map_err(|e| StoreError::Internal(e.to_string()))?;
    Ok(Argon2::default()
        .hash_password(token.as_bytes(), &salt)
        .map_err(|e| StoreError::Internal(format!("argon2: {e}")))?
        .to_string())
}

/// `Ok(true)` when `token` matches the PHC string `hash`; `Err` (the reason)
/// when the stored hash cannot be parsed.
fn verify_hash(token: &str, hash: &str) -> Result<bool, String> {
    let parsed = PasswordHash::new(hash).map_err(|e| e.to_string())?;
    Ok(Argon2::default()
        .verify_password(token.as_bytes(), &parsed)
        .is_ok())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Internal(format!("argon2 task: {e}")))
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

struct Cached {
    info: TokenInfo,
    verified_at: DateTime<Utc>,
}

/// Successful verifications, keyed by the SHA-256 of the token.
#[derive(Default)]
pub(crate) struct TokenCache {
    entries: Mutex<HashMap<[u8; 32], Cached>>,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let len = self.lock().len();
        f.debug_struct("TokenCache").field("entries", &len).finish()
    }
}

impl TokenCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Cached>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Fresh means verified within the TTL; a clock that went backwards
    /// makes an entry stale rather than immortal.
    fn fresh(c: &Cached, now: DateTime<Utc>) -> bool {
        c.verified_at <= now && now - c.verified_at < delta(TOKEN_CACHE_TTL)
    }

    fn get(&self, key: &[u8; 32], now: DateTime<Utc>) -> Option<TokenInfo> {
        self.lock()
            .get(key)
            .filter(|c| Self::fresh(c, now))
            .map(|c| c.info.clone())
    }

    fn insert(&self, key: [u8; 32], info: TokenInfo, now: DateTime<Utc>) {
        let mut map = self.lock();
        if map.len() >= CACHE_MAX_ENTRIES {
            map.retain(|_, c| Self::fresh(c, now));
            if map.len() >= CACHE_MAX_ENTRIES {
                map.clear();
            }
        }
        map.insert(
            key,
            Cached {
                info,
                verified_at: now,
            },
        );
    }

    /// Replaces the info of an entry without extending its life.
    fn update(&self, key: &[u8; 32], info: TokenInfo) {
        if let Some(c) = self.lock().get_mut(key) {
            c.info = info;
        }
    }

    fn forget(&self, id: i64) {
        self.lock().retain(|_, c| c.info.id != id);
    }
}

fn validate_name(name: &str) -> Result<(), StoreError> {
    let bad = |why: &str| Err(StoreError::InvalidInput(format!("token name: {why}")));
    if name.is_empty() {
        return bad("must not be empty");
    }
    if name.chars().count() > MAX_NAME_LEN {
        return bad("longer than 64 characters");
    }
    if name.trim() != name || name.chars().any(char::is_control) {
        return bad("no leading/trailing spaces or control characters");
    }
    if name.bytes().all(|b| b.is_ascii_digit()) {
        // `acs token revoke NAME|ID` must not be ambiguous.
        return bad("must not be a number (numbers are token ids)");
    }
    Ok(())
}

impl Store {
    /// Creates a token. Returns its info and the plaintext token, which is
    /// not stored anywhere and must be shown to the user once. Fails with
    /// [`StoreError::TokenNameTaken`] if the name is in use (revoked tokens
    /// keep their names) and `InvalidInput` for an empty, over-long, padded
    /// or all-digit name.
    pub async fn create_token(
        &self,
        name: &str,
        role: Role,
        now: DateTime<Utc>,
    ) -> Result<(TokenInfo, Secret), StoreError> {
        validate_name(name)?;
        let (prefix, token) = generate_token();
        let hash = {
            let token = token.clone();
            blocking(move || hash_token(token.expose())).await??
        };
        let model = api_token::ActiveModel {
            id: ActiveValue::NotSet,
            name: ActiveValue::Set(name.to_owned()),
            role: ActiveValue::Set(role.as_str().to_owned()),
            prefix: ActiveValue::Set(prefix),
            hash: ActiveValue::Set(hash),
            created_at: ActiveValue::Set(ts(now)),
            last_used_at: ActiveValue::Set(None),
            revoked_at: ActiveValue::Set(None),
        }
        .insert(&self.write)
        .await
        .map_err(|e| {
            if matches!(
                e.sql_err(),
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
            ) {
                StoreError::TokenNameTaken(name.to_owned())
            } else {
                StoreError::Db(e)
            }
        })?;
        Ok((TokenInfo::try_from(model)?, token))
    }

    /// The token a request presents, if it is valid: well-formed, known, not
    /// revoked, and matching its argon2 hash. `Ok(None)` for everything else.
    ///
    /// A success is cached for [`TOKEN_CACHE_TTL`] (see the module docs);
    /// `last_used_at` is set to `now` when it is older than
    /// [`LAST_USED_RESOLUTION`], and that write also notices a revoke made by
    /// another process.
    pub async fn verify_token(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<TokenInfo>, StoreError> {
        let Some(prefix) = parse_token(token) else {
            return Ok(None);
        };
        let now = ts(now);
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut info = match self.tokens.get(&key, now) {
            Some(info) => info,
            None => {
                let Some(info) = self.verify_uncached(token, prefix).await? else {
                    return Ok(None);
                };
                self.tokens.insert(key, info.clone(), now);
                info
            }
        };
        let stale = info
            .last_used_at
            .is_none_or(|t| now - t >= delta(LAST_USED_RESOLUTION));
        if stale {
            use api_token::Column as C;
            let updated = api_token::Entity::update_many()
                .col_expr(C::LastUsedAt, Expr::val(now))
                .filter(C::Id.eq(info.id))
                .filter(C::RevokedAt.is_null())
                .exec(&self.write)
                .await?;
            if updated.rows_affected == 0 {
                // Revoked (or deleted) since it was cached.
                self.tokens.forget(info.id);
                return Ok(None);
            }
            info.last_used_at = Some(now);
            self.tokens.update(&key, info.clone());
        }
        Ok(Some(info))
    }

    async fn verify_uncached(
        &self,
        token: &str,
        prefix: &str,
    ) -> Result<Option<TokenInfo>, StoreError> {
        use api_token::Column as C;
        // Prefixes are random, not unique: check every live row that has it.
        let rows = api_token::Entity::find()
            .filter(C::Prefix.eq(prefix))
            .filter(C::RevokedAt.is_null())
            .all(&self.read)
            .await?;
        for row in rows {
            let candidate = Secret::new(token);
            let hash = row.hash.clone();
            let verdict = blocking(move || verify_hash(candidate.expose(), &hash)).await?;
            match verdict {
                Ok(true) => return TokenInfo::try_from(row).map(Some),
                Ok(false) => {}
                Err(reason) => {
                    return Err(StoreError::Corrupt {
                        table: "api_tokens",
                        column: "hash",
                        key: row.id.to_string(),
                        reason,
                    });
                }
            }
        }
        Ok(None)
    }

    /// Every token (revoked ones included), oldest first. Never the hashes.
    pub async fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        api_token::Entity::find()
            .order_by_asc(api_token::Column::Id)
            .all(&self.read)
            .await?
            .into_iter()
            .map(TokenInfo::try_from)
            .collect()
    }

    /// The token with this name.
    pub async fn token_by_name(&self, name: &str) -> Result<Option<TokenInfo>, StoreError> {
        api_token::Entity::find()
            .filter(api_token::Column::Name.eq(name))
            .one(&self.read)
            .await?
            .map(TokenInfo::try_from)
            .transpose()
    }

    /// Revokes the token with this name or, failing that, this id (names
    /// cannot be all digits, so there is no ambiguity). Revoking a revoked
    /// token changes nothing and returns it. Removes the token from this
    /// store's verification cache at once. [`StoreError::TokenNotFound`]
    /// when neither matches.
    pub async fn revoke_token(&self, name_or_id: &str) -> Result<TokenInfo, StoreError> {
        use api_token::Column as C;
        let found = match self.token_by_name(name_or_id).await? {
            Some(info) => Some(info),
            None => match name_or_id.parse::<i64>() {
                Ok(id) => api_token::Entity::find_by_id(id)
                    .one(&self.read)
                    .await?
                    .map(TokenInfo::try_from)
                    .transpose()?,
                Err(_) => None,
            },
        };
        let Some(info) = found else {
            return Err(StoreError::TokenNotFound(name_or_id.to_owned()));
        };
        if info.revoked_at.is_none() {
            api_token::Entity::update_many()
                .col_expr(C::RevokedAt, Expr::val(ts(Utc::now())))
                .filter(C::Id.eq(info.id))
                .filter(C::RevokedAt.is_null())
                .exec(&self.write)
                .await?;
        }
        self.tokens.forget(info.id);
        // Read back through the writer: on SQLite it is the connection that
        // just wrote, so the change is certainly visible.
        api_token::Entity::find_by_id(info.id)
            .one(&self.write)
            .await?
            .map(TokenInfo::try_from)
            .transpose()?
            .ok_or_else(|| StoreError::TokenNotFound(name_or_id.to_owned()))
    }
}

/// First-start bootstrap for `acs serve`: when `<data_dir>/admin.token` does
/// not exist and no token named `admin` exists, creates an admin token named
/// `admin` and writes it (followed by a newline) to that file, which is
/// created with mode 0600 (never readable by others, not even briefly).
/// Returns the path when it created the token, `None` when there was
/// nothing to do (the file exists and is left alone, or an `admin` token
/// already exists, e.g. the file was deleted on purpose).
pub async fn ensure_admin_token(
    store: &Store,
    data_dir: &Path,
) -> Result<Option<PathBuf>, StoreError> {
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    let file_error = |source| StoreError::TokenFile {
        path: path.clone(),
        source,
    };
    if path.exists() || store.token_by_name(ADMIN_TOKEN_NAME).await?.is_some() {
        return Ok(None);
    }
    crate::vault::create_private_dir(data_dir).map_err(file_error)?;
    // `create_new`: if another process wins the race, it owns the file.
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(None),
        Err(e) => return Err(file_error(e)),
    };
    let token = match store
        .create_token(ADMIN_TOKEN_NAME, Role::Admin, Utc::now())
        .await
    {
        Ok((_, token)) => token,
        Err(e) => {
            drop(file);
            let _ = std::fs::remove_file(&path);
            return match e {
                StoreError::TokenNameTaken(_) => Ok(None),
                e => Err(e),
            };
        }
    };
    let written = file
        .write_all(format!("{}\n", token.expose()).as_bytes())
        .and_then(|()| file.sync_all());
    if let Err(e) = written {
        drop(file);
        let _ = std::fs::remove_file(&path);
        // The token is unusable without the file: revoke it, best effort.
        let _ = store.revoke_token(ADMIN_TOKEN_NAME).await;
        return Err(file_error(e));
    }
    Ok(Some(path))
}
