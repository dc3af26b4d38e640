//! The file store: content on local disk under the data directory, addressed by SHA-256, with
//! metadata in the database.
//!
//! Uploads stream: bytes go to a temporary file in the same directory tree while they are
//! hashed, are flushed to disk, and only then renamed into place under their hash, so a 200 MB
//! firmware image is never held in memory and a crash mid-upload leaves no half-written blob
//! under a real name (only a `tmp/` file, cleared at the next start).
//!
//! Architecture invariant: a blob is written and synced before the metadata row that points at
//! it is inserted, and the row is deleted before the blob; a row therefore never points at a
//! missing blob.

use std::path::{Path, PathBuf};

use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::storage::{FileRow, NewFile, Store, StoreError};

mod release;
pub use release::{is_release_manifest, listed_names};

/// Why a file operation failed.
#[derive(Debug, thiserror::Error)]
pub enum FileStoreError {
    /// Disk I/O failed.
    #[error("file store I/O on {path}: {source}")]
    Io {
        /// What was being accessed.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The upload is larger than allowed.
    #[error("the file is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// The upload is empty.
    #[error("the file is empty")]
    Empty,
    /// The client's stream failed mid-upload.
    #[error("the upload was interrupted: {0}")]
    Interrupted(String),
    /// The metadata is invalid.
    #[error("{0}")]
    Invalid(String),
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] StoreError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FileStoreError + '_ {
    move |source| FileStoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Content written to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// Lower-case hex SHA-256.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// Metadata of an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMeta {
    /// File name (no path separators).
    pub name: String,
    /// What the file is for.
    pub kind: crate::storage::FileKind,
    /// Only for this product class.
    pub product_class: Option<String>,
    /// Version it carries.
    pub version: Option<String>,
}

/// `reader` as a stream of chunks of at most `size` bytes, ending after the first error: how
/// uploads and downloads move a file without ever holding it whole.
pub fn read_chunks<R>(reader: R, size: usize) -> impl Stream<Item = std::io::Result<Vec<u8>>>
where
    R: tokio::io::AsyncRead + Unpin,
{
    futures::stream::unfold(Some(reader), move |reader| async move {
        use tokio::io::AsyncReadExt as _;
        let mut reader = reader?;
        let mut buf = vec![0u8; size];
        match reader.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(buf), Some(reader)))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
}

/// The content address of `bytes`: lower-case hex SHA-256, as blobs are named.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Content-addressed files under `<data dir>/files`.
#[derive(Debug, Clone)]
pub struct FileStore {
    root: PathBuf,
    store: Store,
    max_size: u64,
}

/// Whether `name` is acceptable as a stored file name: what a CPE sees as the last segment of
/// the download URL and may use as the target file name.
pub fn valid_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+'))
}

impl FileStore {
    /// A store rooted at `<data_dir>/files`; files larger than `max_size` are refused.
    pub fn new(data_dir: &Path, store: Store, max_size: u64) -> FileStore {
        FileStore {
            root: data_dir.join("files"),
            store,
            max_size,
        }
    }

