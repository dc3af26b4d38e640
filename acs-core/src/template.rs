//! Configuration templates: Cisco MPP flat-profile XML (`<device><flat-profile>…`, SPEC §9) with
//! per-device variables written `{{ name }}` (Jinja syntax, rendered by minijinja).
//!
//! Variables a template can use ([`device_variables`]): `serial`, `mac`, `product_class`, `oui`,
//! `manufacturer`, `software_version`, `hardware_version`, `device_id`; every stored parameter
//! by its path (`{{ Device.DeviceInfo.ModelName }}`; paths with instance numbers through
//! `{{ param("Device.Services.VoiceService.1.VoiceProfile.1.Line.1.Enable") }}`); and the
//! columns of a CSV row keyed by the device's serial number or MAC ([`VarsTable`]).
//!
//! Checks, so nothing malformed reaches a phone: a template must be well-formed XML with a
//! `flat-profile` element (as a root or inside `device`) and valid Jinja; a rendering fails
//! with the names of *all* variables it lacks, rather than writing empty values; values are
//! XML-escaped, and the rendered text is checked to be well-formed XML again (a `{% if %}`
//! can still drop a closing tag).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};

use crate::cwmp::{Limits, SafeEvent, SafeReader, XmlError};
use crate::storage::{DeviceRow, ParameterRow};

/// Why a template cannot be used or rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// Not valid Jinja.
    #[error("template syntax: {0}")]
    Syntax(String),
    /// Not well-formed XML, or no flat profile.
    #[error("{what} is not a valid flat profile: {reason}")]
    Xml {
        /// `"the template"` or `"the rendered file"`.
        what: &'static str,
        /// Where and what.
        reason: String,
    },
    /// Variables the device has no value for.
    #[error("missing variables: {}", .0.join(", "))]
    Missing(Vec<String>),
    /// Rendering failed otherwise.
    #[error("rendering: {0}")]
    Render(String),
    /// A variables CSV is unusable.
    #[error("variables CSV: {0}")]
    Csv(String),
}

/// A checked template.
#[derive(Debug, Clone)]
pub struct ConfigTemplate {
    source: String,
    variables: BTreeSet<String>,
}

const NAME: &str = "template";

fn environment(source: &str) -> Result<Environment<'_>, TemplateError> {
    let mut env = Environment::new();
    // Values land in XML text and attributes: escape them (HTML escaping is valid XML).
    env.set_auto_escape_callback(|_| AutoEscape::Html);
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.add_template(NAME, source)
        .map_err(|e| TemplateError::Syntax(describe(&e)))?;
    Ok(env)
}

fn describe(e: &minijinja::Error) -> String {
    match e.line() {
        Some(line) => format!("line {line}: {}", e.detail().unwrap_or(&e.to_string())),
        None => e.to_string(),
    }
}

/// Checks well-formedness and that a `flat-profile` element is the root or a child of a
/// `device` root. The XML is read with the codec's [`SafeReader`], so the policy is the CWMP
/// codec's: DTDs refused (never expanded), only predefined entities, nesting and size capped.
fn check_flat_profile(xml: &str, what: &'static str) -> Result<(), TemplateError> {
    let err = |e: XmlError| TemplateError::Xml {
        what,
        reason: e.to_string(),
    };
    let mut reader = SafeReader::new(xml, &Limits::default()).map_err(err)?;
    let mut root_is_device = false;
    let mut found = false;
    loop {
        // The depth of each element: 0 for the root, 1 for its children.
        let (start, depth) = match reader.read_event().map_err(err)? {
            SafeEvent::Start(s) => (s, reader.depth() - 1),
            SafeEvent::Empty(s) => (s, reader.depth()),
            SafeEvent::End(_) | SafeEvent::Text(_) => continue,
            SafeEvent::Eof => break,
        };
        let qname = start.name();
        let name: &str = qname.as_ref();
        if depth == 0 {
            root_is_device = name == "device";
        }
        if name == "flat-profile" && (depth == 0 || (depth == 1 && root_is_device)) {
            found = true;
        }
    }
    if !found {
        return Err(TemplateError::Xml {
            what,
            reason: "no <flat-profile> element (as the root or inside <device>)".into(),
        });
    }
    Ok(())
}

