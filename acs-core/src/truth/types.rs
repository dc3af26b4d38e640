//! The `xsi:type` of a SetParameterValues value the operator gave without one. In order:
//!
//! 1. the type stored for the parameter (the CPE reported it);
//! 2. the type in the data model (the device's profile, then TR-181/TR-098/TR-104);
//! 3. the type the CPE reports in a GetParameterValues sent in the same session, just before
//!    the SetParameterValues (the task's first step, see [`crate::tasks`]).
//!
//! Never `xsd:string` by default: a CPE may refuse it for an `unsignedInt` (fault 9006).

use crate::cwmp::{ParameterValue, ValueType};
use crate::storage::{Store, StoreError};
use crate::tasks::{Payload, QueuedTask, TaskSpec, is_unspecified};
use crate::truth::datamodel::DataModel;

/// A stored type that can be written on the wire; an empty one (a name known from
/// GetParameterNames only) or one we do not know is no answer.
pub fn usable_type(raw: &str) -> Option<ValueType> {
    match ValueType::parse(raw) {
        ValueType::Other(_) => None,
        t => Some(t),
    }
}

/// Fills in the types of unspecified values from what is stored (`stored`) and from the data
/// model. Returns whether anything changed; values still unspecified need the CPE's word.
pub fn resolve(
    values: &mut [ParameterValue],
    stored: impl Fn(&str) -> Option<ValueType>,
    model: &DataModel,
    product_class: Option<&str>,
) -> bool {
    let mut changed = false;
    for v in values.iter_mut().filter(|v| is_unspecified(&v.value_type)) {
        let found = stored(&v.name).or_else(|| {
            model
                .lookup(&v.name, product_class)
                .map(|d| d.value_type.clone())
                .filter(|t| !matches!(t, ValueType::Other(_)))
        });
        if let Some(t) = found {
            v.value_type = t;
            changed = true;
        }
    }
    changed
}

/// Resolves what `device_id`'s stored parameters and the data model can tell about the
/// unspecified types in `values`. Returns whether anything changed.
pub async fn resolve_for_device(
    store: &Store,
    device_id: &str,
    values: &mut [ParameterValue],
) -> Result<bool, StoreError> {
    if !values.iter().any(|v| is_unspecified(&v.value_type)) {
        return Ok(false);
    }
    let product_class = store.get_device(device_id).await?.map(|d| d.product_class);
    let mut stored = Vec::new();
    for v in values.iter().filter(|v| is_unspecified(&v.value_type)) {
        if let Some(row) = store
            .get_parameters(device_id, Some(&v.name))
            .await?
            .into_iter()
            .find(|r| r.name == v.name)
            && let Some(t) = usable_type(&row.xsd_type)
        {
            stored.push((v.name.clone(), t));
        }
    }
    let lookup = |name: &str| {
        stored
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.clone())
    };
    Ok(resolve(
        values,
        lookup,
        DataModel::builtin(),
        product_class.as_deref(),
    ))
}

