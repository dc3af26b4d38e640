//! A small, hardened XML tree for reading CWMP envelopes.
//!
//! The document is read with quick-xml's namespace-aware pull parser into an arena (`Vec` of
//! nodes, one shared string buffer), then the decoder walks it by local name. Working on local
//! names is what makes the reader indifferent to prefixes (`soap`, `SOAP-ENV`, `soapenv`, default
//! namespaces) while the resolved namespace stays available where it matters (the cwmp version).
//!
//! Architecture invariant: nothing here expands a DTD or an external entity. A `<!DOCTYPE` is an
//! error, entity references other than the five predefined ones and character references are
//! errors, nesting depth and input size are capped before any allocation grows with them.
//!
//! Architecture invariant: every character of the result is an XML 1.0 `Char` (§2.2). A raw
//! U+0000 or `&#1;` is refused here, so no backend ever receives a control character that
//! PostgreSQL cannot store or that one backend keeps and another rejects.

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;
use std::borrow::Cow;

use super::DecodeError;

/// Caps on what the reader accepts. The defaults fit the largest real envelopes (multi-megabyte
/// GetParameterValuesResponses for a full TR-181 tree) with room to spare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest body accepted, in bytes.
    pub max_bytes: usize,
    /// Deepest element nesting accepted. CWMP itself needs 7.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 32 * 1024 * 1024,
            max_depth: 64,
        }
    }
}

/// Line and column (1-based, columns in characters) of a place in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Position {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
}

