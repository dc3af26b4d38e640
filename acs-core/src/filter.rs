//! The device filter language (see `docs/FILTERS.md`).
//!
//! ```text
//! product_class = "CP-8851-3PCC" and Device.DeviceInfo.SoftwareVersion ~ "sip88xx.11*"
//! tag = lab and not serial = "X1"
//! last_inform > -1h
//! ```
//!
//! [`Filter::parse`] is a hand-written lexer and recursive-descent parser
//! producing an AST ([`Expr`]). Precedence: `not` binds tighter than `and`,
//! which binds tighter than `or`; parentheses group. It is pure: the storage
//! layer compiles the AST to SQL (`Store::find_devices`), resolving relative
//! times against a `now` the caller passes in.
//!
//! Hostile input is bounded: at most [`MAX_FILTER_LEN`] bytes and
//! [`MAX_NESTING`] levels of parentheses / `not`, so parsing, compiling and
//! dropping never recurse deeper than that. `and`/`or` chains are n-ary
//! (flat), not nested.

use std::fmt;

use chrono::{DateTime, Utc};

/// Longest accepted filter, in bytes.
pub const MAX_FILTER_LEN: usize = 4096;

/// Deepest accepted nesting of parentheses and `not`.
pub const MAX_NESTING: usize = 64;

/// A malformed filter. `position` is the 1-based character column where the
/// problem was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at column {position}: {message}")]
pub struct FilterError {
    /// 1-based character column.
    pub position: usize,
    /// What is wrong, e.g. "expected a value after '='".
    pub message: String,
}

fn err<T>(position: usize, message: impl Into<String>) -> Result<T, FilterError> {
    Err(FilterError {
        position,
        message: message.into(),
    })
}

/// A device column a filter can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceField {
    /// `id`
    Id,
    /// `serial` (column `serial_number`)
    Serial,
    /// `oui` (the normalised, upper-case OUI)
    Oui,
    /// `product_class`
    ProductClass,
    /// `manufacturer`
    Manufacturer,
    /// `mac` (normalised `AA:BB:CC:DD:EE:FF`)
    Mac,
    /// `software_version`
    SoftwareVersion,
    /// `hardware_version`
    HardwareVersion,
    /// `provisioning_code`
    ProvisioningCode,
    /// `remote_ip`
    RemoteIp,
    /// `status`: presence, `online`, `late` or `offline` ([`crate::presence`])
    Status,
}

impl DeviceField {
    /// All fields, for error messages and documentation.
    pub const ALL: [DeviceField; 11] = [
        DeviceField::Id,
        DeviceField::Serial,
        DeviceField::Oui,
        DeviceField::ProductClass,
        DeviceField::Manufacturer,
        DeviceField::Mac,
        DeviceField::SoftwareVersion,
        DeviceField::HardwareVersion,
        DeviceField::ProvisioningCode,
        DeviceField::RemoteIp,
        DeviceField::Status,
    ];

    /// The name used in filters.
    pub fn name(self) -> &'static str {
        match self {
            DeviceField::Id => "id",
            DeviceField::Serial => "serial",
            DeviceField::Oui => "oui",
            DeviceField::ProductClass => "product_class",
            DeviceField::Manufacturer => "manufacturer",
            DeviceField::Mac => "mac",
            DeviceField::SoftwareVersion => "software_version",
            DeviceField::HardwareVersion => "hardware_version",
            DeviceField::ProvisioningCode => "provisioning_code",
            DeviceField::RemoteIp => "remote_ip",
            DeviceField::Status => "status",
        }
    }

    /// The `devices` column it reads.
    pub fn column(self) -> &'static str {
        match self {
            DeviceField::Serial => "serial_number",
            DeviceField::Oui => "oui_normalized",
            DeviceField::Status => "presence",
            other => other.name(),
        }
    }

    /// Whether the column may be NULL.
    pub fn nullable(self) -> bool {
        matches!(
            self,
            DeviceField::Mac
                | DeviceField::SoftwareVersion
                | DeviceField::HardwareVersion
                | DeviceField::ProvisioningCode
                | DeviceField::RemoteIp
        )
    }
}

