//! The `acs` command as a library: the subcommands and the CPE simulator, so that the
//! end-to-end suites drive the same code the binary runs.

pub mod cmd;
pub mod sim;
pub mod telemetry;

/// A failure that already told the user what went wrong and only needs an exit code.
#[derive(Debug)]
pub struct Exit(pub u8);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}", self.0)
    }
}

impl std::error::Error for Exit {}