    /// Creates the directories and removes uploads a crash left unfinished (at start-up, before
    /// serving; blocking file-system calls).
    pub fn prepare(&self) -> Result<(), FileStoreError> {
        let tmp = self.root.join("tmp");
        match std::fs::remove_dir_all(&tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&tmp)(e)),
        }
        // The data directory and the store are the owner's only (0700).
        if let Some(data_dir) = self.root.parent() {
            crate::vault::create_private_dir(data_dir).map_err(io(data_dir))?;
        }
        crate::vault::create_private_dir(&self.root).map_err(io(&self.root))?;
        std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
        let blobs = self.root.join("sha256");
        std::fs::create_dir_all(&blobs).map_err(io(&blobs))?;
        Ok(())
    }

    /// Where the content with this hash lives.
    pub fn blob_path(&self, sha256: &str) -> PathBuf {
        let prefix = sha256.get(..2).unwrap_or("xx");
        self.root.join("sha256").join(prefix).join(sha256)
    }

    /// Streams `body` into the store and returns its address. Nothing is kept on failure.
    pub async fn write_blob<S, B, E>(&self, mut body: S) -> Result<Blob, FileStoreError>
    where
        S: Stream<Item = Result<B, E>> + Unpin,
        B: AsRef<[u8]>,
        E: std::fmt::Display,
    {
        let tmp_dir = self.root.join("tmp");
        tokio::fs::create_dir_all(&tmp_dir)
            .await
            .map_err(io(&tmp_dir))?;
        let tmp = tmp_dir.join(format!("upload-{:016x}", rand::random::<u64>()));
        let result = async {
            // Stored files are the owner's only (0600): configurations hold device secrets.
            let mut opts = tokio::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            opts.mode(0o600);
            let mut file = opts.open(&tmp).await.map_err(io(&tmp))?;
            let mut hasher = Sha256::new();
            let mut size = 0u64;
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| FileStoreError::Interrupted(e.to_string()))?;
                let chunk = chunk.as_ref();
                size += chunk.len() as u64;
                if size > self.max_size {
                    return Err(FileStoreError::TooLarge {
                        limit: self.max_size,
                    });
                }
                hasher.update(chunk);
                file.write_all(chunk).await.map_err(io(&tmp))?;
            }
            if size == 0 {
                return Err(FileStoreError::Empty);
            }
            file.sync_all().await.map_err(io(&tmp))?;
            Ok(Blob {
                sha256: hex::encode(hasher.finalize()),
                size,
            })
        }
        .await;
        let blob = match result {
            Ok(blob) => blob,
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(e);
            }
        };
        let path = self.blob_path(&blob.sha256);
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(io(dir))?;
        }
        // Same content already stored: keep the existing blob.
        if tokio::fs::try_exists(&path).await.map_err(io(&path))? {
            let _ = tokio::fs::remove_file(&tmp).await;
        } else {
            tokio::fs::rename(&tmp, &path).await.map_err(io(&path))?;
        }
        Ok(blob)
    }

    /// Streams an upload into the store and records it.
    ///
    /// A firmware image without a version gets the one its name carries
    /// ([`crate::filekind::firmware_version`]), so a rollout of it can be verified however it was
    /// uploaded; a CA file must be a certificate ([`crate::filekind::check_certificate`]).
    pub async fn upload<S, B, E>(
        &self,
        mut meta: FileMeta,
        mut body: S,
    ) -> Result<FileRow, FileStoreError>
    where
        S: Stream<Item = Result<B, E>> + Unpin,
        B: AsRef<[u8]>,
        E: std::fmt::Display,
    {
        use crate::filekind;
        use crate::storage::FileKind;
        if !valid_file_name(&meta.name) {
            return Err(FileStoreError::Invalid(format!(
                "invalid file name `{}`: use 1-255 letters, digits, `.`, `-`, `_`, `+`",
                meta.name
            )));
        }
        if meta.kind == FileKind::Firmware && meta.version.is_none() {
            meta.version = filekind::firmware_version(&meta.name);
        }
        let blob = if meta.kind == FileKind::Ca {
            // Small by nature: read whole, checked before anything is stored.
            let mut content = Vec::new();
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| FileStoreError::Interrupted(e.to_string()))?;
                content.extend_from_slice(chunk.as_ref());
                if content.len() > filekind::MAX_CA_SIZE {
                    return Err(FileStoreError::Invalid(format!(
                        "a CA file is at most {} bytes; this is no certificate file",
                        filekind::MAX_CA_SIZE
                    )));
                }
            }
            if content.is_empty() {
                return Err(FileStoreError::Empty);
            }
            filekind::check_certificate(&content).map_err(|e| {
                FileStoreError::Invalid(format!("`{}` is refused as a CA file: {e}", meta.name))
            })?;
            self.write_blob(futures::stream::iter([Ok::<_, String>(content)]))
                .await?
        } else {
            self.write_blob(body).await?
        };
        let size = i64::try_from(blob.size).map_err(|_| FileStoreError::TooLarge {
            limit: self.max_size,
        })?;
        Ok(self
            .store
            .insert_file(&NewFile {
                name: meta.name,
                kind: meta.kind,
                product_class: meta.product_class,
                version: meta.version,
                sha256: blob.sha256,
                size,
            })
            .await?)
    }

    /// Deletes a file; its content goes too unless another file has the same bytes.
    pub async fn delete(&self, id: i64) -> Result<Option<FileRow>, FileStoreError> {
        let Some((row, shared)) = self.store.delete_file(id).await? else {
            return Ok(None);
        };
        if !shared {
            let path = self.blob_path(&row.sha256);
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(&path)(e)),
            }
        }
        Ok(Some(row))
    }

    /// Opens a file's content for reading.
    pub async fn open(&self, row: &FileRow) -> Result<tokio::fs::File, FileStoreError> {
        let path = self.blob_path(&row.sha256);
        tokio::fs::File::open(&path).await.map_err(io(&path))
    }
}