impl Position {
    /// Locates a byte offset in `src`. Only computed on the error path.
    pub(crate) fn at(src: &str, offset: usize) -> Self {
        let mut offset = offset.min(src.len());
        while !src.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &src[..offset];
        let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Position {
            line,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

const NONE: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
struct Span {
    start: u32,
    end: u32,
}

impl Span {
    const EMPTY: Span = Span { start: 0, end: 0 };
}

#[derive(Debug)]
struct Node {
    name: Span,
    ns: u32,
    text: Span,
    attrs: (u32, u32),
    first_child: u32,
    last_child: u32,
    next_sibling: u32,
    offset: u32,
}

#[derive(Debug)]
struct Attr {
    name: Span,
    value: Span,
}

/// A node of a [`Doc`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NodeId(u32);

/// A parsed document: the arena and its string storage.
#[derive(Debug)]
pub(crate) struct Doc<'a> {
    src: &'a str,
    nodes: Vec<Node>,
    attrs: Vec<Attr>,
    strings: String,
    namespaces: Vec<String>,
}

impl<'a> Doc<'a> {
    /// Parses `src` under `limits`.
    pub(crate) fn parse(src: &'a str, limits: &Limits) -> Result<Self, DecodeError> {
        if src.len() > limits.max_bytes {
            return Err(DecodeError::TooLarge {
                size: src.len(),
                limit: limits.max_bytes,
            });
        }
        // Raw characters are checked once up front (a linear scan); references are checked as
        // they are resolved, below.
        if let Some((offset, c)) = src.char_indices().find(|&(_, c)| !is_xml_char(c)) {
            return Err(DecodeError::ForbiddenChar {
                code_point: u32::from(c),
                position: Position::at(src, offset),
            });
        }
        let mut doc = Doc {
            src,
            nodes: Vec::with_capacity(src.len() / 48 + 8),
            attrs: Vec::new(),
            strings: String::with_capacity(src.len() / 2),
            // index 0 is "no namespace"
            namespaces: vec![String::new()],
        };
        let mut reader = NsReader::from_str(src);
        let config = reader.config_mut();
        config.check_end_names = true;
        config.expand_empty_elements = false;
        config.trim_text(false);
        let mut stack: Vec<u32> = Vec::with_capacity(16);
        let mut seen_root = false;
        loop {
            let event_start = reader.buffer_position() as usize;
            let event = reader.read_event().map_err(|e| DecodeError::Xml {
                position: Position::at(src, reader.error_position() as usize),
                message: e.to_string(),
            })?;
            match event {
                Event::Start(start) | Event::Empty(start) if stack.len() >= limits.max_depth => {
                    let _ = start;
                    return Err(DecodeError::TooDeep {
                        limit: limits.max_depth,
                        position: Position::at(src, event_start),
                    });
                }
                Event::Start(start) => {
                    if stack.is_empty() && seen_root {
                        return Err(doc.xml_error(event_start, "more than one root element"));
                    }
                    seen_root = true;
                    let id =
                        doc.push_element(&reader, &start, stack.last().copied(), event_start)?;
                    stack.push(id);
                }
                Event::Empty(start) => {
                    if stack.is_empty() && seen_root {
                        return Err(doc.xml_error(event_start, "more than one root element"));
                    }
                    seen_root = true;
                    doc.push_element(&reader, &start, stack.last().copied(), event_start)?;
                }
                Event::End(_) => {
                    stack.pop();
                }
                Event::Text(text) => match stack.last() {
                    Some(&id) => doc.append_text(id, &text.xml10_content()),
                    None if text.trim_ascii().is_empty() => {}
                    None => return Err(doc.xml_error(event_start, "text outside the root element")),
                },
                Event::CData(cdata) => {
                    let Some(&id) = stack.last() else {
                        return Err(doc.xml_error(event_start, "CDATA outside the root element"));
                    };
                    doc.append_text(id, &cdata.xml10_content());
                }
                Event::GeneralRef(reference) => {
                    let resolved: Cow<'_, str> = if reference.is_char_ref() {
                        Cow::Owned(
                            char_ref(&reference)
                                .map_err(|code_point| match code_point {
                                    Some(code_point) => DecodeError::ForbiddenChar {
                                        code_point,
                                        position: Position::at(src, event_start),
                                    },
                                    None => {
                                        doc.xml_error(event_start, "invalid character reference")
                                    }
                                })?
                                .to_string(),
                        )
                    } else {
                        match &*reference {
                            "lt" => Cow::Borrowed("<"),
                            "gt" => Cow::Borrowed(">"),
                            "amp" => Cow::Borrowed("&"),
                            "apos" => Cow::Borrowed("'"),
                            "quot" => Cow::Borrowed("\""),
                            other => {
                                return Err(doc.xml_error(
                                    event_start,
                                    &format!("unknown entity &{other}; (DTDs and custom entities are not accepted)"),
                                ));
                            }
                        }
                    };
                    if let Some(&id) = stack.last() {
                        doc.append_text(id, &resolved);
                    }
                }
                Event::DocType(_) => {
                    return Err(DecodeError::Dtd {
                        position: Position::at(src, event_start),
                    });
                }
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
                Event::Eof => break,
            }
        }
        if !stack.is_empty() {
            return Err(doc.xml_error(src.len(), "document ends before its elements are closed"));
        }
        if doc.nodes.is_empty() {
            return Err(doc.xml_error(src.len(), "no root element"));
        }
        Ok(doc)
    }

    fn xml_error(&self, offset: usize, message: &str) -> DecodeError {
        DecodeError::Xml {
            position: Position::at(self.src, offset),
            message: message.to_owned(),
        }
    }

    fn intern_ns(&mut self, ns: &str) -> u32 {
        match self.namespaces.iter().position(|n| n == ns) {
            Some(i) => i as u32,
            None => {
                self.namespaces.push(ns.to_owned());
                (self.namespaces.len() - 1) as u32
            }
        }
    }

    fn push_str(&mut self, s: &str) -> Span {
        let start = self.strings.len() as u32;
        self.strings.push_str(s);
        Span {
            start,
            end: self.strings.len() as u32,
        }
    }

    fn push_element(
        &mut self,
        reader: &NsReader<&[u8]>,
        start: &BytesStart<'_>,
        parent: Option<u32>,
        offset: usize,
    ) -> Result<u32, DecodeError> {
        let (ns, local) = reader.resolver().resolve_element(start.name());
        let ns = match ns {
            ResolveResult::Bound(ns) => self.intern_ns(ns.as_ref()),
            // An undeclared prefix is a CPE bug we tolerate: the local name still says what
            // the element is.
            ResolveResult::Unbound | ResolveResult::Unknown(_) => 0,
        };
        let name = self.push_str(local.as_ref());
        let attrs_start = self.attrs.len() as u32;
        for attr in start.attributes().with_checks(true) {
            let attr = attr.map_err(|e| self.xml_error(offset, &e.to_string()))?;
            let key = attr.key;
            if key.as_namespace_binding().is_some() {
                continue;
            }
            // Attributes are matched by local name only (xsi:type, soap-enc:arrayType): CPEs
            // bind those prefixes to all sorts of URIs, or not at all.
            let (_, alocal) = reader.resolver().resolve_attribute(key);
            let value = attr
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| self.xml_error(offset, &e.to_string()))?;
            // References in attribute values are resolved by quick-xml, so they are checked
            // here rather than in the event loop.
            if let Some(c) = value.chars().find(|&c| !is_xml_char(c)) {
                return Err(DecodeError::ForbiddenChar {
                    code_point: u32::from(c),
                    position: Position::at(self.src, offset),
                });
            }
            let name = self.push_str(alocal.as_ref());
            let value = self.push_str(&value);
            self.attrs.push(Attr { name, value });
        }
        let id = self.nodes.len() as u32;
        self.nodes.push(Node {
            name,
            ns,
            text: Span::EMPTY,
            attrs: (attrs_start, self.attrs.len() as u32),
            first_child: NONE,
            last_child: NONE,
            next_sibling: NONE,
            offset: offset as u32,
        });
        if let Some(p) = parent {
            let prev_last = self.nodes[p as usize].last_child;
            if prev_last == NONE {
                self.nodes[p as usize].first_child = id;
            } else {
                self.nodes[prev_last as usize].next_sibling = id;
            }
            self.nodes[p as usize].last_child = id;
        }
        Ok(id)
    }

