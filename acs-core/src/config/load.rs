//! Where settings come from: defaults, the TOML file, `ACS_…` variables and flags, merged.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

use super::{Settings, SettingsError};

/// The file read when `--config` is not given, if it exists (relative to the working directory).
pub const DEFAULT_CONFIG_FILE: &str = "acs.toml";

/// Prefix of the environment variables that set settings (`ACS_CWMP__LISTEN`, …).
pub const ENV_PREFIX: &str = "ACS";

/// Separator between levels in environment variable names (`ACS_CPE_AUTH__LIMITER__BLOCK_SECS`).
pub const ENV_SEPARATOR: &str = "__";

/// The top-level names an `ACS_…` environment variable must start with to be read as a setting.
const SECTIONS: &[&str] = &[
    "data_dir",
    "database",
    "cwmp",
    "nbi",
    "connection_request",
    "cpe_auth",
    "files",
    "jobs",
    "presence",
    "alerts",
    "provision",
    "bootstrap",
    "log",
];

/// Where [`Settings::load`] reads from, besides the defaults and the environment.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `--config`: must exist. `None`: `./acs.toml` if it exists, else no file.
    pub config_file: Option<PathBuf>,
    /// Command-line flags; they win over everything else.
    pub overrides: Overrides,
}

/// Settings given as command-line flags (`--data-dir`, `--cwmp-listen`, `--nbi-listen`).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub cwmp_listen: Option<SocketAddr>,
    pub nbi_listen: Option<SocketAddr>,
}

impl Settings {
    /// Defaults, then the TOML file, then `ACS_…` environment variables, then the flags in
    /// `options`; then validation. See the module documentation.
    pub fn load(options: LoadOptions) -> Result<Self, SettingsError> {
        let mut env = HashMap::new();
        for (key, value) in std::env::vars_os() {
            let Ok(key) = key.into_string() else { continue };
            if !has_prefix(&key) {
                continue;
            }
            let value = value
                .into_string()
                .map_err(|_| SettingsError::NonUnicodeEnv(key.clone()))?;
            env.insert(key, value);
        }
        Self::load_from(options, Path::new(DEFAULT_CONFIG_FILE), env)
    }

    /// [`Settings::load`] with the default file location and the environment passed in, so
    /// tests neither depend on the working directory nor mutate the process environment.
    pub(super) fn load_from(
        options: LoadOptions,
        default_file: &Path,
        env: HashMap<String, String>,
    ) -> Result<Self, SettingsError> {
        let file = match options.config_file {
            Some(path) if !path.is_file() => return Err(SettingsError::FileNotFound(path)),
            Some(path) => Some(path),
            None => default_file.is_file().then(|| default_file.to_owned()),
        };

        let (env, ignored_env) = split_env(env);

        let mut builder = config::Config::builder();
        if let Some(path) = &file {
            builder = builder.add_source(
                config::File::from(path.as_path())
                    .format(config::FileFormat::Toml)
                    .required(true),
            );
        }
        // Values stay strings (no `try_parsing`): a password like `0123` must not become the
        // number 123. The deserializer converts strings to numbers and booleans where the
        // setting's type asks for them.
        builder = builder.add_source(
            config::Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("_")
                .separator(ENV_SEPARATOR)
                .ignore_empty(true)
                .source(Some(env)),
        );
        let mut settings: Settings = builder.build()?.try_deserialize()?;
        settings.ignored_env = ignored_env;

        let Overrides {
            data_dir,
            cwmp_listen,
            nbi_listen,
        } = options.overrides;
        if let Some(dir) = data_dir {
            settings.data_dir = dir;
        }
        if let Some(addr) = cwmp_listen {
            settings.cwmp.listen = addr;
        }
        if let Some(addr) = nbi_listen {
            settings.nbi.listen = addr;
        }

        settings.validate()?;
        Ok(settings)
    }
}

fn has_prefix(key: &str) -> bool {
    key.get(..ENV_PREFIX.len() + 1)
        .is_some_and(|p| p.eq_ignore_ascii_case("ACS_"))
}

/// Splits `ACS_…` variables into settings (first level is a known section) and ignored ones;
/// returns the ignored names that look like a mistyped setting (`ACS_CWMP_LISTEN`).
fn split_env(env: HashMap<String, String>) -> (config::Map<String, String>, Vec<String>) {
    let mut settings = config::Map::new();
    let mut typos = Vec::new();
    for (key, value) in env {
        if !has_prefix(&key) {
            continue;
        }
        let rest = key[ENV_PREFIX.len() + 1..].to_ascii_lowercase();
        let first = rest.split(ENV_SEPARATOR).next().unwrap_or_default();
        if SECTIONS.contains(&first) {
            settings.insert(key, value);
        } else if SECTIONS.iter().any(|s| first.starts_with(&format!("{s}_"))) {
            typos.push(key);
        }
    }
    typos.sort();
    (settings, typos)
}

/// A `SocketAddr` with an error message that shows the value and the expected form.
pub(super) fn socket_addr<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<SocketAddr, D::Error> {
    let s = String::deserialize(deserializer)?;
    s.trim().parse().map_err(|_| {
        de::Error::custom(format!(
            "{s:?} is not an IP:port address (e.g. 0.0.0.0:7547 or [::]:7547; no host names)"
        ))
    })
}

/// Deserializes a list from a TOML array or a comma-separated string (the form environment
/// variables give), parsing each item with `FromStr`.
pub(super) fn string_or_list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    struct ListVisitor<T>(std::marker::PhantomData<T>);

    impl<'de, T> Visitor<'de> for ListVisitor<T>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of strings or a comma-separated string")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().map_err(E::custom))
                .collect()
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(item) = seq.next_element::<String>()? {
                out.push(item.trim().parse().map_err(de::Error::custom)?);
            }
            Ok(out)
        }
    }

    deserializer.deserialize_any(ListVisitor(std::marker::PhantomData))
}
