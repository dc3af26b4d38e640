//! The TR-069 Annex A RPCs the ACS calls on one device's model, and the structures they exchange.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;

use super::fault::{CpeFault, FaultCode, ParameterFault};
use super::schema::is_number;
use super::state::{DataModel, FLAG_CHANGED, FLAG_SUBSCRIBER, ParamValue, Row};
use crate::sim::profile::{ActiveNotify, XsdType};

/// A ParameterInfoStruct; object names end in ".".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamInfo {
    pub name: String,
    pub writable: bool,
}

/// A ParameterAttributeStruct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamAttributes {
    pub name: String,
    pub notification: u8,
    pub access_list: Vec<String>,
}

/// A SetParameterAttributesStruct.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SetAttributes {
    pub name: String,
    pub notification_change: bool,
    pub notification: u8,
    pub access_list_change: bool,
    pub access_list: Vec<String>,
}

/// The only AccessList entry TR-069 defines.
pub const SUBSCRIBER: &str = "Subscriber";

impl DataModel {
    // ----- internals

    fn object_exists(&self, path: &str) -> bool {
        path == self.schema.profile.root
            || self.schema.tables.iter().any(|t| t.path.starts_with(path))
            || self.rows.iter().any(|r| self.row_name(r).starts_with(path))
    }

    /// Rows named by a GetParameterValues/Attributes name: "" = all, a path ending in "." = all
    /// below it, otherwise one parameter. `None` if it names nothing.
    fn resolve(&self, name: &str) -> Option<Vec<usize>> {
        if name.is_empty() {
            Some((0..self.rows.len()).collect())
        } else if name.ends_with('.') {
            if !self.object_exists(name) {
                return None;
            }
            Some(
                (0..self.rows.len())
                    .filter(|&i| self.row_name(&self.rows[i]).starts_with(name))
                    .collect(),
            )
        } else {
            self.find(name).map(|i| vec![i])
        }
    }

    fn set_parameter_key(&mut self, key: &str) {
        if let Some(d) = self.schema.parameter_key
            && let Some(i) = self.rows.iter().position(|r| r.def == d)
        {
            self.store(i, key);
        }
    }

    fn check_key(key: &str) -> Result<(), CpeFault> {
        if key.chars().count() > 32 {
            return Err(CpeFault::invalid_arguments(
                "ParameterKey longer than 32 characters",
            ));
        }
        Ok(())
    }

    fn instance_count(&self, table: u16) -> u32 {
        let mut count = 0;
        let mut last = None;
        for r in &self.rows {
            if self.def(r).table == Some(table) && last != Some(r.inst) {
                count += 1;
                last = Some(r.inst);
            }
        }
        count
    }

    fn update_count(&mut self, table: u16) {
        if let Some(c) = self.schema.tables[table as usize].count
            && let Some(i) = self.rows.iter().position(|r| r.def == c)
        {
            let n = self.instance_count(table).to_string();
            self.store(i, &n);
        }
    }

    /// Whether an object path (ending in ".") accepts AddObject (a table) or DeleteObject (an
    /// instance of one): GetParameterNames reports that as the object's Writable.
    fn object_writable(&self, path: &str) -> bool {
        self.schema.tables.iter().any(|t| {
            *t.path == *path
                || path
                    .strip_prefix(&*t.path)
                    .and_then(|r| r.strip_suffix('.'))
                    .is_some_and(|n| is_number(n).is_some())
        })
    }

