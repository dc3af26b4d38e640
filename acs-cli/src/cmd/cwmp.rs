//! `acs cwmp decode|encode|examples`.

use super::read_input;
use crate::Exit;

use acs_core::cwmp;
use anyhow::Context as _;
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum CwmpCommand {
    /// Decode a SOAP envelope (a file, or - for standard input) and print it as JSON.
    ///
    /// On failure prints the problem with its line and column and exits 1.
    Decode {
        /// The envelope file, or - for standard input.
        file: String,
        /// Print on one line.
        #[arg(long)]
        compact: bool,
    },
    /// Encode the JSON form printed by `decode` back into a SOAP envelope.
    Encode {
        /// The JSON file, or - for standard input.
        file: String,
    },
    /// Write one instance of every message kind the codec writes, one file each, for schema
    /// validation.
    Examples {
        /// Directory to write into (created if missing).
        #[arg(long)]
        out: PathBuf,
    },
}

impl CwmpCommand {
    pub fn run(self) -> anyhow::Result<()> {
        match self {
            CwmpCommand::Decode { file, compact } => {
                let bytes = read_input(&file)?;
                match cwmp::decode(&bytes) {
                    Ok(env) => {
                        let json = if compact {
                            serde_json::to_string(&env)
                        } else {
                            serde_json::to_string_pretty(&env)
                        };
                        println!("{}", json.context("writing JSON")?);
                        Ok(())
                    }
                    Err(e) => {
                        let place = if file == "-" {
                            "<stdin>".to_owned()
                        } else {
                            file
                        };
                        match e.position() {
                            Some(p) => eprintln!("{place}:{}:{}: {e}", p.line, p.column),
                            None => eprintln!("{place}: {e}"),
                        }
                        Err(Exit(1).into())
                    }
                }
            }
            CwmpCommand::Encode { file } => {
                let bytes = read_input(&file)?;
                let env: cwmp::Envelope = serde_json::from_slice(&bytes).map_err(|e| {
                    anyhow::anyhow!(
                        "{file}:{}:{}: not a CWMP envelope in JSON form: {e}",
                        e.line(),
                        e.column()
                    )
                })?;
                let xml = cwmp::encode(&env)
                    .with_context(|| format!("{file}: cannot be written as CWMP"))?;
                println!("{xml}");
                Ok(())
            }
            CwmpCommand::Examples { out } => {
                std::fs::create_dir_all(&out)
                    .with_context(|| format!("creating {}", out.display()))?;
                let all = cwmp::examples::all_envelopes();
                for (stem, env) in &all {
                    let xml = cwmp::encode(env).with_context(|| format!("encoding {stem}"))?;
                    let path = out.join(format!("{stem}.xml"));
                    std::fs::write(&path, xml)
                        .with_context(|| format!("writing {}", path.display()))?;
                }
                eprintln!("wrote {} envelopes to {}", all.len(), out.display());
                Ok(())
            }
        }
    }
}
