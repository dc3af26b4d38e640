//! Tolerant parser for `Authorization` and `WWW-Authenticate` values (RFC 7235 §2.1 / §4.1,
//! RFC 9110 §11): `scheme [ token68 / #auth-param ]`.
//!
//! CPE HTTP stacks are small and old, so the parser accepts more than the grammar: `token`
//! values where a quoted-string is required and the reverse, whitespace around `=`, empty list
//! elements (`a=1,,b=2`), and unquoted values containing `/` or `:`. It rejects what would make
//! the meaning ambiguous: duplicate parameters and unterminated quoted strings. It works on
//! bytes with bounds checks only, so no input can make it panic.

/// Longest header value worth looking at; real Digest credentials are a few hundred bytes.
pub(crate) const MAX_HEADER_LEN: usize = 8 * 1024;

/// Parameters of one challenge or credentials, names lower-cased, values unescaped.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_ws(b: u8) -> bool {
    // CR/LF are tolerated as whitespace in case a proxy left an obsolete line fold behind.
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_ws(b[i]) {
        i += 1;
    }
    i
}

/// Splits off the auth-scheme. Returns `None` when the value does not start with a token.
pub(crate) fn split_scheme(input: &str) -> Option<(&str, &str)> {
    let b = input.as_bytes();
    let start = skip_ws(b, 0);
    let mut end = start;
    while end < b.len() && is_tchar(b[end]) {
        end += 1;
    }
    if end == start || (end < b.len() && !is_ws(b[end]) && b[end] != b',') {
        return None;
    }
    Some((input.get(start..end)?, input.get(end..)?))
}

/// Parses the auth-param list that follows a scheme.
///
/// Stops at an element that is a bare token (no `=`), which starts the next challenge in a
/// combined `WWW-Authenticate` value, and returns the text from there on as the rest.
pub(crate) fn parse_params(input: &str) -> Result<(Params, &str), &'static str> {
    let b = input.as_bytes();
    let mut params: Vec<(String, String)> = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && (is_ws(b[i]) || b[i] == b',') {
            i += 1;
        }
        if i >= b.len() {
            return Ok((Params(params), ""));
        }
        let name_start = i;
        while i < b.len() && is_tchar(b[i]) {
            i += 1;
        }
        if i == name_start {
            return Err("unexpected character in parameter list");
        }
        let name = input.get(name_start..i).ok_or("invalid parameter name")?;
        let mut j = skip_ws(b, i);
        if j >= b.len() || b[j] != b'=' {
            return Ok((Params(params), input.get(name_start..).unwrap_or("")));
        }
        j = skip_ws(b, j + 1);
        let value = if j < b.len() && b[j] == b'"' {
            let (value, next) = parse_quoted(b, j + 1)?;
            j = next;
            value
        } else {
            let start = j;
            while j < b.len() && !is_ws(b[j]) && b[j] != b',' {
                j += 1;
            }
            input.get(start..j).ok_or("invalid token value")?.to_owned()
        };
        let name = name.to_ascii_lowercase();
        if params.iter().any(|(n, _)| *n == name) {
            return Err("duplicate parameter");
        }
        params.push((name, value));
        i = skip_ws(b, j);
        if i < b.len() && b[i] != b',' {
            return Err("expected ',' between parameters");
        }
    }
}

/// Reads a quoted-string body starting just after the opening quote; returns the unescaped
/// value and the index just after the closing quote.
fn parse_quoted(b: &[u8], mut j: usize) -> Result<(String, usize), &'static str> {
    let mut buf = Vec::new();
    loop {
        match b.get(j) {
            None => return Err("unterminated quoted string"),
            Some(b'"') => break,
            Some(b'\\') => match b.get(j + 1) {
                Some(&c) => {
                    buf.push(c);
                    j += 2;
                }
                None => return Err("unterminated quoted string"),
            },
            Some(&c) => {
                buf.push(c);
                j += 1;
            }
        }
    }
    let value = String::from_utf8(buf).map_err(|_| "quoted string is not UTF-8")?;
    Ok((value, j + 1))
}

