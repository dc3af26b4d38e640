//! Streaming a local file into the ACS file store (`POST /files`).

use acs_api::{File, UploadQuery};
use anyhow::Context as _;
use futures::StreamExt as _;

use crate::cmd::client::{self, Cli as _, Client};

/// Streams a file to `POST /files` and returns the stored file.
pub async fn upload_file(
    client: &Client,
    path: &std::path::Path,
    file_type: &str,
    product_class: Option<&str>,
    version: Option<&str>,
    name: Option<&str>,
) -> anyhow::Result<File> {
    let name = match name {
        Some(n) => n.to_owned(),
        None => path
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_owned)
            .ok_or_else(|| {
                client::usage(format!("{}: not a file name; give --name", path.display()))
            })?,
    };
    let file = tokio::fs::File::open(path)
        .await
        .with_context(|| format!("opening {}", path.display()))?;
    let query = UploadQuery {
        name,
        file_type: Some(file_type.to_owned()),
        product_class: product_class.map(str::to_owned),
        version: version.map(str::to_owned),
    };
    // Read and sent in chunks: memory stays flat whatever the image's size.
    let stream =
        acs_core::files::read_chunks(file, 256 * 1024).map(|chunk| chunk.map(bytes::Bytes::from));
    client
        .upload_file(&query, reqwest::Body::wrap_stream(stream))
        .await
        .cli()
}
