//! Streaming a local file into the ACS file store (`POST /files`).

use anyhow::Context as _;
use futures::StreamExt as _;
use reqwest::Method;
use serde_json::Value;

use crate::cmd::client::{self, Client};

/// Streams a file to `POST /files` and returns the stored file's JSON.
pub async fn upload_file(
    client: &Client,
    path: &std::path::Path,
    file_type: &str,
    product_class: Option<&str>,
    version: Option<&str>,
    name: Option<&str>,
) -> anyhow::Result<Value> {
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
    let mut query = vec![("name", name), ("type", file_type.to_owned())];
    query.extend(product_class.map(|p| ("product_class", p.to_owned())));
    query.extend(version.map(|v| ("version", v.to_owned())));
    let url = client.url(&["files"], &query);
    // Read and sent in chunks: memory stays flat whatever the image's size.
    let stream =
        acs_core::files::read_chunks(file, 256 * 1024).map(|chunk| chunk.map(bytes::Bytes::from));
    let resp = client
        .send_body(
            Method::POST,
            url,
            reqwest::Body::wrap_stream(stream),
            "application/octet-stream",
        )
        .await?;
    resp.json().await.context("the server's answer is not JSON")
}