impl ConfigTemplate {
    /// Checks a template: valid Jinja, well-formed XML with a flat profile.
    pub fn parse(source: &str) -> Result<ConfigTemplate, TemplateError> {
        let env = environment(source)?;
        let template = env
            .get_template(NAME)
            .map_err(|e| TemplateError::Syntax(describe(&e)))?;
        let variables = template
            .undeclared_variables(true)
            .into_iter()
            .filter(|v| v != "param")
            .collect();
        check_flat_profile(source, "the template")?;
        Ok(ConfigTemplate {
            source: source.to_owned(),
            variables,
        })
    }

    /// The variables the template uses (dotted for parameter paths).
    pub fn variables(&self) -> &BTreeSet<String> {
        &self.variables
    }

    /// Renders for one device. Fails with every missing variable named.
    pub fn render(&self, vars: &DeviceVariables) -> Result<String, TemplateError> {
        let missing: Vec<String> = self
            .variables
            .iter()
            .filter(|v| !vars.has(v))
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(TemplateError::Missing(missing));
        }
        let mut env = environment(&self.source)?;
        let params = vars.params.clone();
        env.add_function(
            "param",
            move |name: String| -> Result<String, minijinja::Error> {
                params.get(&name).cloned().ok_or_else(|| {
                    minijinja::Error::new(
                        minijinja::ErrorKind::UndefinedError,
                        format!("missing variables: {name}"),
                    )
                })
            },
        );
        let template = env
            .get_template(NAME)
            .map_err(|e| TemplateError::Syntax(describe(&e)))?;
        let out = template.render(vars.context()).map_err(|e| {
            let text = describe(&e);
            match text.split_once("missing variables: ") {
                Some((_, names)) => TemplateError::Missing(vec![names.to_owned()]),
                None => TemplateError::Render(text),
            }
        })?;
        check_flat_profile(&out, "the rendered file")?;
        Ok(out)
    }
}

/// The values a template is rendered with for one device.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceVariables {
    /// `serial`, `mac`, … and CSV columns.
    pub plain: BTreeMap<String, String>,
    /// Stored parameters by path.
    pub params: BTreeMap<String, String>,
}

impl DeviceVariables {
    fn has(&self, dotted: &str) -> bool {
        self.plain.contains_key(dotted)
            || self.params.contains_key(dotted)
            // A subtree used as a whole (`{% for k in Device.DeviceInfo %}`).
            || self
                .params
                .range(format!("{dotted}.")..)
                .next()
                .is_some_and(|(k, _)| k.starts_with(&format!("{dotted}.")))
    }

    /// The template context: plain variables plus parameters as nested maps.
    fn context(&self) -> Value {
        #[derive(Default)]
        struct Node(BTreeMap<String, Tree>);
        enum Tree {
            Leaf(String),
            Branch(Node),
        }
        fn to_value(node: Node) -> Value {
            Value::from_iter(node.0.into_iter().map(|(k, v)| {
                let v = match v {
                    Tree::Leaf(s) => Value::from(s),
                    Tree::Branch(n) => to_value(n),
                };
                (k, v)
            }))
        }
        let mut root = Node::default();
        for (path, value) in &self.params {
            let parts: Vec<&str> = path.split('.').collect();
            let mut node = &mut root;
            for (i, part) in parts.iter().enumerate() {
                if i + 1 == parts.len() {
                    node.0
                        .entry((*part).to_owned())
                        .or_insert(Tree::Leaf(value.clone()));
                } else {
                    let entry = node
                        .0
                        .entry((*part).to_owned())
                        .or_insert_with(|| Tree::Branch(Node::default()));
                    match entry {
                        Tree::Branch(n) => node = n,
                        // A value and a subtree under one name cannot both be reached.
                        Tree::Leaf(_) => break,
                    }
                }
            }
        }
        for (k, v) in &self.plain {
            root.0.insert(k.clone(), Tree::Leaf(v.clone()));
        }
        to_value(root)
    }
}