/// A time column a filter can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeField {
    /// `last_inform`
    LastInform,
    /// `first_seen`
    FirstSeen,
    /// `last_boot` (NULL until a `1 BOOT` Inform)
    LastBoot,
    /// `last_bootstrap` (NULL until a `0 BOOTSTRAP` Inform)
    LastBootstrap,
}

impl TimeField {
    /// All time fields.
    pub const ALL: [TimeField; 4] = [
        TimeField::LastInform,
        TimeField::FirstSeen,
        TimeField::LastBoot,
        TimeField::LastBootstrap,
    ];

    /// The name used in filters, also the `devices` column.
    pub fn name(self) -> &'static str {
        match self {
            TimeField::LastInform => "last_inform",
            TimeField::FirstSeen => "first_seen",
            TimeField::LastBoot => "last_boot",
            TimeField::LastBootstrap => "last_bootstrap",
        }
    }

    /// Whether the column may be NULL.
    pub fn nullable(self) -> bool {
        matches!(self, TimeField::LastBoot | TimeField::LastBootstrap)
    }
}

/// What a comparison reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    /// A text column of `devices`.
    Device(DeviceField),
    /// A timestamp column of `devices`.
    Time(TimeField),
    /// The device's tags (`device_tags`).
    Tag,
    /// `line_status`: the registration state of any of the device's voice lines that is not
    /// `Disabled` (`device_lines`; TR-104 `Line.{i}.Status`), so `line_status != "Up"` is
    /// "a phone with an enabled line that is not registered".
    LineStatus,
    /// A stored parameter, by its full path (`device_parameters.name`).
    Parameter(String),
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::Device(d) => f.write_str(d.name()),
            Field::Time(t) => f.write_str(t.name()),
            Field::Tag => f.write_str("tag"),
            Field::LineStatus => f.write_str("line_status"),
            Field::Parameter(p) => f.write_str(p),
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `~` (glob: `*` any run, `?` one character)
    Glob,
}

impl Op {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Gt => ">",
            Op::Glob => "~",
        }
    }
}

/// A point in time in a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeValue {
    /// `-1h`: this many seconds before `now` (always <= 0).
    Relative(i64),
    /// An RFC 3339 timestamp.
    Absolute(DateTime<Utc>),
}

impl TimeValue {
    /// The instant, relative times resolved against `now` (saturating).
    pub fn resolve(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            TimeValue::Absolute(t) => t,
            TimeValue::Relative(secs) => chrono::Duration::try_seconds(secs)
                .and_then(|d| now.checked_add_signed(d))
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
        }
    }
}

/// The right-hand side of a comparison.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    /// Text (quoted or bare).
    Text(String),
    /// A time (for time fields only).
    Time(TimeValue),
}

/// A filter expression.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Expr {
    /// All of these (two or more).
    And(Vec<Expr>),
    /// Any of these (two or more).
    Or(Vec<Expr>),
    /// Negation.
    Not(Box<Expr>),
    /// `field op value`.
    Cmp {
        /// What is compared.
        field: Field,
        /// How.
        op: Op,
        /// With what.
        value: Value,
    },
}

impl fmt::Display for Expr {
    /// An s-expression, e.g. `(and (= tag "lab") (not (= serial "X1")))`;
    /// relative times print as `-3600s`, absolute ones in RFC 3339.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::And(xs) | Expr::Or(xs) => {
                f.write_str(if matches!(self, Expr::And(_)) {
                    "(and"
                } else {
                    "(or"
                })?;
                for x in xs {
                    write!(f, " {x}")?;
                }
                f.write_str(")")
            }
            Expr::Not(x) => write!(f, "(not {x})"),
            Expr::Cmp { field, op, value } => {
                write!(f, "({} {field} ", op.as_str())?;
                match value {
                    Value::Text(s) => write!(f, "{s:?})"),
                    Value::Time(TimeValue::Relative(s)) => write!(f, "{s}s)"),
                    Value::Time(TimeValue::Absolute(t)) => write!(f, "{})", t.to_rfc3339()),
                }
            }
        }
    }
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Filter {
    /// The expression.
    pub expr: Expr,
}

