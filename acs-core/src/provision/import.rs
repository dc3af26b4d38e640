//! Configuration-file rules: their files are paths, imported into the file store at start-up.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::rule::{AttributeSpec, Names, ObjectSpec, default_events, default_order};
use super::{
    ProvisionError, ProvisionEvent, RuleSource, RuleSpec, invalid, validate,
    version_from_image_name,
};
use crate::cwmp::ParameterValue;
use crate::files::{FileMeta, FileStore};
use crate::storage::{FileKind, FileRow, Store};

/// A file-based rule as written in the configuration file: files are paths, imported into the
/// file store when the server starts. `Debug` shows parameter names, never values.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigRule {
    /// See [`RuleSpec::name`].
    pub name: String,
    /// See [`RuleSpec::order`].
    #[serde(default = "default_order")]
    pub order: i32,
    /// See [`RuleSpec::filter`].
    #[serde(default)]
    pub filter: Option<String>,
    /// See [`RuleSpec::events`].
    #[serde(default = "default_events")]
    pub events: Vec<ProvisionEvent>,
    /// See [`RuleSpec::objects`] (`{ path, instances }`).
    #[serde(default)]
    pub objects: Vec<ObjectSpec>,
    /// See [`RuleSpec::parameters`] (`{ name, value, type }`, type default `xsd:string`).
    #[serde(default)]
    pub parameters: Vec<ParameterValue>,
    /// See [`RuleSpec::attributes`] (`{ name, notification }`).
    #[serde(default)]
    pub attributes: Vec<AttributeSpec>,
    /// See [`RuleSpec::connection_request_credentials`].
    #[serde(default)]
    pub connection_request_credentials: bool,
    /// A flat-profile template on disk.
    #[serde(default)]
    pub template: Option<PathBuf>,
    /// A CSV of template variables on disk.
    #[serde(default)]
    pub vars: Option<PathBuf>,
    /// A firmware image on disk.
    #[serde(default)]
    pub firmware: Option<PathBuf>,
    /// See [`RuleSpec::firmware_version`].
    #[serde(default)]
    pub firmware_version: Option<String>,
    /// A maintenance window (`Mon-Fri 01:00-05:00 Europe/Oslo`): the rule pushes only at
    /// Informs inside it.
    #[serde(default)]
    pub window: Option<String>,
}

impl std::fmt::Debug for ConfigRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigRule")
            .field("name", &self.name)
            .field("order", &self.order)
            .field("filter", &self.filter)
            .field("events", &self.events)
            .field("objects", &self.objects)
            .field("parameters", &Names(&self.parameters))
            .field("attributes", &self.attributes)
            .field(
                "connection_request_credentials",
                &self.connection_request_credentials,
            )
            .field("template", &self.template)
            .field("vars", &self.vars)
            .field("firmware", &self.firmware)
            .field("firmware_version", &self.firmware_version)
            .field("window", &self.window)
            .finish()
    }
}

impl ConfigRule {
    /// The rule with file ids in place of its paths.
    fn spec(
        &self,
        template_file: Option<i64>,
        vars_file: Option<i64>,
        firmware_file: Option<i64>,
        firmware_version: Option<String>,
    ) -> RuleSpec {
        RuleSpec {
            name: self.name.clone(),
            order: self.order,
            filter: self.filter.clone(),
            events: self.events.clone(),
            objects: self.objects.clone(),
            parameters: self.parameters.clone(),
            attributes: self.attributes.clone(),
            connection_request_credentials: self.connection_request_credentials,
            template_file,
            vars_file,
            firmware_file,
            firmware_version,
            window: self.window.clone(),
        }
    }

    /// Checks the rule without touching files (settings validation).
    pub fn validate(&self) -> Result<(), ProvisionError> {
        let placeholder = |p: &Option<PathBuf>| p.as_ref().map(|_| 0);
        let spec = self.spec(
            placeholder(&self.template),
            placeholder(&self.vars),
            placeholder(&self.firmware),
            self.firmware_version.clone(),
        );
        validate(spec, RuleSource::Config).map(|_| ())
    }
}

/// Brings the files of configuration-file rules into the file store (the same file with the
/// same content is reused, so a restart stores nothing new) and returns the rules with file
/// ids.
pub async fn import_config_rules(
    files: &FileStore,
    store: &Store,
    rules: &[ConfigRule],
) -> Result<Vec<RuleSpec>, ProvisionError> {
    let mut out = Vec::with_capacity(rules.len());
    for r in rules {
        r.validate()?;
        let template = match &r.template {
            Some(p) => {
                Some(import_file(files, store, &r.name, p, FileKind::ConfigTemplate, None).await?)
            }
            None => None,
        };
        let vars = match &r.vars {
            Some(p) => Some(import_file(files, store, &r.name, p, FileKind::Vars, None).await?),
            None => None,
        };
        let firmware = match &r.firmware {
            Some(p) => Some(
                import_file(
                    files,
                    store,
                    &r.name,
                    p,
                    FileKind::Firmware,
                    r.firmware_version.clone(),
                )
                .await?,
            ),
            None => None,
        };
        let firmware_version = r
            .firmware_version
            .clone()
            .or_else(|| firmware.as_ref().and_then(|f| f.version.clone()));
        if let (Some(f), None) = (&firmware, &firmware_version) {
            return invalid(
                &r.name,
                format!("{} carries no version: give firmware_version", f.name),
            );
        }
        out.push(r.spec(
            template.as_ref().map(|f| f.id),
            vars.as_ref().map(|f| f.id),
            firmware.as_ref().map(|f| f.id),
            firmware_version,
        ));
    }
    Ok(out)
}

async fn import_file(
    files: &FileStore,
    store: &Store,
    rule: &str,
    path: &Path,
    kind: FileKind,
    version: Option<String>,
) -> Result<FileRow, ProvisionError> {
    let fail = |e: &dyn std::fmt::Display| {
        ProvisionError::Import(format!("rule `{rule}`: {}: {e}", path.display()))
    };
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| fail(&"not a file name"))?
        .to_owned();
    let version = version.or_else(|| match kind {
        FileKind::Firmware => version_from_image_name(&name),
        _ => None,
    });
    let sha = {
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || -> std::io::Result<String> {
            let mut f = std::fs::File::open(&path)?;
            let mut h = Sha256::new();
            std::io::copy(&mut f, &mut h)?;
            Ok(hex::encode(h.finalize()))
        })
        .await
        .map_err(|e| fail(&e))?
        .map_err(|e| fail(&e))?
    };
    if let Some(existing) = store
        .list_files(Some(kind))
        .await?
        .into_iter()
        .find(|f| f.name == name && f.sha256 == sha && f.version == version)
    {
        return Ok(existing);
    }
    let file = tokio::fs::File::open(path).await.map_err(|e| fail(&e))?;
    let body = Box::pin(crate::files::read_chunks(file, 64 * 1024));
    files
        .upload(
            FileMeta {
                name,
                kind,
                product_class: None,
                version,
            },
            body,
        )
        .await
        .map_err(|e| fail(&e))
}
