//! A profile compiled once for all its devices: names, types, writability, defaults, tree order.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::template::{DeviceVars, Template};
use super::value::check_value;
use crate::sim::profile::{ActiveNotify, ParameterSpec, Profile, ProfileError, XsdType};

/// Index into `Schema::defs` (a profile has at most 65,535 parameters and template parameters).
pub(super) type DefId = u16;

/// One parameter definition: a static parameter of the profile (full name) or a table template
/// parameter (name relative to the instance).
#[derive(Debug)]
pub(super) struct Def {
    pub(super) name: Box<str>,
    pub(super) ty: XsdType,
    pub(super) writable: bool,
    pub(super) secret: bool,
    pub(super) notification: u8,
    pub(super) active_notify: ActiveNotify,
    pub(super) enumeration: Option<Box<[Box<str>]>>,
    pub(super) max_length: Option<u32>,
    pub(super) default: Template,
    /// The table this parameter belongs to (template parameters, and static parameters of the
    /// instances a profile lists).
    pub(super) table: Option<u16>,
    /// For static parameters inside a table: their instance number; otherwise 0.
    pub(super) inst: u32,
    /// Sort key: rows sort by (major, instance, minor).
    pub(super) major: u32,
    pub(super) minor: u32,
}

impl Def {
    pub(super) fn check(&self, value: &str) -> Result<(), String> {
        check_value(self.ty, value)?;
        if let Some(max) = self.max_length
            && value.chars().count() > max as usize
        {
            return Err(format!("longer than {max} characters"));
        }
        if let Some(allowed) = &self.enumeration
            && !allowed.iter().any(|a| **a == *value)
        {
            let list: Vec<&str> = allowed.iter().map(|a| &**a).collect();
            return Err(format!("{value:?} is not one of {}", list.join(", ")));
        }
        Ok(())
    }
}

#[derive(Debug)]
pub(super) struct Table {
    pub(super) path: Box<str>,
    pub(super) template: std::ops::Range<DefId>,
    pub(super) count: Option<DefId>,
    pub(super) max: Option<u32>,
    pub(super) first_free: u32,
    pub(super) major: u32,
}

/// A compiled profile, shared by every device of that kind.
#[derive(Debug)]
pub struct Schema {
    pub(super) profile: Profile,
    pub(super) defs: Vec<Def>,
    /// `defs[..n_static]` are `profile.parameters`, in profile order.
    pub(super) n_static: usize,
    pub(super) tables: Vec<Table>,
    pub(super) by_name: HashMap<Box<str>, DefId>,
    /// The static definitions in tree order: a fresh device's rows.
    pub(super) initial: Vec<DefId>,
    pub(super) inform: Vec<DefId>,
    pub(super) parameter_key: Option<DefId>,
    pub(super) user_agent: Option<Template>,
}