/// Largest template rendered (flat profiles are kilobytes).
const MAX_TEMPLATE_BYTES: u64 = 1024 * 1024;

/// Why a template could not be rendered for a device.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The template or its variables.
    #[error(transparent)]
    Template(#[from] crate::template::TemplateError),
    /// Reading the template or the variables file.
    #[error("{0}")]
    Read(String),
}

impl FileStore {
    /// Renders a stored configuration template for `device`: its identity, its stored
    /// parameters, and its row of the variables CSV `vars_file_id` when given.
    pub async fn render_for_device(
        &self,
        file: &FileRow,
        device: &crate::storage::DeviceRow,
        vars_file_id: Option<i64>,
    ) -> Result<String, RenderError> {
        use crate::template::{ConfigTemplate, VarsTable, device_variables};
        if u64::try_from(file.size).unwrap_or(u64::MAX) > MAX_TEMPLATE_BYTES {
            return Err(RenderError::Read(format!(
                "templates are limited to {MAX_TEMPLATE_BYTES} bytes"
            )));
        }
        let text = tokio::fs::read_to_string(self.blob_path(&file.sha256))
            .await
            .map_err(|e| RenderError::Read(format!("reading the template: {e}")))?;
        let template = ConfigTemplate::parse(&text)?;
        let read = |e: StoreError| RenderError::Read(e.to_string());
        let params = self
            .store
            .get_parameters(&device.id, None)
            .await
            .map_err(read)?;
        let table = match vars_file_id {
            Some(id) => {
                let vars = self
                    .store
                    .get_file(id)
                    .await
                    .map_err(read)?
                    .ok_or_else(|| {
                        RenderError::Read(format!("the variables file {id} was deleted"))
                    })?;
                if u64::try_from(vars.size).unwrap_or(u64::MAX) > MAX_TEMPLATE_BYTES * 16 {
                    return Err(RenderError::Read("the variables file is too large".into()));
                }
                let csv = tokio::fs::read_to_string(self.blob_path(&vars.sha256))
                    .await
                    .map_err(|e| RenderError::Read(format!("reading the variables file: {e}")))?;
                Some(VarsTable::from_csv(&csv)?)
            }
            None => None,
        };
        let row = table
            .as_ref()
            .and_then(|t| t.row(&device.serial_number, device.mac.as_deref()));
        let vars = device_variables(device, &params, row);
        Ok(template.render(&vars)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{FileKind, StoreOptions};

    async fn store(dir: &Path) -> FileStore {
        let url = format!("sqlite://{}?mode=rwc", dir.join("acs.db").display());
        let db = Store::connect(&url, StoreOptions::default()).await.unwrap();
        db.migrate().await.unwrap();
        let files = FileStore::new(dir, db, 1024 * 1024);
        files.prepare().unwrap();
        files
    }

    fn meta(name: &str) -> FileMeta {
        FileMeta {
            name: name.into(),
            kind: FileKind::Firmware,
            product_class: Some("CP-8851-3PCC".into()),
            version: Some("12-0-3".into()),
        }
    }

    fn chunks(data: &[u8], size: usize) -> impl Stream<Item = Result<Vec<u8>, String>> + Unpin {
        futures::stream::iter(
            data.chunks(size)
                .map(|c| Ok(c.to_vec()))
                .collect::<Vec<_>>(),
        )
    }

    #[tokio::test]
    async fn uploads_are_content_addressed_and_shared() {
        let dir = tempfile::tempdir().unwrap();
        let files = store(dir.path()).await;
        let data = vec![7u8; 100_000];
        let a = files
            .upload(meta("sip88xx.12-0-3MPP.loads"), chunks(&data, 4096))
            .await
            .unwrap();
        assert_eq!(a.size, 100_000);
        // sha256 of 100,000 bytes of 0x07, computed independently.
        assert_eq!(a.sha256, hex::encode(Sha256::digest(&data)));
        let on_disk = tokio::fs::read(files.blob_path(&a.sha256)).await.unwrap();
        assert_eq!(on_disk, data);
        #[cfg(unix)]
        {
            // Stored files, like the store itself, are the owner's only.
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&files.blob_path(&a.sha256)), 0o600);
            assert_eq!(mode(&dir.path().join("files")), 0o700);
        }
        let b = files
            .upload(meta("copy.loads"), chunks(&data, 999))
            .await
            .unwrap();
        assert_eq!(a.sha256, b.sha256);
        files.delete(a.id).await.unwrap().expect("deleted");
        assert!(
            files.blob_path(&b.sha256).exists(),
            "content still used by another file stays"
        );
        files.delete(b.id).await.unwrap().expect("deleted");
        assert!(!files.blob_path(&b.sha256).exists());
        assert!(files.delete(b.id).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn bad_uploads_leave_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let files = store(dir.path()).await;
        let too_big = vec![1u8; 1024 * 1024 + 1];
        assert!(matches!(
            files.upload(meta("big.bin"), chunks(&too_big, 65536)).await,
            Err(FileStoreError::TooLarge { .. })
        ));
        assert!(matches!(
            files.upload(meta("empty.bin"), chunks(&[], 1)).await,
            Err(FileStoreError::Empty)
        ));
        let broken =
            futures::stream::iter(vec![Ok(vec![1u8; 10]), Err("connection reset".to_owned())]);
        assert!(matches!(
            files.upload(meta("cut.bin"), broken).await,
            Err(FileStoreError::Interrupted(_))
        ));
        for name in ["", "../etc/passwd", "a/b", "..", "x y"] {
            assert!(
                matches!(
                    files.upload(meta(name), chunks(b"data", 2)).await,
                    Err(FileStoreError::Invalid(_))
                ),
                "{name:?}"
            );
        }
        let tmp: Vec<_> = std::fs::read_dir(dir.path().join("files/tmp"))
            .unwrap()
            .collect();
        assert!(tmp.is_empty(), "no temporary file survives a failed upload");
        assert!(files.store.list_files(None).await.unwrap().is_empty());
    }
}

/// A per-transfer download token: which device may fetch which file, for which task, until
/// when.
///
/// The token is `<expires>.<task>.<file>.<hash>.<device>.<mac>`: expiry in Unix seconds, the
/// task id (0 for none), the file id and the first 16 hex digits of its SHA-256, the device id
/// in base64url, and a truncated HMAC-SHA-256 over the rest under the server's transfer key. It
/// is stateless, so a token minted before a restart stays valid after it (the key is kept in
/// the data directory). It opens the one file it was made for (the hash makes a file deleted
/// and replaced under a reused id a different file), and for an MPP release manifest the
/// files that manifest names ([`is_release_manifest`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferToken {
    /// The device the transfer is for.
    pub device_id: String,
    /// The task that asked for it (Download), if any.
    pub task_id: Option<i64>,
    /// The stored file it opens.
    pub file_id: i64,
    /// The start of that file's SHA-256 ([`TransferToken::hash_of`]).
    pub file_hash: String,
    /// Unix seconds after which the token is refused.
    pub expires: i64,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token at all, or a forged / altered one.
    #[error("invalid transfer token")]
    Invalid,
    /// A genuine token past its expiry.
    #[error("transfer token expired")]
    Expired,
}

