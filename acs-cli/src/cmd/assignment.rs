//! `NAME=VALUE[:TYPE]` arguments, as `acs set` and provisioning rules take them.

use acs_core::cwmp::ValueType;

/// One `NAME=VALUE[:TYPE]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub name: String,
    pub value: String,
    /// `None`: take the stored type.
    pub value_type: Option<ValueType>,
}

const TYPES: &[ValueType] = &[
    ValueType::String,
    ValueType::Int,
    ValueType::UnsignedInt,
    ValueType::Long,
    ValueType::UnsignedLong,
    ValueType::Boolean,
    ValueType::DateTime,
    ValueType::Base64Binary,
    ValueType::HexBinary,
    ValueType::Decimal,
];

/// A type name with or without `xsd:` (case-insensitive); `None` for anything else.
pub fn parse_type(s: &str) -> Option<ValueType> {
    let local = s.strip_prefix("xsd:").unwrap_or(s);
    TYPES
        .iter()
        .find(|t| {
            t.local_name()
                .is_some_and(|n| n.eq_ignore_ascii_case(local))
        })
        .cloned()
}

/// Parses `NAME=VALUE[:TYPE]`. The name ends at the first `=`; a trailing `:TYPE` or
/// `:xsd:TYPE` naming a known type is the type, anything else belongs to the value (so
/// `X=http://h:8080/` is a value).
pub fn parse_assignment(arg: &str) -> Result<Assignment, String> {
    let Some((name, rest)) = arg.split_once('=') else {
        return Err(format!("`{arg}`: expected NAME=VALUE[:TYPE]"));
    };
    if name.is_empty() || name.contains(char::is_whitespace) || name.split('.').any(str::is_empty) {
        return Err(format!("`{arg}`: `{name}` is not a parameter name"));
    }
    let (value, value_type) = match rest.rsplit_once(':') {
        Some((v, t)) => match parse_type(t) {
            Some(ty) => (v.strip_suffix(":xsd").unwrap_or(v), Some(ty)),
            None => (rest, None),
        },
        None => (rest, None),
    };
    if let Some(t) = &value_type
        && !t.accepts(value)
    {
        return Err(format!(
            "`{arg}`: {value:?} is not a valid {}",
            t.wire_name()
        ));
    }
    Ok(Assignment {
        name: name.to_owned(),
        value: value.to_owned(),
        value_type,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `arg`; `Ok((name, value, type))` or `Err(part of the message)`.
    fn check(arg: &str, expected: Result<(&str, &str, Option<&str>), &str>) {
        let got = parse_assignment(arg);
        match (got, expected) {
            (Ok(a), Ok((name, value, ty))) => {
                assert_eq!(
                    (
                        a.name.as_str(),
                        a.value.as_str(),
                        a.value_type.as_ref().map(ValueType::wire_name)
                    ),
                    (name, value, ty),
                    "{arg}"
                );
            }
            (Err(e), Err(part)) => assert!(e.contains(part), "{arg}: {e}"),
            (got, expected) => panic!("{arg}: got {got:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn assignments() {
        let x = "Device.X";
        check("Device.X=1", Ok((x, "1", None)));
        check(
            "Device.X=300:unsignedInt",
            Ok((x, "300", Some("xsd:unsignedInt"))),
        );
        check(
            "Device.X=300:xsd:unsignedInt",
            Ok((x, "300", Some("xsd:unsignedInt"))),
        );
        check(
            "Device.X=true:boolean",
            Ok((x, "true", Some("xsd:boolean"))),
        );
        check("Device.X=1:BOOLEAN", Ok((x, "1", Some("xsd:boolean"))));
        check("Device.X=", Ok((x, "", None)));
        check("Device.X=:string", Ok((x, "", Some("xsd:string"))));
        check("Device.X=a=b", Ok((x, "a=b", None)));
        // A colon that does not introduce a known type belongs to the value.
        check("Device.X=http://h:8080/p", Ok((x, "http://h:8080/p", None)));
        check("Device.X=sip:alice", Ok((x, "sip:alice", None)));
        check("Device.X=10:30", Ok((x, "10:30", None)));
        check(
            "Device.X=http://h:8080:string",
            Ok((x, "http://h:8080", Some("xsd:string"))),
        );
        check(
            "Device.X=a:string:string",
            Ok((x, "a:string", Some("xsd:string"))),
        );
        check(
            "Device.X=2027-01-01T00:00:00Z:dateTime",
            Ok((x, "2027-01-01T00:00:00Z", Some("xsd:dateTime"))),
        );
        check("Device.X=-5:int", Ok((x, "-5", Some("xsd:int"))));
        check(
            "Device.X=-5:unsignedInt",
            Err("not a valid xsd:unsignedInt"),
        );
        check("Device.X=yes:boolean", Err("not a valid xsd:boolean"));
        check("Device.X", Err("expected NAME=VALUE"));
        check("=1", Err("is not a parameter name"));
        check("Device.=1", Err("is not a parameter name"));
        check("Device X=1", Err("is not a parameter name"));
        check("Device..X=1", Err("is not a parameter name"));
    }

    #[test]
    fn type_names() {
        for (s, t) in [
            ("string", Some(ValueType::String)),
            ("xsd:string", Some(ValueType::String)),
            ("unsignedint", Some(ValueType::UnsignedInt)),
            ("xsd:base64Binary", Some(ValueType::Base64Binary)),
            ("uint", None),
            ("foo:string", None),
            ("", None),
        ] {
            assert_eq!(parse_type(s), t, "{s}");
        }
    }
}