    /// Text of a leaf arrives in pieces (text, references, CDATA) as consecutive events, so the
    /// pieces are contiguous in the string buffer and a span covers them all. Text of an element
    /// that already has child elements (mixed content) means nothing in CWMP and is dropped.
    fn append_text(&mut self, id: u32, piece: &str) {
        let len = self.strings.len() as u32;
        let node = &self.nodes[id as usize];
        if node.first_child != NONE {
            return;
        }
        let start = if node.text.start == node.text.end {
            len
        } else {
            node.text.start
        };
        self.strings.push_str(piece);
        let end = self.strings.len() as u32;
        self.nodes[id as usize].text = Span { start, end };
    }

    fn span(&self, s: Span) -> &str {
        &self.strings[s.start as usize..s.end as usize]
    }

    pub(crate) fn root(&self) -> NodeId {
        NodeId(0)
    }

    pub(crate) fn name(&self, n: NodeId) -> &str {
        self.span(self.nodes[n.0 as usize].name)
    }

    /// The element's namespace URI, `""` when unbound.
    pub(crate) fn namespace(&self, n: NodeId) -> &str {
        &self.namespaces[self.nodes[n.0 as usize].ns as usize]
    }

    /// All namespace URIs bound anywhere in the document, in order of first use.
    pub(crate) fn namespaces(&self) -> impl Iterator<Item = &str> {
        self.namespaces.iter().skip(1).map(String::as_str)
    }

    /// The element's text content, untrimmed.
    pub(crate) fn text(&self, n: NodeId) -> &str {
        self.span(self.nodes[n.0 as usize].text)
    }

    pub(crate) fn position(&self, n: NodeId) -> Position {
        Position::at(self.src, self.nodes[n.0 as usize].offset as usize)
    }

    /// The value of the attribute with this local name, whatever its prefix.
    pub(crate) fn attr(&self, n: NodeId, local: &str) -> Option<&str> {
        let (start, end) = self.nodes[n.0 as usize].attrs;
        self.attrs[start as usize..end as usize]
            .iter()
            .find(|a| self.span(a.name) == local)
            .map(|a| self.span(a.value))
    }

    pub(crate) fn children(&self, n: NodeId) -> Children<'_, 'a> {
        Children {
            doc: self,
            next: self.nodes[n.0 as usize].first_child,
        }
    }

    /// The first child element with this local name.
    pub(crate) fn child(&self, n: NodeId, local: &str) -> Option<NodeId> {
        self.children(n).find(|&c| self.name(c) == local)
    }

    pub(crate) fn first_child(&self, n: NodeId) -> Option<NodeId> {
        self.children(n).next()
    }
}

/// Iterator over child elements.
#[derive(Debug)]
pub(crate) struct Children<'d, 'a> {
    doc: &'d Doc<'a>,
    next: u32,
}

impl Iterator for Children<'_, '_> {
    type Item = NodeId;

    fn next(&mut self) -> Option<NodeId> {
        if self.next == NONE {
            return None;
        }
        let id = self.next;
        self.next = self.doc.nodes[id as usize].next_sibling;
        Some(NodeId(id))
    }
}