impl Filter {
    /// Parses a filter; see the module docs and `docs/FILTERS.md`.
    pub fn parse(input: &str) -> Result<Filter, FilterError> {
        if input.len() > MAX_FILTER_LEN {
            return err(
                MAX_FILTER_LEN + 1,
                format!("filter is longer than {MAX_FILTER_LEN} bytes"),
            );
        }
        let tokens = lex(input)?;
        let mut p = Parser {
            tokens,
            pos: 0,
            depth: 0,
            end: input.chars().count() + 1,
        };
        let expr = p.or()?;
        if let Some(t) = p.peek() {
            return err(t.col, format!("unexpected {}", t.kind.describe()));
        }
        Ok(Filter { expr })
    }
}

impl std::str::FromStr for Filter {
    type Err = FilterError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Filter::parse(s)
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.expr.fmt(f)
    }
}

// ---------------------------------------------------------------- lexer

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    LParen,
    RParen,
    Op(Op),
    /// A double-quoted string (unescaped).
    Str(String),
    /// A bare word: a field name, keyword or unquoted value.
    Word(String),
}

impl Kind {
    fn describe(&self) -> String {
        match self {
            Kind::LParen => "'('".into(),
            Kind::RParen => "')'".into(),
            Kind::Op(op) => format!("'{}'", op.as_str()),
            Kind::Str(s) => format!("string {s:?}"),
            Kind::Word(w) => format!("'{w}'"),
        }
    }
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    /// 1-based character column of the token's first character.
    col: usize,
}

/// Characters that end a bare word.
fn is_special(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '"' | '=' | '!' | '<' | '>' | '~')
}

fn lex(input: &str) -> Result<Vec<Token>, FilterError> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        let kind = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' => {
                i += 1;
                Kind::LParen
            }
            ')' => {
                i += 1;
                Kind::RParen
            }
            '=' => {
                i += 1;
                Kind::Op(Op::Eq)
            }
            '~' => {
                i += 1;
                Kind::Op(Op::Glob)
            }
            '<' | '>' => {
                if chars.get(i + 1) == Some(&'=') {
                    return err(
                        col,
                        format!("'{c}=' is not supported; use '{c}' (comparisons are strict)"),
                    );
                }
                i += 1;
                Kind::Op(if c == '<' { Op::Lt } else { Op::Gt })
            }
            '!' => {
                if chars.get(i + 1) != Some(&'=') {
                    return err(col, "expected '=' after '!'");
                }
                i += 2;
                Kind::Op(Op::Ne)
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return err(col, "unterminated string"),
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some('\\') => match chars.get(i + 1) {
                            Some(e @ ('"' | '\\')) => {
                                s.push(*e);
                                i += 2;
                            }
                            _ => {
                                return err(
                                    i + 1,
                                    "unknown escape in string (only \\\" and \\\\ are allowed)",
                                );
                            }
                        },
                        Some(ch) => {
                            s.push(*ch);
                            i += 1;
                        }
                    }
                }
                Kind::Str(s)
            }
            _ => {
                let start = i;
                while i < chars.len() && !is_special(chars[i]) {
                    i += 1;
                }
                Kind::Word(chars[start..i].iter().collect())
            }
        };
        out.push(Token { kind, col });
    }
    Ok(out)
}

// ---------------------------------------------------------------- parser

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    /// Column just past the end of the input (for "expected X" at the end).
    end: usize,
}

