//! One simulated device's live state: its parameter rows, values and pending value changes.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use super::fault::{CpeFault, FaultCode};
use super::schema::{Def, DefId, Schema, is_number};
use super::template::DeviceVars;
use crate::sim::profile::{Profile, ProfileError, XsdType};

/// A (name, type, value) triple of a ParameterValueStruct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamValue {
    pub name: String,
    pub ty: XsdType,
    pub value: String,
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}) = {:?}", self.name, self.ty, self.value)
    }
}

pub(super) const FLAG_SUBSCRIBER: u8 = 1;
pub(super) const FLAG_CHANGED: u8 = 2;

/// One parameter of one device: 24 bytes, plus the value once it differs from the default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Row {
    /// The value, once it differs from the rendered default.
    pub(super) value: Option<Box<str>>,
    pub(super) inst: u32,
    pub(super) def: DefId,
    pub(super) notification: u8,
    pub(super) flags: u8,
}

/// One simulated device's parameter tree.
#[derive(Debug, Clone)]
pub struct DataModel {
    pub(super) schema: Arc<Schema>,
    pub(super) vars: DeviceVars,
    /// Sorted by (major, inst, minor): tree order.
    pub(super) rows: Vec<Row>,
    pub(super) next_instance: Box<[u32]>,
    /// ScheduleDownloads whose window has not opened (the simulator does not wait for them:
    /// they stay queued until cancelled), for GetAllQueuedTransfers and CancelTransfer.
    pub queued_transfers: Vec<acs_core::cwmp::AllQueuedTransfer>,
}

impl DataModel {
    /// A fresh device of a compiled profile (cheap: share `schema` between devices).
    pub fn new(schema: Arc<Schema>, vars: DeviceVars) -> DataModel {
        let rows = Self::initial_rows(&schema);
        let next_instance = schema.tables.iter().map(|t| t.first_free).collect();
        DataModel {
            schema,
            vars,
            rows,
            next_instance,
            queued_transfers: Vec::new(),
        }
    }

    /// Compiles the profile and instantiates one device. For many devices, compile once with
    /// [`Schema::new`] and use [`DataModel::new`].
    pub fn from_profile(profile: &Profile, vars: &DeviceVars) -> Result<DataModel, ProfileError> {
        Ok(DataModel::new(Schema::new(profile)?, vars.clone()))
    }

    pub(super) fn initial_rows(schema: &Schema) -> Vec<Row> {
        schema
            .initial
            .iter()
            .map(|&d| {
                let def = &schema.defs[d as usize];
                Row {
                    def: d,
                    inst: def.inst,
                    value: None,
                    notification: def.notification,
                    flags: 0,
                }
            })
            .collect()
    }

    pub fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    pub fn profile(&self) -> &Profile {
        &self.schema.profile
    }

    pub fn vars(&self) -> &DeviceVars {
        &self.vars
    }

    /// The number of parameters (leaves) the device has now.
    pub fn parameter_count(&self) -> usize {
        self.rows.len()
    }

    /// The profile's User-Agent template rendered for this device.
    pub fn user_agent(&self) -> Option<String> {
        self.schema
            .user_agent
            .as_ref()
            .map(|t| t.render(&self.schema.profile, &self.vars, 0))
    }

    /// Approximate heap and inline bytes this device uses, not counting the shared schema.
    pub fn heap_bytes(&self) -> usize {
        let v = &self.vars;
        std::mem::size_of::<Self>()
            + self.rows.capacity() * std::mem::size_of::<Row>()
            + self
                .rows
                .iter()
                .map(|r| r.value.as_ref().map_or(0, |s| s.len()))
                .sum::<usize>()
            + [&v.serial, &v.mac, &v.ip, &v.cr_url, &v.acs_url]
                .iter()
                .map(|s| s.capacity())
                .sum::<usize>()
            + self.next_instance.len() * 4
    }

    /// The Inform ParameterList: the profile's forced-inform parameters, then every parameter
    /// with Notification 1 or 2 whose value changed (through [`DataModel::set_internal`]) since
    /// the last [`DataModel::clear_value_changes`].
    pub fn inform_parameters(&self) -> Vec<ParamValue> {
        let mut out = Vec::new();
        let mut forced = HashSet::new();
        for &d in &self.schema.inform {
            if let Some(r) = self.rows.iter().find(|r| r.def == d) {
                forced.insert((r.def, r.inst));
                out.push(self.param_value(r));
            }
        }
        for r in &self.rows {
            if r.flags & FLAG_CHANGED != 0
                && r.notification > 0
                && !forced.contains(&(r.def, r.inst))
            {
                out.push(self.param_value(r));
            }
        }
        out
    }