/// Quotes a value for a header quoted-string (RFC 9110 §5.6.4).
pub(crate) fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Decodes an RFC 8187 ext-value (`UTF-8''J%C3%A4s%C3%B8n`), used by RFC 7616 §3.4.4 for
/// `username*`. Only UTF-8 is accepted: ISO-8859-1 usernames do not occur on CPEs.
pub(crate) fn decode_ext_value(value: &str) -> Option<String> {
    let mut parts = value.splitn(3, '\'');
    let charset = parts.next()?;
    let _language = parts.next()?;
    let encoded = parts.next()?;
    if !charset.eq_ignore_ascii_case("UTF-8") {
        return None;
    }
    let b = encoded.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = encoded.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(input: &str) -> Result<Vec<(&'static str, String)>, &'static str> {
        let (p, rest) = parse_params(input)?;
        assert_eq!(rest, "", "unexpected rest for {input:?}");
        Ok(p.0
            .into_iter()
            .map(|(n, v)| (&*Box::leak(n.into_boxed_str()), v))
            .collect())
    }

    #[test]
    fn param_lists() {
        type Case = (
            &'static str,
            Result<Vec<(&'static str, &'static str)>, &'static str>,
        );
        let cases: Vec<Case> = vec![
            ("a=1", Ok(vec![("a", "1")])),
            ("  A = \"x y\" ,b=2  ", Ok(vec![("a", "x y"), ("b", "2")])),
            (
                r#"a="x, \"y\", z",b=tok"#,
                Ok(vec![("a", "x, \"y\", z"), ("b", "tok")]),
            ),
            ("a=1,,b=2,", Ok(vec![("a", "1"), ("b", "2")])),
            (
                "uri=/dir/index.html?x=1",
                Ok(vec![("uri", "/dir/index.html?x=1")]),
            ),
            ("a=", Ok(vec![("a", "")])),
            ("a=,b=\"\"", Ok(vec![("a", ""), ("b", "")])),
            ("a=\"\\\\\"", Ok(vec![("a", "\\")])),
            ("a=\"J\u{e4}s\"", Ok(vec![("a", "J\u{e4}s")])),
            ("", Ok(vec![])),
            ("a=\"open", Err("unterminated quoted string")),
            ("a=\"open\\", Err("unterminated quoted string")),
            ("a=1,A=2", Err("duplicate parameter")),
            ("a=1 b=2", Err("expected ',' between parameters")),
            ("a=\"1\"x", Err("expected ',' between parameters")),
            ("=1", Err("unexpected character in parameter list")),
        ];
        for (input, want) in cases {
            let want = want.map(|v| {
                v.into_iter()
                    .map(|(n, v)| (n, v.to_owned()))
                    .collect::<Vec<_>>()
            });
            assert_eq!(params(input), want, "input {input:?}");
        }
    }

    #[test]
    fn stops_at_next_challenge() {
        let (p, rest) = parse_params(r#"realm="a", qop="auth", Basic realm="b""#).unwrap();
        assert_eq!(p.get("realm"), Some("a"));
        assert_eq!(rest, r#"Basic realm="b""#);
    }

    #[test]
    fn schemes() {
        assert_eq!(split_scheme("  Digest a=1"), Some(("Digest", " a=1")));
        assert_eq!(split_scheme("Basic"), Some(("Basic", "")));
        assert_eq!(split_scheme("Basic,"), Some(("Basic", ",")));
        assert_eq!(split_scheme("Dig\"est a"), None);
        assert_eq!(split_scheme(""), None);
    }

    #[test]
    fn ext_values() {
        assert_eq!(
            decode_ext_value("UTF-8''J%C3%A4s%C3%B8n%20Doe").as_deref(),
            Some("J\u{e4}s\u{f8}n Doe")
        );
        assert_eq!(decode_ext_value("utf-8'en'abc").as_deref(), Some("abc"));
        assert_eq!(decode_ext_value("ISO-8859-1''abc"), None);
        assert_eq!(decode_ext_value("UTF-8''%C3"), None);
        assert_eq!(decode_ext_value("UTF-8''%4"), None);
        assert_eq!(decode_ext_value("UTF-8''%\u{e4}"), None);
        assert_eq!(decode_ext_value("abc"), None);
    }

    #[test]
    fn quoting() {
        assert_eq!(quote(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