fn is_keyword(w: &str, kw: &str) -> bool {
    w.eq_ignore_ascii_case(kw)
}

fn is_any_keyword(w: &str) -> bool {
    ["and", "or", "not"].iter().any(|k| is_keyword(w, k))
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn peek_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Token { kind: Kind::Word(w), .. }) if is_keyword(w, kw))
    }

    fn col(&self) -> usize {
        self.peek().map_or(self.end, |t| t.col)
    }

    fn enter(&mut self, col: usize) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return err(col, format!("nesting deeper than {MAX_NESTING} levels"));
        }
        Ok(())
    }

    // or := and ("or" and)*
    fn or(&mut self) -> Result<Expr, FilterError> {
        self.chain("or", Self::and, Expr::Or)
    }

    // and := unary ("and" unary)*
    fn and(&mut self) -> Result<Expr, FilterError> {
        self.chain("and", Self::unary, Expr::And)
    }

    /// `operand (keyword operand)*`, kept flat: a chain adds no nesting depth.
    fn chain(
        &mut self,
        keyword: &str,
        operand: fn(&mut Self) -> Result<Expr, FilterError>,
        build: fn(Vec<Expr>) -> Expr,
    ) -> Result<Expr, FilterError> {
        let mut xs = vec![operand(self)?];
        while self.peek_keyword(keyword) {
            self.pos += 1;
            xs.push(operand(self)?);
        }
        Ok(if xs.len() == 1 {
            xs.pop().expect("one element")
        } else {
            build(xs)
        })
    }

    // unary := "not" unary | "(" or ")" | comparison
    fn unary(&mut self) -> Result<Expr, FilterError> {
        let col = self.col();
        if self.peek_keyword("not") {
            self.pos += 1;
            self.enter(col)?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        if matches!(
            self.peek(),
            Some(Token {
                kind: Kind::LParen,
                ..
            })
        ) {
            self.pos += 1;
            self.enter(col)?;
            let inner = self.or()?;
            match self.peek() {
                Some(Token {
                    kind: Kind::RParen, ..
                }) => self.pos += 1,
                Some(t) => {
                    return err(
                        t.col,
                        format!(
                            "expected ')' to close '(' at column {col}, found {}",
                            t.kind.describe()
                        ),
                    );
                }
                None => {
                    return err(
                        self.end,
                        format!("expected ')' to close '(' at column {col}"),
                    );
                }
            }
            self.depth -= 1;
            return Ok(inner);
        }
        self.comparison()
    }

    // comparison := field op value
    fn comparison(&mut self) -> Result<Expr, FilterError> {
        let (name, col) = match self.peek() {
            Some(Token {
                kind: Kind::Word(w),
                col,
            }) if !is_any_keyword(w) => (w.clone(), *col),
            Some(t) => {
                return err(
                    t.col,
                    format!("expected a field name, found {}", t.kind.describe()),
                );
            }
            None => return err(self.end, "expected a field name"),
        };
        self.pos += 1;
        let field = field_by_name(&name).ok_or_else(|| FilterError {
            position: col,
            message: format!(
                "unknown field '{name}' (a parameter path contains a '.'; fields: {})",
                field_names().join(", ")
            ),
        })?;

        let (op, op_col) = match self.peek() {
            Some(Token {
                kind: Kind::Op(op),
                col,
            }) => (*op, *col),
            Some(t) => {
                return err(
                    t.col,
                    format!(
                        "expected an operator (=, !=, <, >, ~) after '{name}', found {}",
                        t.kind.describe()
                    ),
                );
            }
            None => {
                return err(
                    self.end,
                    format!("expected an operator (=, !=, <, >, ~) after '{name}'"),
                );
            }
        };
        self.pos += 1;

        let (text, val_col) = match self.peek() {
            Some(Token {
                kind: Kind::Str(s),
                col,
            }) => (s.clone(), *col),
            Some(Token {
                kind: Kind::Word(w),
                col,
            }) if !is_any_keyword(w) => (w.clone(), *col),
            Some(t) => {
                return err(
                    t.col,
                    format!(
                        "expected a value after '{}', found {} (quote keywords used as values)",
                        op.as_str(),
                        t.kind.describe()
                    ),
                );
            }
            None => {
                return err(
                    self.end,
                    format!("expected a value after '{}'", op.as_str()),
                );
            }
        };
        self.pos += 1;

        let value = match &field {
            Field::Time(t) => {
                if op == Op::Glob {
                    return err(
                        op_col,
                        format!("'~' is not supported on time field '{}'", t.name()),
                    );
                }
                Value::Time(parse_time(&text).ok_or_else(|| FilterError {
                    position: val_col,
                    message: format!(
                        "expected a relative time (-30s, -15m, -1h, -7d, -2w) or an RFC 3339 time, found {text:?}"
                    ),
                })?)
            }
            Field::LineStatus if matches!(op, Op::Lt | Op::Gt) => {
                return err(op_col, "'line_status' supports only =, != and ~");
            }
            Field::Tag if matches!(op, Op::Lt | Op::Gt) => {
                return err(op_col, "'tag' supports only =, != and ~");
            }
            // A misspelt state would silently match nothing.
            Field::Device(DeviceField::Status)
                if matches!(op, Op::Eq | Op::Ne)
                    && crate::presence::Presence::parse(&text).is_none() =>
            {
                return err(
                    val_col,
                    format!("status is online, late or offline, not {text:?}"),
                );
            }
            _ => Value::Text(text),
        };
        Ok(Expr::Cmp { field, op, value })
    }
}