    /// Whether the next Inform carries `4 VALUE CHANGE` (a parameter with passive or active
    /// notification changed).
    pub fn value_change_pending(&self) -> bool {
        self.rows
            .iter()
            .any(|r| r.flags & FLAG_CHANGED != 0 && r.notification > 0)
    }

    /// Whether a parameter with active notification changed: the CPE should start a session.
    pub fn active_value_change_pending(&self) -> bool {
        self.rows
            .iter()
            .any(|r| r.flags & FLAG_CHANGED != 0 && r.notification == 2)
    }

    /// Forgets pending value changes; call once an Inform carrying them has been answered.
    pub fn clear_value_changes(&mut self) {
        for r in &mut self.rows {
            r.flags &= !FLAG_CHANGED;
        }
    }

    /// [`DataModel::value_change_pending`], then [`DataModel::clear_value_changes`].
    pub fn take_value_changes(&mut self) -> bool {
        let pending = self.value_change_pending();
        self.clear_value_changes();
        pending
    }

    /// The real value of a parameter (secrets included), for the simulator itself.
    pub fn value(&self, name: &str) -> Option<String> {
        self.find(name).map(|i| self.real_value(&self.rows[i]))
    }

    /// A change made by the device itself (uptime, new firmware version, new IP address or
    /// connection request URL): no writability check, but the value must be valid (9005,
    /// 9007). Returns whether the value changed; a change of a parameter with Notification 1 or
    /// 2 is reported in the next Inform.
    pub fn set_internal(&mut self, name: &str, value: &str) -> Result<bool, CpeFault> {
        let i = self
            .find(name)
            .ok_or_else(|| CpeFault::invalid_name(name))?;
        let row = &self.rows[i];
        self.def(row)
            .check(value)
            .map_err(|m| CpeFault::new(FaultCode::InvalidParameterValue, m))?;
        if self.real_value(row) == value {
            return Ok(false);
        }
        self.store(i, value);
        let row = &mut self.rows[i];
        if row.notification > 0 {
            row.flags |= FLAG_CHANGED;
        }
        Ok(true)
    }

    // ----- internals

    pub(super) fn def(&self, row: &Row) -> &Def {
        &self.schema.defs[row.def as usize]
    }

    pub(super) fn key(&self, row: &Row) -> (u32, u32, u32) {
        let d = self.def(row);
        (d.major, row.inst, d.minor)
    }

    pub(super) fn row_name(&self, row: &Row) -> Cow<'_, str> {
        let d = self.def(row);
        if (row.def as usize) < self.schema.n_static {
            Cow::Borrowed(&d.name)
        } else {
            let t = &self.schema.tables[d.table.unwrap_or_default() as usize];
            Cow::Owned(format!("{}{}.{}", t.path, row.inst, d.name))
        }
    }

    pub(super) fn default_value(&self, row: &Row) -> String {
        self.def(row)
            .default
            .render(&self.schema.profile, &self.vars, row.inst)
    }

    pub(super) fn real_value(&self, row: &Row) -> String {
        match &row.value {
            Some(v) => v.to_string(),
            None => self.default_value(row),
        }
    }

    pub(super) fn param_value(&self, row: &Row) -> ParamValue {
        let d = self.def(row);
        let value = if d.secret {
            String::new()
        } else {
            self.real_value(row)
        };
        ParamValue {
            name: self.row_name(row).into_owned(),
            ty: d.ty,
            value,
        }
    }

    pub(super) fn store(&mut self, idx: usize, value: &str) {
        let default = self.default_value(&self.rows[idx]);
        self.rows[idx].value = if value == default {
            None
        } else {
            Some(value.into())
        };
    }

    /// The row of a full parameter name.
    pub(super) fn find(&self, name: &str) -> Option<usize> {
        if let Some(&d) = self.schema.by_name.get(name) {
            return self.rows.iter().position(|r| r.def == d);
        }
        for (t, table) in self.schema.tables.iter().enumerate() {
            let Some(rest) = name.strip_prefix(&*table.path) else {
                continue;
            };
            let (n, rel) = rest.split_once('.')?;
            let inst = is_number(n)?;
            let range = table.template.clone();
            let d = range
                .clone()
                .find(|&d| *self.schema.defs[d as usize].name == *rel)?;
            debug_assert_eq!(self.schema.defs[d as usize].table, Some(t as u16));
            return self.rows.iter().position(|r| r.def == d && r.inst == inst);
        }
        None
    }
}