pub(super) fn is_number(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

fn segments(name: &str) -> impl Iterator<Item = &str> {
    name.strip_suffix('.').unwrap_or(name).split('.')
}

fn pattern_segment(s: &str) -> &str {
    if s == "{i}" || is_number(s).is_some() {
        "{i}"
    } else {
        s
    }
}

/// Sibling ranks: each path pattern (instance numbers as `{i}`) numbered in order of first
/// appearance in the profile.
#[derive(Debug, Default)]
struct Ranks(HashMap<String, u32>);

impl Ranks {
    fn add(&mut self, name: &str) {
        let mut pattern = String::new();
        for seg in segments(name) {
            if !pattern.is_empty() {
                pattern.push('.');
            }
            pattern.push_str(pattern_segment(seg));
            let next = self.0.len() as u32;
            self.0.entry(pattern.clone()).or_insert(next);
        }
    }

    /// Tree order: parents before children, siblings by rank, instances by number.
    fn order(&self, a: &str, b: &str) -> Ordering {
        let (sa, sb): (Vec<&str>, Vec<&str>) = (segments(a).collect(), segments(b).collect());
        let mut pattern = String::new();
        for (x, y) in sa.iter().zip(&sb) {
            if x != y {
                return match (is_number(x), is_number(y)) {
                    (Some(p), Some(q)) => p.cmp(&q),
                    (Some(_), None) => Ordering::Less,
                    (None, Some(_)) => Ordering::Greater,
                    (None, None) => {
                        let rank = |s: &str| {
                            self.0
                                .get(&format!("{pattern}{s}"))
                                .copied()
                                .unwrap_or(u32::MAX)
                        };
                        rank(x).cmp(&rank(y)).then_with(|| x.cmp(y))
                    }
                };
            }
            pattern.push_str(pattern_segment(x));
            pattern.push('.');
        }
        sa.len().cmp(&sb.len())
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 256
        && name.split('.').all(|s| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
}

impl Schema {
    /// Validates and compiles a profile.
    pub fn new(profile: &Profile) -> Result<Arc<Schema>, ProfileError> {
        let bad = |m: String| Err(profile.invalid(m));
        if profile.name.is_empty()
            || profile.manufacturer.is_empty()
            || profile.product_class.is_empty()
        {
            return bad("name, manufacturer and product_class must not be empty".into());
        }
        if profile.root != "Device." && profile.root != "InternetGatewayDevice." {
            return bad(format!(
                "root must be \"Device.\" or \"InternetGatewayDevice.\", not {:?}",
                profile.root
            ));
        }
        if profile.oui.len() != 6
            || !profile
                .oui
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
        {
            return bad(format!(
                "oui must be 6 upper-case hex digits, not {:?}",
                profile.oui
            ));
        }
        let sample = DeviceVars::sample(profile);
        let root = profile.root.as_str();
        let total = profile.parameters.len()
            + profile
                .tables
                .iter()
                .map(|t| t.template.len())
                .sum::<usize>();
        if total > usize::from(DefId::MAX) {
            return bad(format!(
                "{total} parameters and template parameters: at most {} are supported",
                DefId::MAX
            ));
        }

        // Tables.
        for (i, t) in profile.tables.iter().enumerate() {
            let Some(inner) = t.table.strip_suffix('.') else {
                return bad(format!("table path {:?} must end with \".\"", t.table));
            };
            if !t.table.starts_with(root) || !valid_name(inner) {
                return bad(format!(
                    "table path {:?} is not a valid path under {root}",
                    t.table
                ));
            }
            if t.template.is_empty() {
                return bad(format!("table {} has an empty template", t.table));
            }
            for (j, u) in profile.tables.iter().enumerate() {
                if i != j && t.table.starts_with(u.table.as_str()) {
                    return bad(format!(
                        "table {} is nested in table {}: nested tables are not supported",
                        t.table, u.table
                    ));
                }
            }
        }

        let mut defs: Vec<Def> = Vec::new();
        let mut by_name: HashMap<Box<str>, DefId> = HashMap::new();
        let compile = |spec: &ParameterSpec,
                       allow_instance: bool,
                       shown: &str|
         -> Result<Def, ProfileError> {
            let invalid = |m: String| profile.invalid(format!("parameter {shown}: {m}"));
            let default = Template::parse(&spec.value, allow_instance).map_err(invalid)?;
            let notification = spec.initial_notification();
            if notification > 2 {
                return Err(invalid(format!(
                    "notification must be 0, 1 or 2, not {notification}"
                )));
            }
            if spec.active_notify == ActiveNotify::ForceEnabled && notification != 2 {
                return Err(invalid("forceEnabled requires notification 2".into()));
            }
            if spec.active_notify == ActiveNotify::CanDeny && notification == 2 {
                return Err(invalid(
                    "canDeny parameters cannot start with active notification".into(),
                ));
            }
            let def = Def {
                name: spec.name.as_str().into(),
                ty: spec.ty,
                writable: spec.writable,
                secret: spec.secret,
                notification,
                active_notify: spec.active_notify,
                enumeration: spec
                    .enumeration
                    .as_ref()
                    .map(|e| e.iter().map(|s| s.as_str().into()).collect()),
                max_length: spec.max_length,
                default,
                table: None,
                inst: 0,
                major: 0,
                minor: 0,
            };
            let value = def.default.render(profile, &sample, 1);
            def.check(&value)
                .map_err(|m| invalid(format!("default value: {m}")))?;
            Ok(def)
        };

        // Static parameters.
        for spec in &profile.parameters {
            let name = spec.name.as_str();
            if !name.starts_with(root) || !valid_name(name) {
                return bad(format!(
                    "parameter name {name:?} is invalid or outside the root {root}"
                ));
            }
            let mut def = compile(spec, false, name)?;
            if let Some((t, table)) = profile
                .tables
                .iter()
                .enumerate()
                .find(|(_, t)| name.starts_with(t.table.as_str()))
            {
                let rest = &name[table.table.len()..];
                let Some((inst, rel)) = rest
                    .split_once('.')
                    .and_then(|(n, rel)| Some((is_number(n)?, rel)))
                else {
                    return bad(format!(
                        "parameter {name} is inside table {} but not in a numbered instance",
                        table.table
                    ));
                };
                let Some(tspec) = table.template.iter().find(|s| s.name == rel) else {
                    return bad(format!(
                        "parameter {name}: {rel} is not in the template of table {}",
                        table.table
                    ));
                };
                if tspec.ty != spec.ty || tspec.writable != spec.writable {
                    return bad(format!(
                        "parameter {name}: type or writability differs from the template of {}",
                        table.table
                    ));
                }
                def.table = Some(t as u16);
                def.inst = inst;
            }
            if by_name.insert(name.into(), defs.len() as DefId).is_some() {
                return bad(format!("duplicate parameter {name}"));
            }
            defs.push(def);
        }
        let n_static = defs.len();

        // A name cannot be both a parameter and an object.
        let mut objects: HashSet<&str> = HashSet::new();
        for name in profile
            .parameters
            .iter()
            .map(|p| p.name.as_str())
            .chain(profile.tables.iter().map(|t| t.table.as_str()))
        {
            for (i, _) in name.match_indices('.') {
                objects.insert(&name[..=i]);
            }
        }
        for p in &profile.parameters {
            if objects.contains(format!("{}.", p.name).as_str()) {
                return bad(format!("{} is both a parameter and an object", p.name));
            }
        }

        // Table templates.
        let mut tables = Vec::new();
        for (t, spec) in profile.tables.iter().enumerate() {
            let start = defs.len() as DefId;
            let mut rel_objects: HashSet<String> = HashSet::new();
            for p in &spec.template {
                for (i, _) in p.name.match_indices('.') {
                    rel_objects.insert(p.name[..=i].to_owned());
                }
            }
            for p in &spec.template {
                let shown = format!("{}{{i}}.{}", spec.table, p.name);
                if !valid_name(&p.name) || rel_objects.contains(&format!("{}.", p.name)) {
                    return bad(format!("template parameter name {shown:?} is not valid"));
                }
                if defs[start as usize..].iter().any(|d| *d.name == *p.name) {
                    return bad(format!("duplicate template parameter {shown}"));
                }
                let mut def = compile(p, true, &shown)?;
                def.table = Some(t as u16);
                def.minor = (defs.len() - usize::from(start)) as u32;
                defs.push(def);
            }
            let end = defs.len() as DefId;
            let static_insts: HashSet<u32> = defs[..n_static]
                .iter()
                .filter(|d| d.table == Some(t as u16))
                .map(|d| d.inst)
                .collect();
            for inst in &static_insts {
                let listed = defs[..n_static]
                    .iter()
                    .filter(|d| d.table == Some(t as u16) && d.inst == *inst)
                    .count();
                if listed != spec.template.len() {
                    return bad(format!(
                        "instance {}{inst}. lists {listed} of the {} template parameters: list all or none",
                        spec.table,
                        spec.template.len()
                    ));
                }
            }
            let count = match &spec.count_parameter {
                None => None,
                Some(c) => {
                    let idx = by_name.get(c.as_str()).copied();
                    let Some(idx) = idx.filter(|&i| {
                        defs[i as usize].ty == XsdType::UnsignedInt
                            && defs[i as usize].table.is_none()
                    }) else {
                        return bad(format!(
                            "count_parameter {c} of table {} must be an unsignedInt parameter outside tables",
                            spec.table
                        ));
                    };
                    let value = defs[idx as usize].default.render(profile, &sample, 0);
                    if value != static_insts.len().to_string() {
                        return bad(format!(
                            "{c} is {value} but the profile lists {} instances of {}",
                            static_insts.len(),
                            spec.table
                        ));
                    }
                    Some(idx)
                }
            };
            if let Some(max) = spec.max_instances
                && (static_insts.len() as u32) > max
            {
                return bad(format!(
                    "table {} lists more instances than max_instances",
                    spec.table
                ));
            }
            tables.push(Table {
                path: spec.table.as_str().into(),
                template: start..end,
                count,
                max: spec.max_instances,
                first_free: static_insts.iter().max().map_or(1, |m| m + 1),
                major: 0,
            });
        }
        // Static instance parameters sort by their position in the template.
        for i in 0..n_static {
            if let Some(t) = defs[i].table {
                let table = &tables[usize::from(t)];
                let rel = defs[i].name[table.path.len()..]
                    .split_once('.')
                    .map_or("", |(_, r)| r)
                    .to_owned();
                let template =
                    &defs[usize::from(table.template.start)..usize::from(table.template.end)];
                defs[i].minor = template.iter().position(|d| *d.name == *rel).unwrap_or(0) as u32;
            }
        }

        // Tree order: items are the static parameters outside tables and the tables.
        let mut ranks = Ranks::default();
        profile.parameters.iter().for_each(|p| ranks.add(&p.name));
        for t in &profile.tables {
            ranks.add(&t.table);
            t.template
                .iter()
                .for_each(|p| ranks.add(&format!("{}{{i}}.{}", t.table, p.name)));
        }
        enum Item {
            Def(usize),
            Table(usize),
        }
        let mut items: Vec<(&str, Item)> = (0..n_static)
            .filter(|&i| defs[i].table.is_none())
            .map(|i| (profile.parameters[i].name.as_str(), Item::Def(i)))
            .chain(
                profile
                    .tables
                    .iter()
                    .enumerate()
                    .map(|(t, s)| (s.table.as_str(), Item::Table(t))),
            )
            .collect();
        items.sort_by(|a, b| ranks.order(a.0, b.0));
        for (major, (_, item)) in items.iter().enumerate() {
            match item {
                Item::Def(i) => defs[*i].major = major as u32,
                Item::Table(t) => tables[*t].major = major as u32,
            }
        }
        for d in defs.iter_mut() {
            if let Some(t) = d.table {
                d.major = tables[t as usize].major;
            }
        }
        let mut initial: Vec<DefId> = (0..n_static as DefId).collect();
        initial.sort_by_key(|&i| {
            (
                defs[i as usize].major,
                defs[i as usize].inst,
                defs[i as usize].minor,
            )
        });

        let mut inform = Vec::new();
        for name in &profile.inform_parameters {
            match by_name.get(name.as_str()) {
                Some(&i) => inform.push(i),
                None => {
                    return bad(format!(
                        "inform parameter {name} is not a parameter of the profile"
                    ));
                }
            }
        }
        let user_agent = match &profile.user_agent {
            Some(ua) => Some(
                Template::parse(ua, false)
                    .map_err(|m| profile.invalid(format!("user_agent: {m}")))?,
            ),
            None => None,
        };
        Ok(Arc::new(Schema {
            parameter_key: by_name
                .get(format!("{root}ManagementServer.ParameterKey").as_str())
                .copied(),
            profile: profile.clone(),
            defs,
            n_static,
            tables,
            by_name,
            initial,
            inform,
            user_agent,
        }))
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The paths that accept AddObject.
    pub fn table_paths(&self) -> impl Iterator<Item = &str> {
        self.tables.iter().map(|t| &*t.path)
    }
}