    /// The whole tree in order: every object (name ending ".") before its children.
    fn tree(&self) -> Vec<ParamInfo> {
        enum Entry {
            Row(usize),
            EmptyTable(usize),
        }
        let mut entries: Vec<((u32, u32, u32), Entry)> = self
            .rows
            .iter()
            .enumerate()
            .map(|(i, r)| (self.key(r), Entry::Row(i)))
            .collect();
        for (t, table) in self.schema.tables.iter().enumerate() {
            if self.instance_count(t as u16) == 0 {
                entries.push(((table.major, 0, 0), Entry::EmptyTable(t)));
            }
        }
        entries.sort_by_key(|e| e.0);
        let mut out = Vec::with_capacity(entries.len() * 3 / 2);
        let mut prev = String::new();
        for (_, entry) in entries {
            let name: Cow<'_, str> = match entry {
                Entry::Row(i) => self.row_name(&self.rows[i]),
                Entry::EmptyTable(t) => Cow::Borrowed(&*self.schema.tables[t].path),
            };
            for (i, _) in name.match_indices('.') {
                let object = &name[..=i];
                if !prev.starts_with(object) {
                    out.push(ParamInfo {
                        name: object.to_owned(),
                        writable: self.object_writable(object),
                    });
                }
            }
            if let Entry::Row(i) = entry {
                out.push(ParamInfo {
                    name: name.to_string(),
                    writable: self.def(&self.rows[i]).writable,
                });
            }
            prev = name.into_owned();
        }
        out
    }

    // ----- RPCs

    /// GetParameterValues: full names, partial paths ending in "." (every parameter below, in
    /// order) and "" (the whole tree). Any unknown name fails the call with 9005. Secret
    /// parameters (passwords) read back empty.
    pub fn get_values<S: AsRef<str>>(&self, names: &[S]) -> Result<Vec<ParamValue>, CpeFault> {
        let mut out = Vec::new();
        for name in names {
            let name = name.as_ref();
            let rows = self
                .resolve(name)
                .ok_or_else(|| CpeFault::invalid_name(name))?;
            out.extend(rows.into_iter().map(|i| self.param_value(&self.rows[i])));
        }
        Ok(out)
    }

    /// GetParameterNames. `""` with NextLevel lists only the root object; `""` without it the
    /// whole tree (root object included). A partial path without NextLevel lists the object
    /// itself and everything below it; with NextLevel only its direct children. A full
    /// parameter name lists just that parameter, and is 9003 with NextLevel. Objects end in
    /// "."; an object's Writable says whether it accepts AddObject (a table) or DeleteObject (an
    /// instance). Unknown paths: 9005.
    pub fn get_names(&self, path: &str, next_level: bool) -> Result<Vec<ParamInfo>, CpeFault> {
        if path.is_empty() {
            if next_level {
                return Ok(vec![ParamInfo {
                    name: self.schema.profile.root.clone(),
                    writable: false,
                }]);
            }
            return Ok(self.tree());
        }
        if !path.ends_with('.') {
            let i = self
                .find(path)
                .ok_or_else(|| CpeFault::invalid_name(path))?;
            if next_level {
                return Err(CpeFault::invalid_arguments(
                    "NextLevel is true for a parameter name",
                ));
            }
            return Ok(vec![ParamInfo {
                name: path.to_owned(),
                writable: self.def(&self.rows[i]).writable,
            }]);
        }
        let tree = self.tree();
        if !tree.iter().any(|e| e.name == path) {
            return Err(CpeFault::invalid_name(path));
        }
        Ok(tree
            .into_iter()
            .filter(|e| {
                let Some(rest) = e.name.strip_prefix(path) else {
                    return false;
                };
                if !next_level {
                    return true;
                }
                !rest.is_empty() && rest.find('.').is_none_or(|i| i == rest.len() - 1)
            })
            .collect())
    }

    /// SetParameterValues, atomic: every entry is checked first and nothing is applied unless
    /// all pass. Entries are (name, value, xsi:type); the type may carry a prefix (`xsd:int`)
    /// or be empty (not checked). Per-parameter faults: 9005 unknown name, 9008 not writable,
    /// 9006 type differs from the parameter's, 9007 value invalid for the type (or outside the
    /// parameter's enumeration / length), reported together under 9003. A name given twice, or
    /// a ParameterKey over 32 characters, is 9003 without per-parameter faults. On success the
    /// ParameterKey is stored and the status is 0 (applied). Changes made by the ACS do not
    /// count as value changes for notification.
    pub fn set_values<N, V, T>(
        &mut self,
        params: &[(N, V, T)],
        parameter_key: &str,
    ) -> Result<u8, CpeFault>
    where
        N: AsRef<str>,
        V: AsRef<str>,
        T: AsRef<str>,
    {
        Self::check_key(parameter_key)?;
        let mut seen = HashSet::new();
        let mut faults = Vec::new();
        let mut plan = Vec::with_capacity(params.len());
        for (name, value, ty) in params {
            let (name, value, ty) = (name.as_ref(), value.as_ref(), ty.as_ref());
            if !seen.insert(name) {
                return Err(CpeFault::invalid_arguments(format!(
                    "{name} appears more than once"
                )));
            }
            match self.check_set(name, value, ty) {
                Ok(i) => plan.push((i, value)),
                Err((code, detail)) => {
                    let message = format!("{}: {detail}", code.message());
                    faults.push(ParameterFault {
                        name: name.to_owned(),
                        code: code.code(),
                        message,
                    });
                }
            }
        }
        if !faults.is_empty() {
            let mut fault = CpeFault::new(FaultCode::InvalidArguments, "");
            fault.parameter_faults = faults;
            return Err(fault);
        }
        for (i, value) in plan {
            self.store(i, value);
        }
        self.set_parameter_key(parameter_key);
        Ok(0)
    }

    fn check_set(&self, name: &str, value: &str, ty: &str) -> Result<usize, (FaultCode, String)> {
        let i = self
            .find(name)
            .ok_or((FaultCode::InvalidParameterName, name.to_owned()))?;
        let def = self.def(&self.rows[i]);
        if !def.writable {
            return Err((FaultCode::NotWritable, name.to_owned()));
        }
        if !ty.is_empty() && XsdType::parse(ty) != Some(def.ty) {
            return Err((
                FaultCode::InvalidParameterType,
                format!("{name} is {}, not {ty}", def.ty.xsd_name()),
            ));
        }
        def.check(value)
            .map_err(|m| (FaultCode::InvalidParameterValue, m))?;
        Ok(i)
    }

    /// GetParameterAttributes; names as for [`DataModel::get_values`].
    pub fn get_attributes<S: AsRef<str>>(
        &self,
        names: &[S],
    ) -> Result<Vec<ParamAttributes>, CpeFault> {
        let mut out = Vec::new();
        for name in names {
            let name = name.as_ref();
            for i in self
                .resolve(name)
                .ok_or_else(|| CpeFault::invalid_name(name))?
            {
                let r = &self.rows[i];
                out.push(ParamAttributes {
                    name: self.row_name(r).into_owned(),
                    notification: r.notification,
                    access_list: if r.flags & FLAG_SUBSCRIBER != 0 {
                        vec![SUBSCRIBER.to_owned()]
                    } else {
                        Vec::new()
                    },
                });
            }
        }
        Ok(out)
    }

    /// SetParameterAttributes, all or nothing. Names as for GetParameterValues. Notification
    /// 0–2; 3–6 (lightweight, CWMP 1.4) are refused with 9009, larger values with 9003. A
    /// parameter that denies Active notification (`canDeny`), or forces it (`forceEnabled`), makes
    /// a request naming it fully fail with 9009; through a partial path it is skipped. The only
    /// AccessList entry accepted is "Subscriber" (else 9003). Unknown names: 9005.
    pub fn set_attributes(&mut self, attrs: &[SetAttributes]) -> Result<(), CpeFault> {
        let mut plan: Vec<(Vec<usize>, &SetAttributes)> = Vec::with_capacity(attrs.len());
        for a in attrs {
            if a.notification_change {
                match a.notification {
                    0..=2 => {}
                    3..=6 => {
                        return Err(CpeFault::new(
                            FaultCode::NotificationRejected,
                            "lightweight notification is not supported",
                        ));
                    }
                    n => return Err(CpeFault::invalid_arguments(format!("Notification {n}"))),
                }
            }
            if a.access_list_change
                && let Some(bad) = a.access_list.iter().find(|e| *e != SUBSCRIBER)
            {
                return Err(CpeFault::invalid_arguments(format!(
                    "AccessList entry {bad:?}"
                )));
            }
            let mut rows = self
                .resolve(&a.name)
                .ok_or_else(|| CpeFault::invalid_name(&a.name))?;
            if a.notification_change {
                let full = !a.name.is_empty() && !a.name.ends_with('.');
                let denied = |r: &Row| match self.def(r).active_notify {
                    ActiveNotify::CanDeny => a.notification == 2,
                    ActiveNotify::ForceEnabled => a.notification != 2,
                    ActiveNotify::Normal | ActiveNotify::ForceDefaultEnabled => false,
                };
                if full && rows.iter().any(|&i| denied(&self.rows[i])) {
                    return Err(CpeFault::new(FaultCode::NotificationRejected, &a.name));
                }
                rows.retain(|&i| !denied(&self.rows[i]));
            }
            plan.push((rows, a));
        }
        for (rows, a) in plan {
            for i in rows {
                let r = &mut self.rows[i];
                if a.notification_change {
                    r.notification = a.notification;
                    if a.notification == 0 {
                        r.flags &= !FLAG_CHANGED;
                    }
                }
                if a.access_list_change {
                    if a.access_list.is_empty() {
                        r.flags &= !FLAG_SUBSCRIBER;
                    } else {
                        r.flags |= FLAG_SUBSCRIBER;
                    }
                }
            }
        }
        Ok(())
    }

    /// AddObject on a table the profile declares (path ending in "."): creates the next instance
    /// from the template and returns (instance number, status 0). Instance numbers only grow and
    /// are never reused (until a factory reset). 9005 for any other path, 9004 past the table's
    /// `max_instances`, 9003 for a ParameterKey over 32 characters.
    pub fn add_object(
        &mut self,
        table_path: &str,
        parameter_key: &str,
    ) -> Result<(u32, u8), CpeFault> {
        Self::check_key(parameter_key)?;
        let t = self
            .schema
            .tables
            .iter()
            .position(|t| *t.path == *table_path)
            .ok_or_else(|| {
                CpeFault::invalid_name(format!("{table_path} does not accept AddObject"))
            })?;
        let table = &self.schema.tables[t];
        if table
            .max
            .is_some_and(|max| self.instance_count(t as u16) >= max)
        {
            return Err(CpeFault::new(
                FaultCode::ResourcesExceeded,
                format!("{table_path} is full"),
            ));
        }
        let inst = self.next_instance[t];
        self.next_instance[t] = inst.checked_add(1).ok_or_else(|| {
            CpeFault::new(FaultCode::ResourcesExceeded, "instance numbers exhausted")
        })?;
        let pos = self
            .rows
            .partition_point(|r| self.key(r) < (table.major, inst, 0));
        let new_rows: Vec<Row> = table
            .template
            .clone()
            .map(|d| Row {
                def: d,
                inst,
                value: None,
                notification: self.schema.defs[d as usize].notification,
                flags: 0,
            })
            .collect();
        self.rows.splice(pos..pos, new_rows);
        self.update_count(t as u16);
        self.set_parameter_key(parameter_key);
        Ok((inst, 0))
    }

    /// DeleteObject of an instance (`<table><n>.`) of a declared table; returns status 0.
    /// 9005 if the path is not an existing instance of such a table.
    pub fn delete_object(
        &mut self,
        instance_path: &str,
        parameter_key: &str,
    ) -> Result<u8, CpeFault> {
        Self::check_key(parameter_key)?;
        let found = self
            .schema
            .tables
            .iter()
            .enumerate()
            .find_map(|(t, table)| {
                let n = instance_path
                    .strip_prefix(&*table.path)?
                    .strip_suffix('.')?;
                Some((t as u16, is_number(n)?))
            });
        let Some((t, inst)) = found else {
            return Err(CpeFault::invalid_name(format!(
                "{instance_path} is not a deletable instance"
            )));
        };
        let before = self.rows.len();
        let schema = Arc::clone(&self.schema);
        self.rows
            .retain(|r| !(schema.defs[r.def as usize].table == Some(t) && r.inst == inst));
        if self.rows.len() == before {
            return Err(CpeFault::invalid_name(instance_path));
        }
        self.update_count(t);
        self.set_parameter_key(parameter_key);
        Ok(0)
    }

    /// FactoryReset: back to the profile's defaults for this device's variables (values,
    /// attributes, instances and instance numbering); pending value changes are dropped. The
    /// simulator then reboots with `0 BOOTSTRAP`.
    pub fn factory_reset(&mut self) {
        self.rows = Self::initial_rows(&self.schema);
        self.next_instance = self.schema.tables.iter().map(|t| t.first_free).collect();
    }
}