fn field_names() -> Vec<&'static str> {
    let mut v: Vec<&str> = DeviceField::ALL.iter().map(|f| f.name()).collect();
    v.push("tag");
    v.push("line_status");
    v.extend(TimeField::ALL.iter().map(|f| f.name()));
    v
}

fn field_by_name(name: &str) -> Option<Field> {
    if name.contains('.') {
        return Some(Field::Parameter(name.to_owned()));
    }
    if name == "tag" {
        return Some(Field::Tag);
    }
    if name == "line_status" {
        return Some(Field::LineStatus);
    }
    if let Some(d) = DeviceField::ALL.into_iter().find(|f| f.name() == name) {
        return Some(Field::Device(d));
    }
    TimeField::ALL
        .into_iter()
        .find(|f| f.name() == name)
        .map(Field::Time)
}

/// `-90s`, `-30m`, `-1h`, `-7d`, `-2w`, or RFC 3339.
fn parse_time(s: &str) -> Option<TimeValue> {
    if let Some(rest) = s.strip_prefix('-')
        && let Some(unit) = rest.chars().last()
        && unit.is_ascii_alphabetic()
    {
        let digits = &rest[..rest.len() - 1];
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: i64 = digits.parse().ok()?;
        let mult = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return None,
        };
        return Some(TimeValue::Relative(-(n.checked_mul(mult)?)));
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| TimeValue::Absolute(t.with_timezone(&Utc)))
}