/// Per-device variables from a CSV whose header has a `serial` or `mac` column (case
/// insensitive); the other columns become variables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VarsTable {
    by_serial: HashMap<String, BTreeMap<String, String>>,
    by_mac: HashMap<String, BTreeMap<String, String>>,
}

impl VarsTable {
    /// Reads a CSV.
    pub fn from_csv(text: &str) -> Result<VarsTable, TemplateError> {
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let headers: Vec<String> = reader
            .headers()
            .map_err(|e| TemplateError::Csv(e.to_string()))?
            .iter()
            .map(str::to_owned)
            .collect();
        let key_col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
        let (serial, mac) = (key_col("serial"), key_col("mac"));
        if serial.is_none() && mac.is_none() {
            return Err(TemplateError::Csv(
                "the header needs a `serial` or a `mac` column to match devices".into(),
            ));
        }
        let mut table = VarsTable::default();
        for (i, record) in reader.records().enumerate() {
            let record = record.map_err(|e| TemplateError::Csv(format!("row {}: {e}", i + 2)))?;
            let row: BTreeMap<String, String> = headers
                .iter()
                .zip(record.iter())
                .map(|(h, v)| (h.clone(), v.to_owned()))
                .collect();
            if let Some(s) = serial.and_then(|c| record.get(c)).filter(|s| !s.is_empty()) {
                table.by_serial.insert(s.to_owned(), row.clone());
            }
            if let Some(m) = mac
                .and_then(|c| record.get(c))
                .and_then(crate::storage::normalize_mac)
            {
                table.by_mac.insert(m, row);
            }
        }
        Ok(table)
    }

    /// The row of a device: by serial number, else by MAC.
    pub fn row(&self, serial: &str, mac: Option<&str>) -> Option<&BTreeMap<String, String>> {
        self.by_serial
            .get(serial)
            .or_else(|| mac.and_then(|m| self.by_mac.get(m)))
    }

    /// How many devices it has rows for (by either key).
    pub fn len(&self) -> usize {
        self.by_serial.len().max(self.by_mac.len())
    }

    /// Whether it has no rows.
    pub fn is_empty(&self) -> bool {
        self.by_serial.is_empty() && self.by_mac.is_empty()
    }
}