/// XML 1.0 §2.2 `Char`: `#x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] |
/// [#x10000-#x10FFFF]` (surrogates cannot occur in a Rust `char`).
pub(crate) fn is_xml_char(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Resolves the body of a character reference (`#65`, `#x1F600`). `Err(Some(cp))` is a
/// well-formed reference to a code point XML forbids, `Err(None)` a malformed one.
fn char_ref(reference: &str) -> Result<char, Option<u32>> {
    let body = reference.strip_prefix('#').ok_or(None)?;
    let (digits, radix) = match body.strip_prefix('x') {
        Some(hex) => (hex, 16),
        None => (body, 10),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(None);
    }
    // Leading zeros are allowed (`&#x0000;`), so the digits are trimmed before the width check.
    let code_point = u32::from_str_radix(digits, radix).map_err(|_| None)?;
    match char::from_u32(code_point) {
        Some(c) if is_xml_char(c) => Ok(c),
        _ => Err(Some(code_point)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Doc<'_>, DecodeError> {
        Doc::parse(s, &Limits::default())
    }

    #[test]
    fn joins_text_references_and_cdata() {
        let doc = parse("<a><b>x &amp; y &#65;<![CDATA[<z>]]></b><c>  </c></a>").unwrap();
        let b = doc.child(doc.root(), "b").unwrap();
        assert_eq!(doc.text(b), "x & y A<z>");
        let c = doc.child(doc.root(), "c").unwrap();
        assert_eq!(doc.text(c), "  ");
    }

    #[test]
    fn resolves_prefixes_and_default_namespaces() {
        let doc =
            parse(r#"<e:Envelope xmlns:e='urn:e' xmlns="urn:d"><Body e:x='1'/></e:Envelope>"#)
                .unwrap();
        assert_eq!(doc.name(doc.root()), "Envelope");
        assert_eq!(doc.namespace(doc.root()), "urn:e");
        let body = doc.first_child(doc.root()).unwrap();
        assert_eq!(doc.namespace(body), "urn:d");
        assert_eq!(doc.attr(body, "x"), Some("1"));
    }

    #[test]
    fn rejects_what_it_must() {
        assert!(matches!(
            parse("<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>"),
            Err(DecodeError::Dtd { .. })
        ));
        assert!(matches!(parse("<a>&x;</a>"), Err(DecodeError::Xml { .. })));
        assert!(matches!(parse("<a><b></a>"), Err(DecodeError::Xml { .. })));
        assert!(matches!(parse("<a/><b/>"), Err(DecodeError::Xml { .. })));
        assert!(matches!(parse(""), Err(DecodeError::Xml { .. })));
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert!(matches!(parse(&deep), Err(DecodeError::TooDeep { .. })));
        let limits = Limits {
            max_bytes: 10,
            max_depth: 64,
        };
        assert!(matches!(
            Doc::parse("<a>0123456789</a>", &limits),
            Err(DecodeError::TooLarge { .. })
        ));
    }

    #[test]
    fn characters_outside_xml_char_are_refused_raw_and_as_references() {
        for bad in [
            "<a>x\u{0}y</a>",
            "<a>\u{1b}[31m</a>",
            "<a>\u{FFFE}</a>",
            "<a>\u{FFFF}</a>",
            "<a>&#0;</a>",
            "<a>&#x0;</a>",
            "<a>&#x0000;</a>",
            "<a>&#x1;</a>",
            "<a>&#27;</a>",
            "<a>&#xD800;</a>",
            "<a>&#xFFFE;</a>",
            "<a b='&#x7;'/>",
            "<a b='\u{8}'/>",
            "<a><![CDATA[\u{0}]]></a>",
        ] {
            assert!(
                matches!(parse(bad), Err(DecodeError::ForbiddenChar { .. })),
                "{bad:?}: {:?}",
                parse(bad).map(|_| ())
            );
        }
        assert!(matches!(
            parse("<a>&#x110000;</a>"),
            Err(DecodeError::ForbiddenChar { .. })
        ));
        assert!(matches!(
            parse("<a>&#99999999999;</a>"),
            Err(DecodeError::Xml { .. })
        ));
        // Everything in Char is kept, at both ends of each range (a raw CR is normalised to
        // LF by XML's end-of-line handling).
        let doc = parse(
            "<a>\t\r\n &#x9;&#xD7FF;&#xE000;&#xFFFD;&#x10000;&#x10FFFF;\u{80}\u{9f}\u{7f}</a>",
        )
        .unwrap();
        assert_eq!(
            doc.text(doc.root()),
            "\t\n \t\u{D7FF}\u{E000}\u{FFFD}\u{10000}\u{10FFFF}\u{80}\u{9f}\u{7f}"
        );
    }

    #[test]
    fn positions_are_one_based_lines_and_columns() {
        assert_eq!(Position::at("ab\ncd", 4), Position { line: 2, column: 2 });
        assert_eq!(Position::at("é\né", 100), Position { line: 2, column: 2 });
    }
}
