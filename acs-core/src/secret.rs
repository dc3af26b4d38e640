//! A string that must never reach a log line, an error message or a printed configuration.
//!
//! CPE passwords (TR-069 §3.4.4), connection-request passwords and similar values travel
//! through configuration structs that are routinely `Debug`-printed and serialised (for example
//! by an "effective configuration" dump). Wrapping them in [`Secret`] makes leaking them take an
//! explicit [`Secret::expose`] call.

use std::fmt;

use serde::{Deserialize, Serialize, Serializer};
use subtle::ConstantTimeEq;

/// What `Debug`, `Display` and `Serialize` print instead of the value.
pub const REDACTED: &str = "[redacted]";

/// A redacted, constant-time-comparable string.
///
/// - `Debug`/`Display` print `[redacted]`.
/// - `Deserialize` reads a plain string; `Serialize` writes `"[redacted]"`, so a serialised
///   configuration does not round-trip its secrets (by design: the output is for humans).
/// - `==` compares in constant time for equal lengths (the length itself is not hidden).
/// - On drop the buffer is overwritten with zeros on a best-effort basis: without `unsafe`
///   there is no volatile write, and copies made by clones or reallocations are not tracked.
#[derive(Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The clear value. Call it only where the value is actually needed (hashing, comparing,
    /// sending), never to format it for a log.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Constant-time comparison against a candidate (e.g. a password from a Basic header), so
    /// response timing does not reveal how many leading bytes of a guess were right.
    pub fn matches(&self, candidate: &[u8]) -> bool {
        bool::from(self.0.as_bytes().ct_eq(candidate))
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.matches(other.0.as_bytes())
    }
}

impl Eq for Secret {}

impl Drop for Secret {
    fn drop(&mut self) {
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        bytes.fill(0);
        // Keeps the optimiser from proving the zeroed buffer dead and dropping the fill.
        std::hint::black_box(&bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s}"), "[redacted]");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(&s)), "Some([redacted])");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"[redacted]\"");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn deserializes_from_plain_string() {
        #[derive(Deserialize, Serialize, Debug)]
        struct Cfg {
            password: Secret,
        }
        let cfg: Cfg = serde_json::from_str(r#"{"password":"p\"w"}"#).unwrap();
        assert_eq!(cfg.password.expose(), "p\"w");
        assert_eq!(
            serde_json::to_string(&cfg).unwrap(),
            r#"{"password":"[redacted]"}"#
        );
        assert!(!format!("{cfg:?}").contains("p\\\"w"));
    }

    #[test]
    fn equality() {
        let cases: &[(&str, &str, bool)] = &[
            ("abc", "abc", true),
            ("abc", "abd", false),
            ("abc", "ab", false),
            ("", "", true),
            ("", "x", false),
        ];
        for &(a, b, want) in cases {
            assert_eq!(Secret::from(a) == Secret::from(b), want, "{a:?} vs {b:?}");
            assert_eq!(
                Secret::from(a).matches(b.as_bytes()),
                want,
                "{a:?} vs {b:?}"
            );
        }
    }
}
