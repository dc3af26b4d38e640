//! Passwords at rest: per-device ACS passwords and connection-request passwords are stored
//! sealed with XChaCha20-Poly1305 under a 32-byte key kept in `<data-dir>/secrets.key` (0600).
//!
//! Why encryption and not Digest HA1: a connection request is Digest *towards the CPE*, whose
//! realm is only known from its challenge, so the ACS needs the plain password there; one
//! mechanism for both kinds of password keeps a change of `cpe_auth.realm` harmless. A stolen
//! database without the key file reveals no password.
//!
//! A sealed value is `acs-sealed:v1:` + base64url(nonce ‖ ciphertext ‖ tag); the random 192-bit
//! nonce makes nonce reuse a non-issue without any counter. Values without the prefix are
//! legacy plain text (databases from before sealing) and are sealed at start-up.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::secret::Secret;

/// Name of the key file in the data directory.
pub const SECRETS_KEY_FILE: &str = "secrets.key";

/// Prefix of a sealed value.
pub const SEALED_PREFIX: &str = "acs-sealed:v1:";

const NONCE_LEN: usize = 24;

/// Why a key could not be loaded or a value not opened.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{0} must hold exactly 32 bytes; restore it from a backup (without it the stored \
         passwords cannot be read)"
    )]
    BadKeyFile(PathBuf),
    /// Wrong key, or a value altered in the database.
    #[error("a stored password cannot be decrypted with this data directory's secrets.key")]
    Undecryptable,
}

/// The key that seals and opens stored passwords. `Debug` never shows it.
#[derive(Clone)]
pub struct Vault {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault([redacted])")
    }
}

impl Vault {
    /// A vault over a given key (tests, tools).
    pub fn from_key(key: &[u8; 32]) -> Self {
        Vault {
            cipher: XChaCha20Poly1305::new(key.into()),
        }
    }

    /// Reads `<data_dir>/secrets.key`, creating the directory (0700) and the key (0600, created
    /// with that mode rather than restricted afterwards) on first use.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, VaultError> {
        use std::io::Write as _;
        let path = data_dir.join(SECRETS_KEY_FILE);
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| VaultError::Io { path, source }
        };
        match std::fs::read(&path) {
            Ok(bytes) => {
                let key: [u8; 32] = bytes
                    .as_slice()
                    .try_into()
                    .map_err(|_| VaultError::BadKeyFile(path.clone()))?;
                return Ok(Self::from_key(&key));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&path)(e)),
        }
        create_private_dir(data_dir).map_err(io(data_dir))?;
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
                Ok(Self::from_key(&key))
            }
            // Another process created it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Self::load_or_create(data_dir)
            }
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// Seals a password for storage.
    pub fn seal(&self, plain: &str) -> String {
        let nonce: [u8; NONCE_LEN] = rand::random();
        let ciphertext = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), plain.as_bytes())
            // Encryption fails only for inputs beyond 256 GiB.
            .unwrap_or_default();
        let mut out = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        format!("{SEALED_PREFIX}{}", URL_SAFE_NO_PAD.encode(out))
    }

    /// Opens a stored value: a sealed one is decrypted, a legacy plain-text one is returned as is.
    pub fn open(&self, stored: &str) -> Result<Secret, VaultError> {
        let Some(encoded) = stored.strip_prefix(SEALED_PREFIX) else {
            return Ok(Secret::new(stored));
        };
        let raw = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| VaultError::Undecryptable)?;
        if raw.len() < NONCE_LEN {
            return Err(VaultError::Undecryptable);
        }
        let (nonce, ciphertext) = raw.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(XNonce::from_slice(nonce), ciphertext)
            .map_err(|_| VaultError::Undecryptable)?;
        String::from_utf8(plain)
            .map(Secret::new)
            .map_err(|_| VaultError::Undecryptable)
    }
}

/// Whether a stored value is sealed (as opposed to legacy plain text).
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(SEALED_PREFIX)
}

/// Creates a directory (and its parents) that only the owner can enter: the data directory
/// holds the database, keys and tokens. An existing directory is left as it is, so an
/// operator's deliberate choice (e.g. a group-readable mount) is kept.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_and_hide_the_password() {
        let vault = Vault::from_key(&[7u8; 32]);
        let sealed = vault.seal("pa55word");
        assert!(is_sealed(&sealed));
        assert!(!sealed.contains("pa55word"));
        // A fresh nonce each time: equal passwords do not show as equal rows.
        assert_ne!(sealed, vault.seal("pa55word"));
        assert_eq!(vault.open(&sealed).unwrap().expose(), "pa55word");
        assert_eq!(vault.open("legacy").unwrap().expose(), "legacy");
        let other = Vault::from_key(&[8u8; 32]);
        assert!(matches!(
            other.open(&sealed),
            Err(VaultError::Undecryptable)
        ));
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(vault.open(&tampered).is_err());
        assert!(vault.open(&format!("{SEALED_PREFIX}!!")).is_err());
        assert!(!format!("{vault:?}").contains('7'));
    }

    #[cfg(unix)]
    #[test]
    fn the_key_is_created_once_and_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let a = Vault::load_or_create(&data).unwrap();
        let b = Vault::load_or_create(&data).unwrap();
        assert_eq!(b.open(&a.seal("x")).unwrap().expose(), "x");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data.join(SECRETS_KEY_FILE)), 0o600);
        assert_eq!(mode(&data), 0o700);
        std::fs::write(data.join(SECRETS_KEY_FILE), b"short").unwrap();
        assert!(matches!(
            Vault::load_or_create(&data),
            Err(VaultError::BadKeyFile(_))
        ));
    }
}