/// Translates a glob (`*` = any run, `?` = one character, everything else
/// literal) into a SQL `LIKE` pattern for `ESCAPE '\'`: `%`, `_` and `\`
/// in the glob are escaped with `\`.
pub fn glob_to_like(glob: &str) -> String {
    let mut out = String::with_capacity(glob.len() + 4);
    for c in glob.chars() {
        match c {
            '*' => out.push('%'),
            '?' => out.push('_'),
            '%' | '_' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Translates a glob into a SQLite `GLOB` pattern: `*` and `?` stay
/// wildcards; the characters GLOB treats specially (`[`) and any literal use
/// is impossible here (`*`/`?` in a filter glob are always wildcards), so
/// only `[` needs escaping, as `[[]`.
pub fn glob_to_sqlite_glob(glob: &str) -> String {
    glob.replace('[', "[[]")
}

/// The literal prefix of a glob (everything before the first `*` or `?`).
pub fn glob_literal_prefix(glob: &str) -> &str {
    let end = glob.find(['*', '?']).unwrap_or(glob.len());
    &glob[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `input` parses to `expected` (the s-expression), or, when `expected`
    /// starts with `@`, fails at that column (`@12`).
    fn check(input: &str, expected: &str) {
        match (Filter::parse(input), expected.strip_prefix('@')) {
            (Ok(f), None) => assert_eq!(f.to_string(), expected, "input: {input}"),
            (Err(e), Some(col)) => {
                assert_eq!(e.position.to_string(), col, "input: {input}, error: {e}")
            }
            (Ok(f), Some(_)) => panic!("input {input:?} parsed to {f}, expected {expected}"),
            (Err(e), None) => panic!("input {input:?} failed: {e}, expected {expected}"),
        }
    }

    #[test]
    fn parser_table() {
        let cases: &[(&str, &str)] = &[
            (
                r#"product_class = "CP-8851-3PCC""#,
                r#"(= product_class "CP-8851-3PCC")"#,
            ),
            (
                "product_class = CP-8851-3PCC",
                r#"(= product_class "CP-8851-3PCC")"#,
            ),
            (
                r#"Device.DeviceInfo.SoftwareVersion ~ "sip88xx.11*""#,
                r#"(~ Device.DeviceInfo.SoftwareVersion "sip88xx.11*")"#,
            ),
            (
                r#"tag = lab and not serial = "X1""#,
                r#"(and (= tag "lab") (not (= serial "X1")))"#,
            ),
            (
                "a.b = 1 or c.d = 2 and e.f = 3",
                r#"(or (= a.b "1") (and (= c.d "2") (= e.f "3")))"#,
            ),
            (
                "(a.b = 1 or c.d = 2) and e.f = 3",
                r#"(and (or (= a.b "1") (= c.d "2")) (= e.f "3"))"#,
            ),
            ("not not tag = x", r#"(not (not (= tag "x")))"#),
            (
                "NOT tag = x AND tag != y OR tag ~ z*",
                r#"(or (and (not (= tag "x")) (!= tag "y")) (~ tag "z*"))"#,
            ),
            (
                "tag=a and tag=b and tag=c",
                r#"(and (= tag "a") (= tag "b") (= tag "c"))"#,
            ),
            ("last_inform > -1h", "(> last_inform -3600s)"),
            ("last_inform<-30m", "(< last_inform -1800s)"),
            ("first_seen > -7d", "(> first_seen -604800s)"),
            ("last_boot != -90s", "(!= last_boot -90s)"),
            ("last_bootstrap = -2w", "(= last_bootstrap -1209600s)"),
            (
                r#"last_inform > "2027-01-01T00:00:00Z""#,
                "(> last_inform 2027-01-01T00:00:00+00:00)",
            ),
            (
                "last_inform < 2027-01-01T02:00:00+02:00",
                "(< last_inform 2027-01-01T00:00:00+00:00)",
            ),
            (r#"serial = "a \"q\" \\ b""#, r#"(= serial "a \"q\" \\ b")"#),
            (r#"serial = """#, r#"(= serial "")"#),
            (r#"serial = "and""#, r#"(= serial "and")"#),
            ("oui = 00A0BC", r#"(= oui "00A0BC")"#),
            ("software_version < 2.0", r#"(< software_version "2.0")"#),
            ("mac ~ \"00:A0:*\"", r#"(~ mac "00:A0:*")"#),
            ("id=x", r#"(= id "x")"#),
            (
                "  (( manufacturer = Acme ))  ",
                r#"(= manufacturer "Acme")"#,
            ),
            (
                "InternetGatewayDevice.X_1 != 5",
                r#"(!= InternetGatewayDevice.X_1 "5")"#,
            ),
            // Errors, by column.
            ("", "@1"),
            ("   ", "@4"),
            ("serial", "@7"),
            ("serial =", "@9"),
            ("product_class = ", "@17"),
            ("serial = and", "@10"),
            ("bogus = 1", "@1"),
            ("serial == 1", "@9"),
            ("serial <= 1", "@8"),
            ("serial ! 1", "@8"),
            ("serial = \"abc", "@10"),
            ("serial = \"a\\nb\"", "@12"),
            ("(serial = 1", "@12"),
            ("(serial = 1 tag = 2)", "@13"),
            ("serial = 1)", "@11"),
            ("serial = 1 tag = 2", "@12"),
            ("serial = 1 and", "@15"),
            ("serial = 1 or or tag = 2", "@15"),
            ("tag < a", "@5"),
            ("last_inform ~ -1h", "@13"),
            ("last_inform > 1h", "@15"),
            ("last_inform > -1y", "@15"),
            ("last_inform > -h", "@15"),
            ("last_inform > yesterday", "@15"),
            ("not", "@4"),
            ("()", "@2"),
            ("= 1", "@1"),
            ("tag = x and and", "@13"),
            ("status = offline", r#"(= status "offline")"#),
            (
                "status != online and tag = lab",
                r#"(and (!= status "online") (= tag "lab"))"#,
            ),
            ("status = gone", "@10"),
        ];
        for (input, expected) in cases {
            check(input, expected);
        }
    }

    #[test]
    fn error_display_names_the_column() {
        let e = Filter::parse("product_cla = 1").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("at column 1: unknown field 'product_cla'")
        );
        let e = Filter::parse("serial_number =").unwrap_err();
        assert_eq!(e.position, 1);
        let e = Filter::parse("product_class =").unwrap_err();
        assert_eq!(e.to_string(), "at column 16: expected a value after '='");
        // Columns count characters, not bytes.
        let e = Filter::parse("serial = \"ü\" x").unwrap_err();
        assert_eq!(e.position, 14);
    }

    #[test]
    fn limits() {
        let deep = format!("{}tag = x{}", "(".repeat(64), ")".repeat(64));
        assert!(Filter::parse(&deep).is_ok());
        let deeper = format!("{}tag = x{}", "(".repeat(65), ")".repeat(65));
        assert_eq!(Filter::parse(&deeper).unwrap_err().position, 65);
        let nots = format!("{}tag = x", "not ".repeat(65));
        assert_eq!(Filter::parse(&nots).unwrap_err().position, 257);
        let hostile = "(".repeat(100_000);
        assert_eq!(Filter::parse(&hostile).unwrap_err().position, 4097);
        let long_chain = vec!["tag = x"; 300].join(" and ");
        assert!(long_chain.len() <= MAX_FILTER_LEN);
        match Filter::parse(&long_chain).unwrap().expr {
            Expr::And(xs) => assert_eq!(xs.len(), 300),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn glob_translation() {
        assert_eq!(glob_to_like("sip88xx.11*"), "sip88xx.11%");
        assert_eq!(glob_to_like("a_b%c\\d?"), "a\\_b\\%c\\\\d_");
        assert_eq!(glob_to_sqlite_glob("a[1]*"), "a[[]1]*");
        assert_eq!(glob_literal_prefix("abc*d?"), "abc");
        assert_eq!(glob_literal_prefix("?x"), "");
        assert_eq!(glob_literal_prefix("plain"), "plain");
    }

    proptest! {
        #[test]
        fn arbitrary_strings_never_panic(s in ".{0,300}") {
            let _ = Filter::parse(&s);
        }

        #[test]
        fn filterish_strings_never_panic(
            s in r#"(\(|\)|not |and |or |tag|serial|last_inform|Device\.X|=|!=|<|>|~|"|\\|-1h|x| ){0,80}"#
        ) {
            if let Ok(f) = Filter::parse(&s) {
                // The printed form is stable.
                let _ = f.to_string();
            }
        }
    }
}
