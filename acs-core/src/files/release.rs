//! Cisco MPP firmware releases: a `.loads` manifest and the files it names.
//!
//! A phone is sent the `.loads` file and then fetches the other files of the release from the
//! same directory (SPEC §9). The ACS lets a transfer's token open exactly those files, read
//! from the stored manifest itself, so a token can never be stretched to any other file.
//!
//! The manifest's layout is not documented, so it is read as a list of tokens: every word
//! (split on whitespace and `,;:=` and quotes) that is a valid stored file name with an
//! extension counts as a file of the release. A word that happens to be no file name opens
//! nothing, since only stored files of the same name can be served.

use std::collections::BTreeSet;

use tokio::io::AsyncReadExt as _;

use super::{FileStore, FileStoreError, io, valid_file_name};
use crate::storage::{FileKind, FileRow};

/// Largest manifest read: real ones are a few hundred bytes.
const MAX_MANIFEST_BYTES: u64 = 64 * 1024;

/// Whether `file` is a firmware release manifest whose token opens the release's files.
pub fn is_release_manifest(file: &FileRow) -> bool {
    file.kind == FileKind::Firmware && file.name.ends_with(".loads")
}

/// The file names a manifest lists (never the manifest's own name).
pub fn listed_names(manifest: &str, own_name: &str) -> BTreeSet<String> {
    manifest
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | ':' | '=' | '"' | '\''))
        .filter(|w| w.contains('.') && *w != own_name && valid_file_name(w))
        .map(str::to_owned)
        .collect()
}

impl FileStore {
    /// The names of the files of the release whose manifest is `loads`; empty for any other
    /// file, and for a manifest too large or not text.
    pub async fn release_names(&self, loads: &FileRow) -> Result<BTreeSet<String>, FileStoreError> {
        if !is_release_manifest(loads) {
            return Ok(BTreeSet::new());
        }
        let path = self.blob_path(&loads.sha256);
        let file = tokio::fs::File::open(&path).await.map_err(io(&path))?;
        let mut bytes = Vec::new();
        file.take(MAX_MANIFEST_BYTES + 1)
            .read_to_end(&mut bytes)
            .await
            .map_err(io(&path))?;
        if bytes.len() as u64 > MAX_MANIFEST_BYTES {
            return Ok(BTreeSet::new());
        }
        Ok(listed_names(&String::from_utf8_lossy(&bytes), &loads.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_lists_file_names_only() {
        let manifest = "LOADS: sip88xx.12-0-3MPP-5\n\
                        kern88xx.12-0-3MPP-5.sbn rootfs88xx.12-0-3MPP-5.sbn\r\n\
                        hash=\"sboot88xx.12-0-3MPP-5.sbn\";../etc/passwd a/b.sbn noext \
                        sip88xx.12-0-3MPP-5.loads";
        let names = listed_names(manifest, "sip88xx.12-0-3MPP-5.loads");
        assert_eq!(
            names.into_iter().collect::<Vec<_>>(),
            [
                "kern88xx.12-0-3MPP-5.sbn",
                "rootfs88xx.12-0-3MPP-5.sbn",
                "sboot88xx.12-0-3MPP-5.sbn",
                "sip88xx.12-0-3MPP-5",
            ]
        );
    }
}