const TOKEN_MAC_BYTES: usize = 16;

fn token_mac(key: &[u8; 32], payload: &str) -> [u8; TOKEN_MAC_BYTES] {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(payload.as_bytes());
    let full = mac.finalize().into_bytes();
    let mut out = [0u8; TOKEN_MAC_BYTES];
    out.copy_from_slice(&full[..TOKEN_MAC_BYTES]);
    out
}

/// Hex digits of the content hash a token carries: 64 bits, enough to tell two uploads apart.
const TOKEN_HASH_DIGITS: usize = 16;

impl TransferToken {
    /// The token's form of a file's SHA-256.
    pub fn hash_of(file: &FileRow) -> String {
        file.sha256.chars().take(TOKEN_HASH_DIGITS).collect()
    }

    /// Whether the token was made for `file` (same id, same content).
    pub fn opens(&self, file: &FileRow) -> bool {
        self.file_id == file.id && self.file_hash == Self::hash_of(file)
    }

    /// The signed, URL-safe form.
    pub fn sign(&self, key: &[u8; 32]) -> String {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let payload = format!(
            "{}.{}.{}.{}.{}",
            self.expires,
            self.task_id.unwrap_or(0),
            self.file_id,
            self.file_hash,
            b64.encode(self.device_id.as_bytes())
        );
        let mac = b64.encode(token_mac(key, &payload));
        format!("{payload}.{mac}")
    }