/// The variables of one device: its identity, its stored parameters, and its CSV row (which
/// wins over identity names it repeats, so a CSV can override, say, `product_class`).
pub fn device_variables(
    device: &DeviceRow,
    params: &[ParameterRow],
    csv_row: Option<&BTreeMap<String, String>>,
) -> DeviceVariables {
    let mut plain = BTreeMap::new();
    let mut put = |k: &str, v: Option<&String>| {
        if let Some(v) = v {
            plain.insert(k.to_owned(), v.clone());
        }
    };
    put("device_id", Some(&device.id));
    put("serial", Some(&device.serial_number));
    put("product_class", Some(&device.product_class));
    put("oui", Some(&device.oui));
    put("manufacturer", Some(&device.manufacturer));
    put("mac", device.mac.as_ref());
    put("software_version", device.software_version.as_ref());
    put("hardware_version", device.hardware_version.as_ref());
    if let Some(row) = csv_row {
        for (k, v) in row {
            plain.insert(k.clone(), v.clone());
        }
    }
    DeviceVariables {
        plain,
        params: params
            .iter()
            .map(|p| (p.name.clone(), p.value.clone()))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)], params: &[(&str, &str)]) -> DeviceVariables {
        DeviceVariables {
            plain: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            params: params
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    const PHONE: &str = r#"<device>
<flat-profile>
  <Station_Name ua="na">{{ station }}</Station_Name>
  <User_ID_1_ ua="na">{{ serial }}</User_ID_1_>
  <Display_Name_1_ ua="na">{{ Device.DeviceInfo.ModelName }}</Display_Name_1_>
  <Line_Enable_1_ ua="na">{{ param("Device.Services.VoiceService.1.VoiceProfile.1.Line.1.Enable") }}</Line_Enable_1_>
</flat-profile>
</device>"#;

    #[test]
    fn renders_identity_csv_columns_and_parameters() {
        let t = ConfigTemplate::parse(PHONE).unwrap();
        assert_eq!(
            t.variables().iter().map(String::as_str).collect::<Vec<_>>(),
            ["Device.DeviceInfo.ModelName", "serial", "station"]
        );
        let out = t
            .render(&vars(
                &[("serial", "FCH1"), ("station", "Lobby & Hall <1>")],
                &[
                    ("Device.DeviceInfo.ModelName", "CP-8851"),
                    (
                        "Device.Services.VoiceService.1.VoiceProfile.1.Line.1.Enable",
                        "Yes",
                    ),
                ],
            ))
            .unwrap();
        assert!(
            out.contains(r#"<Station_Name ua="na">Lobby &amp; Hall &lt;1&gt;</Station_Name>"#),
            "{out}"
        );
        assert!(out.contains(">FCH1</User_ID_1_>"));
        assert!(out.contains(">CP-8851</Display_Name_1_>"));
        assert!(out.contains(">Yes</Line_Enable_1_>"));
    }

    #[test]
    fn missing_variables_are_all_named() {
        let t = ConfigTemplate::parse(PHONE).unwrap();
        let err = t.render(&vars(&[("serial", "FCH1")], &[])).unwrap_err();
        assert_eq!(
            err,
            TemplateError::Missing(vec!["Device.DeviceInfo.ModelName".into(), "station".into()])
        );
        assert_eq!(
            err.to_string(),
            "missing variables: Device.DeviceInfo.ModelName, station"
        );
        // A parameter asked for through param() is named too.
        let err = t
            .render(&vars(
                &[("serial", "FCH1"), ("station", "x")],
                &[("Device.DeviceInfo.ModelName", "m")],
            ))
            .unwrap_err();
        assert!(
            matches!(&err, TemplateError::Missing(n) if n[0].contains("Line.1.Enable")),
            "{err:?}"
        );
    }

    #[test]
    fn malformed_templates_and_renderings_are_refused() {
        let check = |source: &str, want: &str| {
            let err = ConfigTemplate::parse(source).unwrap_err().to_string();
            assert!(err.contains(want), "{source}: {err}");
        };
        check(
            "<flat-profile><A>1</B></flat-profile>",
            "not a valid flat profile",
        );
        check(
            "<flat-profile><A>{{ x </A></flat-profile>",
            "template syntax",
        );
        check("<device><other/></device>", "no <flat-profile>");
        check(
            "<flat-profile/><flat-profile/>",
            "more than one root element",
        );
        check(
            "<!DOCTYPE x [<!ENTITY a \"b\">]><flat-profile>&a;</flat-profile>",
            "DOCTYPE declarations are not accepted",
        );
        check("<flat-profile><A>", "ends before its elements are closed");
        check(
            "<flat-profile>&nbsp;</flat-profile>",
            "unknown entity &nbsp;",
        );
        check(
            "<flat-profile>x</flat-profile>y",
            "text outside the root element",
        );
        // Well-formed as a template, broken once rendered.
        let t = ConfigTemplate::parse(
            "<flat-profile><A>{% if x == \"1\" %}</A>{% endif %}</flat-profile>",
        );
        let t = t.expect("well-formed as a template");
        let err = t.render(&vars(&[("x", "2")], &[])).unwrap_err();
        assert!(err.to_string().contains("the rendered file"), "{err}");
    }

    #[test]
    fn csv_rows_match_by_serial_then_mac() {
        let t =
            VarsTable::from_csv("serial,mac,station\nFCH1,,Lobby\n,00-56-2b-01-02-03,Kitchen\n")
                .unwrap();
        assert_eq!(t.row("FCH1", None).unwrap()["station"], "Lobby");
        assert_eq!(
            t.row("OTHER", Some("00:56:2B:01:02:03")).unwrap()["station"],
            "Kitchen"
        );
        assert!(t.row("OTHER", None).is_none());
        assert!(VarsTable::from_csv("name,station\nx,y\n").is_err());
        assert!(VarsTable::from_csv("serial,a\n\"unterminated,b\n").is_err());
    }
}
