//! Voice-line registration, as a phone shows it in TR-104 `Line.{i}.Status`: a line that is
//! switched on registers (`Up`), one switched off is `Disabled`, and a registration can be
//! lost on command (`Error`) and regained, so an ACS's line-health handling can be tested.

use super::model::{CpeFault, DataModel, FaultCode};

/// The `Status` beside a line's `Enable`, if `name` is one.
fn status_of_enable(name: &str) -> Option<String> {
    let line = name.strip_suffix("Enable")?;
    line.contains(".Line.").then(|| format!("{line}Status"))
}

/// After a SetParameterValues the device applied: each line whose `Enable` was written
/// registers (`Enabled`) or goes `Disabled`, as the device itself (so a Notification on the
/// Status reports it).
pub(crate) fn follow_enable<'a>(model: &mut DataModel, written: impl IntoIterator<Item = &'a str>) {
    for name in written {
        let Some(status) = status_of_enable(name) else {
            continue;
        };
        let Some(enable) = model.value(name) else {
            continue;
        };
        if model.value(&status).is_none() {
            continue;
        }
        let state = if enable.eq_ignore_ascii_case("Enabled") || enable == "true" || enable == "1" {
            "Up"
        } else {
            "Disabled"
        };
        if let Err(e) = model.set_internal(&status, state) {
            tracing::warn!(%status, "cannot set {state}: {e}");
        }
    }
}

/// The TR-104 Status of line `n` of a phone whose data model starts at `root`.
pub(crate) fn status_name(root: &str, n: u32) -> String {
    format!("{root}Services.VoiceService.1.VoiceProfile.1.Line.{n}.Status")
}

/// Loses (`registered = false`: `Error`) or regains (`Up`) line `n`'s registration. Returns
/// whether the state changed; 9005 when the phone has no such line.
pub(crate) fn set_registered(
    model: &mut DataModel,
    root: &str,
    n: u32,
    registered: bool,
) -> Result<bool, CpeFault> {
    let name = status_name(root, n);
    if model.value(&name).is_none() {
        return Err(CpeFault::new(
            FaultCode::InvalidParameterName,
            format!("the phone has no line {n}"),
        ));
    }
    model.set_internal(&name, if registered { "Up" } else { "Error" })
}