    /// Checks a token's signature and expiry at `now` (Unix seconds).
    pub fn verify(token: &str, key: &[u8; 32], now: i64) -> Result<TransferToken, TokenError> {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let (payload, mac) = token.rsplit_once('.').ok_or(TokenError::Invalid)?;
        let mac = b64.decode(mac).map_err(|_| TokenError::Invalid)?;
        let expected = token_mac(key, payload);
        // Constant time: the MAC is the only secret-dependent part.
        if mac.len() != TOKEN_MAC_BYTES
            || mac
                .iter()
                .zip(expected.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                != 0
        {
            return Err(TokenError::Invalid);
        }
        let mut parts = payload.splitn(5, '.');
        let mut number = || -> Result<i64, TokenError> {
            parts
                .next()
                .and_then(|p| p.parse().ok())
                .ok_or(TokenError::Invalid)
        };
        let expires = number()?;
        let task = number()?;
        let file_id = number()?;
        let file_hash = parts
            .next()
            .filter(|h| h.len() == TOKEN_HASH_DIGITS)
            .ok_or(TokenError::Invalid)?
            .to_owned();
        let device = parts
            .next()
            .and_then(|p| b64.decode(p).ok())
            .and_then(|d| String::from_utf8(d).ok())
            .ok_or(TokenError::Invalid)?;
        if now > expires {
            return Err(TokenError::Expired);
        }
        Ok(TransferToken {
            device_id: device,
            task_id: (task != 0).then_some(task),
            file_id,
            file_hash,
            expires,
        })
    }
}

/// Name of the file in the data directory that holds the transfer-token key.
pub const TRANSFER_KEY_FILE: &str = "transfer.key";

/// Reads the transfer-token key from the data directory, creating it (mode 0600) on first use,
/// so tokens in Download URLs stay valid across restarts.
pub fn load_or_create_transfer_key(data_dir: &Path) -> Result<[u8; 32], FileStoreError> {
    use std::io::Write as _;
    let path = data_dir.join(TRANSFER_KEY_FILE);
    match std::fs::read(&path) {
        Ok(bytes) if bytes.len() == 32 => {
            let mut key = [0u8; 32];
            key.copy_from_slice(&bytes);
            return Ok(key);
        }
        Ok(_) => {
            return Err(FileStoreError::Invalid(format!(
                "{} must hold exactly 32 bytes; delete it to create a new key (outstanding \
                 download URLs then stop working)",
                path.display()
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(&path)(e)),
    }
    crate::vault::create_private_dir(data_dir).map_err(io(data_dir))?;
    let key: [u8; 32] = rand::random();
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    match opts.open(&path) {
        Ok(mut f) => {
            f.write_all(&key).map_err(io(&path))?;
            f.sync_all().map_err(io(&path))?;
            Ok(key)
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            load_or_create_transfer_key(data_dir)
        }
        Err(e) => Err(io(&path)(e)),
    }
}

#[cfg(test)]
mod token_tests {
    use super::*;

    #[test]
    fn tokens_verify_and_refuse_tampering_and_expiry() {
        let key = [9u8; 32];
        let t = TransferToken {
            device_id: "00562B-CP%2D8851%2D3PCC-FCH1".into(),
            task_id: Some(42),
            file_id: 7,
            file_hash: "0123456789abcdef".into(),
            expires: 2_000,
        };
        let signed = t.sign(&key);
        assert!(
            signed
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        );
        assert_eq!(TransferToken::verify(&signed, &key, 1_999), Ok(t.clone()));
        assert_eq!(
            TransferToken::verify(&signed, &key, 2_001),
            Err(TokenError::Expired)
        );
        assert_eq!(
            TransferToken::verify(&signed, &[8u8; 32], 0),
            Err(TokenError::Invalid)
        );
        // Any changed character breaks the MAC.
        for i in 0..signed.len() {
            let mut bytes = signed.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let forged = String::from_utf8(bytes).unwrap();
            if forged != signed {
                assert!(TransferToken::verify(&forged, &key, 0).is_err(), "{forged}");
            }
        }
        for junk in ["", ".", "a.b.c.d", "1.2.3", "x.0.AA.AAAAAAAAAAAAAAAAAAAAAA"] {
            assert_eq!(
                TransferToken::verify(junk, &key, 0),
                Err(TokenError::Invalid),
                "{junk}"
            );
        }
        let none = TransferToken { task_id: None, ..t };
        assert_eq!(
            TransferToken::verify(&none.sign(&key), &key, 0)
                .unwrap()
                .task_id,
            None
        );
    }

    #[test]
    fn the_transfer_key_is_created_once_and_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_create_transfer_key(dir.path()).unwrap();
        let b = load_or_create_transfer_key(dir.path()).unwrap();
        assert_eq!(a, b);
        let mode = std::fs::metadata(dir.path().join(TRANSFER_KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::write(dir.path().join(TRANSFER_KEY_FILE), b"short").unwrap();
        assert!(load_or_create_transfer_key(dir.path()).is_err());
    }
}