/// Resolves a queued SetParameterValues's unspecified types for `device_id` before it is sent,
/// and stores the result first, so the stored task says what went on the wire. Other payloads
/// are returned as they are.
pub async fn settle(
    store: &Store,
    device_id: &str,
    task_id: i64,
    payload: Payload,
) -> Result<Payload, StoreError> {
    let Payload::Task(QueuedTask {
        spec: TaskSpec::SetParameterValues { mut values },
        step: 0,
    }) = payload
    else {
        return Ok(payload);
    };
    let changed = resolve_for_device(store, device_id, &mut values).await?;
    let task = QueuedTask {
        spec: TaskSpec::SetParameterValues { values },
        step: 0,
    };
    if changed {
        let json =
            serde_json::to_value(&task).map_err(|e| StoreError::InvalidInput(e.to_string()))?;
        match store.update_queued_payload(task_id, &json).await {
            // Another session took the task meanwhile: it will not be sent from here anyway.
            Ok(()) | Err(StoreError::TaskStateConflict { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Payload::Task(task))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tasks::UNSPECIFIED_TYPE;

    fn untyped(name: &str, value: &str) -> ParameterValue {
        ParameterValue::new(name, value, UNSPECIFIED_TYPE)
    }

    #[test]
    fn stored_then_data_model_then_the_cpe() {
        let mut values = vec![
            // In the data model, and stored with another type: the CPE's word wins.
            untyped("Device.ManagementServer.PeriodicInformInterval", "300"),
            // In the data model only.
            untyped("Device.ManagementServer.PeriodicInformEnable", "1"),
            // Neither: left for the GetParameterValues step.
            untyped("Device.X_ACME_Volume", "7"),
            // Given by the operator: never changed.
            ParameterValue::new(
                "Device.DeviceInfo.ProvisioningCode",
                "12",
                ValueType::String,
            ),
        ];
        let stored = |n: &str| {
            (n == "Device.ManagementServer.PeriodicInformInterval")
                .then_some(ValueType::UnsignedLong)
        };
        assert!(resolve(&mut values, stored, DataModel::builtin(), None));
        let types: Vec<_> = values.iter().map(|v| v.value_type.clone()).collect();
        assert_eq!(
            types,
            [
                ValueType::UnsignedLong,
                ValueType::Boolean,
                UNSPECIFIED_TYPE,
                ValueType::String
            ]
        );
        assert!(!resolve(&mut values, |_| None, DataModel::builtin(), None));
    }

    #[test]
    fn the_cpe_types_what_nothing_else_knows_in_a_first_step() {
        use crate::cwmp::{Body, GetParameterValuesResponse};
        let spec: TaskSpec = serde_json::from_str(
            r#"{"kind":"set_parameter_values","values":[
                {"name":"Device.X_ACME_Volume","value":"7"},
                {"name":"Device.X_ACME_Label","value":"hall","type":"xsd:string"}]}"#,
        )
        .unwrap();
        spec.validate().unwrap();
        assert_eq!(spec.steps(), 2);
        let Some(Body::GetParameterValues(gpv)) = spec.request(9, 0) else {
            panic!("first step must read the untyped names")
        };
        assert_eq!(gpv.parameter_names, ["Device.X_ACME_Volume"]);
        // The unspecified type survives being stored and read back.
        let stored = QueuedTask::payload(&spec);
        let payload = Payload::parse(&stored).unwrap();
        assert_eq!(payload, Payload::Task(QueuedTask { spec, step: 0 }));
        let answer = |t: ValueType| {
            Body::GetParameterValuesResponse(GetParameterValuesResponse {
                parameter_list: vec![ParameterValue::new("Device.X_ACME_Volume", "3", t)],
            })
        };
        let next =
            Payload::parse(&payload.next_step(&answer(ValueType::UnsignedInt)).unwrap()).unwrap();
        let Ok(Body::SetParameterValues(spv)) = next.request(9) else {
            panic!("second step must be the set")
        };
        assert_eq!(spv.parameter_list[0].value_type, ValueType::UnsignedInt);
        assert_eq!(spv.parameter_list[1].value_type, ValueType::String);
        assert_eq!(
            next.next_step(&Body::SetParameterValuesResponse(
                crate::cwmp::SetParameterValuesResponse { status: 0 }
            )),
            None
        );
        // A CPE that names no usable type fails the task clearly instead of getting a guess.
        let next = Payload::parse(
            &payload
                .next_step(&answer(ValueType::Other("xsd:string(64)".into())))
                .unwrap(),
        )
        .unwrap();
        let err = next.request(9).unwrap_err();
        assert!(
            err.contains("no usable type for Device.X_ACME_Volume"),
            "{err}"
        );
        // A resolved type the value does not fit is refused before sending.
        let bad = Payload::Task(QueuedTask {
            spec: TaskSpec::SetParameterValues {
                values: vec![ParameterValue::new(
                    "Device.A",
                    "often",
                    ValueType::UnsignedInt,
                )],
            },
            step: 0,
        });
        assert!(
            bad.request(9)
                .unwrap_err()
                .contains("not a valid xsd:unsignedInt")
        );
    }

    #[test]
    fn empty_or_unknown_stored_types_are_no_answer() {
        assert_eq!(usable_type(""), None);
        assert_eq!(usable_type("xsd:string(64)"), None);
        assert_eq!(usable_type("xsd:unsignedInt"), Some(ValueType::UnsignedInt));
    }
}
