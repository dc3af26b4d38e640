//! Hardened XML reading: [`SafeReader`], the one place the XML safety policy lives, and the
//! small arena tree the CWMP decoder reads envelopes from.
//!
//! [`SafeReader`] is public so that every other XML the system reads from outside (Cisco
//! flat-profile templates in acs-core, flat-profile files in the CPE simulator) gets the same
//! policy as a CWMP envelope instead of a hand-rolled copy of it.
//!
//! The envelope tree is read through a [`SafeReader`] (quick-xml's namespace-aware pull parser
//! underneath) into an arena (`Vec` of nodes, one shared string buffer), then the decoder walks
//! it by local name. Working on local names is what makes the reader indifferent to prefixes
//! (`soap`, `SOAP-ENV`, `soapenv`, default namespaces) while the resolved namespace stays
//! available where it matters (the cwmp version).
//!
//! Architecture invariant: nothing here expands a DTD or an external entity. A `<!DOCTYPE` is an
//! error, entity references other than the five predefined ones and character references are
//! errors, nesting depth and input size are capped before any allocation grows with them.
//!
//! Architecture invariant: every character of the result is an XML 1.0 `Char` (§2.2). A raw
//! U+0000 or `&#1;` is refused here, so no backend ever receives a control character that
//! PostgreSQL cannot store or that one backend keeps and another rejects.

use quick_xml::events::{BytesEnd, BytesStart, Event};
use quick_xml::name::{NamespaceResolver, QName, ResolveResult};
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
    /// Locates a byte offset in `src` (clamped to its length). Computed on error paths only.
    pub fn at(src: &str, offset: usize) -> Self {
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

/// Why [`SafeReader`] refused a document. Every variant says where, except the size check,
/// which happens before reading.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    /// Over [`Limits::max_bytes`].
    #[error("document is {size} bytes, over the {limit}-byte limit")]
    TooLarge {
        /// Size of the input.
        size: usize,
        /// The cap.
        limit: usize,
    },
    /// Over [`Limits::max_depth`].
    #[error("XML nested deeper than {limit} levels at {position}")]
    TooDeep {
        /// The cap.
        limit: usize,
        /// Where.
        position: Position,
    },
    /// A `<!DOCTYPE`: refused, never expanded.
    #[error("DOCTYPE declarations are not accepted (at {position})")]
    Dtd {
        /// Where.
        position: Position,
    },
    /// A character XML 1.0 forbids (`Char`, §2.2), raw or as a character reference.
    #[error("character U+{code_point:04X} is not allowed in XML 1.0 (at {position})")]
    ForbiddenChar {
        /// The code point.
        code_point: u32,
        /// Where.
        position: Position,
    },
    /// Not well-formed XML, or an entity other than the five predefined ones.
    #[error("malformed XML at {position}: {message}")]
    Malformed {
        /// Where.
        position: Position,
        /// What is wrong.
        message: String,
    },
}

impl From<XmlError> for DecodeError {
    fn from(e: XmlError) -> Self {
        match e {
            XmlError::TooLarge { size, limit } => DecodeError::TooLarge { size, limit },
            XmlError::TooDeep { limit, position } => DecodeError::TooDeep { limit, position },
            XmlError::Dtd { position } => DecodeError::Dtd { position },
            XmlError::ForbiddenChar {
                code_point,
                position,
            } => DecodeError::ForbiddenChar {
                code_point,
                position,
            },
            XmlError::Malformed { position, message } => DecodeError::Xml { position, message },
        }
    }
}

/// What a [`SafeReader`] yields: the events of a well-formed document, with everything that
/// could expand, smuggle or mislead already refused or resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SafeEvent<'a> {
    /// `<a …>`. Its attributes are well-formed; read them with [`SafeReader::attributes`].
    Start(BytesStart<'a>),
    /// `<a …/>`.
    Empty(BytesStart<'a>),
    /// `</a>`, always matching the open element.
    End(BytesEnd<'a>),
    /// Character data inside the root element: text (line ends normalised), CDATA content or
    /// a resolved predefined entity or character reference. One run of text may arrive as
    /// several consecutive pieces.
    Text(Cow<'a, str>),
    /// The end of a complete document: one root element, every element closed.
    Eof,
}

/// A pull XML reader with the codec's safety policy, for any XML that comes from outside.
///
/// - The input must fit [`Limits::max_bytes`] and hold only XML 1.0 `Char`s; character
///   references are checked too.
/// - A `<!DOCTYPE` is an error, never read, so no DTD, internal or external, is ever expanded;
///   only `&lt; &gt; &amp; &apos; &quot;` and character references are resolved, any other
///   entity is an error.
/// - Elements nest at most [`Limits::max_depth`] deep; end tags must match; attributes must be
///   well-formed and unique.
/// - The document has exactly one root element; only white space, comments, processing
///   instructions and the XML declaration may surround it.
///
/// Comments, processing instructions and the declaration are skipped. Namespace prefixes are
/// tracked (quick-xml's `NsReader`), so the codec can resolve them; other callers can ignore
/// them. After an error, stop reading: the reader's state is unspecified.
#[derive(Debug)]
pub struct SafeReader<'a> {
    src: &'a str,
    reader: NsReader<&'a [u8]>,
    max_depth: usize,
    depth: usize,
    seen_root: bool,
    event_offset: usize,
}

impl<'a> SafeReader<'a> {
    /// Checks size and characters of `src` and prepares to read it under `limits`.
    pub fn new(src: &'a str, limits: &Limits) -> Result<Self, XmlError> {
        if src.len() > limits.max_bytes {
            return Err(XmlError::TooLarge {
                size: src.len(),
                limit: limits.max_bytes,
            });
        }
        // Raw characters are checked once up front (a linear scan); references are checked as
        // they are resolved.
        if let Some((offset, c)) = src.char_indices().find(|&(_, c)| !is_xml_char(c)) {
            return Err(XmlError::ForbiddenChar {
                code_point: u32::from(c),
                position: Position::at(src, offset),
            });
        }
        let mut reader = NsReader::from_str(src);
        let config = reader.config_mut();
        config.check_end_names = true;
        config.expand_empty_elements = false;
        config.trim_text(false);
        Ok(SafeReader {
            src,
            reader,
            max_depth: limits.max_depth,
            depth: 0,
            seen_root: false,
            event_offset: 0,
        })
    }

    /// The next event (see [`SafeEvent`]). After [`SafeEvent::Eof`] or an error, stop.
    pub fn read_event(&mut self) -> Result<SafeEvent<'a>, XmlError> {
        loop {
            self.event_offset = self.reader.buffer_position() as usize;
            let event = self.reader.read_event().map_err(|e| XmlError::Malformed {
                position: Position::at(self.src, self.reader.error_position() as usize),
                message: e.to_string(),
            })?;
            match event {
                Event::Start(_) | Event::Empty(_) if self.depth >= self.max_depth => {
                    return Err(XmlError::TooDeep {
                        limit: self.max_depth,
                        position: self.position(),
                    });
                }
                Event::Start(start) => {
                    self.element(&start)?;
                    self.depth += 1;
                    return Ok(SafeEvent::Start(start));
                }
                Event::Empty(start) => {
                    self.element(&start)?;
                    return Ok(SafeEvent::Empty(start));
                }
                Event::End(end) => {
                    // check_end_names has already refused an end tag with nothing open.
                    self.depth = self.depth.saturating_sub(1);
                    return Ok(SafeEvent::End(end));
                }
                Event::Text(text) if self.depth == 0 => {
                    if !text.trim_ascii().is_empty() {
                        return Err(self.malformed("text outside the root element"));
                    }
                }
                Event::Text(text) => return Ok(SafeEvent::Text(text.xml10_content())),
                Event::CData(_) if self.depth == 0 => {
                    return Err(self.malformed("CDATA outside the root element"));
                }
                Event::CData(cdata) => return Ok(SafeEvent::Text(cdata.xml10_content())),
                Event::GeneralRef(_) if self.depth == 0 => {
                    return Err(self.malformed("a reference outside the root element"));
                }
                Event::GeneralRef(reference) => {
                    let resolved = if reference.is_char_ref() {
                        let c = char_ref(&reference).map_err(|code_point| match code_point {
                            Some(code_point) => XmlError::ForbiddenChar {
                                code_point,
                                position: self.position(),
                            },
                            None => self.malformed("invalid character reference"),
                        })?;
                        Cow::Owned(c.to_string())
                    } else {
                        Cow::Borrowed(match &*reference {
                            "lt" => "<",
                            "gt" => ">",
                            "amp" => "&",
                            "apos" => "'",
                            "quot" => "\"",
                            other => {
                                return Err(self.malformed(&format!(
                                    "unknown entity &{other}; (DTDs and custom entities are not accepted)"
                                )));
                            }
                        })
                    };
                    return Ok(SafeEvent::Text(resolved));
                }
                Event::DocType(_) => {
                    return Err(XmlError::Dtd {
                        position: self.position(),
                    });
                }
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
                Event::Eof if self.depth > 0 => {
                    return Err(XmlError::Malformed {
                        position: Position::at(self.src, self.src.len()),
                        message: "document ends before its elements are closed".into(),
                    });
                }
                Event::Eof if !self.seen_root => {
                    return Err(XmlError::Malformed {
                        position: Position::at(self.src, self.src.len()),
                        message: "no root element".into(),
                    });
                }
                Event::Eof => return Ok(SafeEvent::Eof),
            }
        }
    }

    /// The attributes of an element this reader returned, in document order (namespace
    /// declarations included): each name with its value, references resolved and white space
    /// normalised (XML 1.0 §3.3.3), every character checked.
    pub fn attributes<'e>(
        &self,
        start: &'e BytesStart<'_>,
    ) -> impl Iterator<Item = Result<(QName<'e>, Cow<'e, str>), XmlError>> {
        let mut attrs = start.attributes();
        attrs.with_checks(true);
        attrs.map(move |attr| {
            let attr = attr.map_err(|e| self.attribute_error(start, &e.to_string()))?;
            let value = attr
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| self.attribute_error(start, &e.to_string()))?;
            // References in attribute values are resolved by quick-xml, so they are checked
            // here rather than in the event loop.
            if let Some(c) = value.chars().find(|&c| !is_xml_char(c)) {
                return Err(XmlError::ForbiddenChar {
                    code_point: u32::from(c),
                    position: self.position(),
                });
            }
            Ok((attr.key, value))
        })
    }

    /// Where the last event returned starts, as a byte offset into the input.
    pub fn event_offset(&self) -> usize {
        self.event_offset
    }

    /// Where the last event returned starts, as line and column.
    pub fn position(&self) -> Position {
        Position::at(self.src, self.event_offset)
    }

    /// How many elements are open after the last event returned.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// The namespace bindings in scope, for resolving the names of the last element returned.
    pub(crate) fn resolver(&self) -> &NamespaceResolver {
        self.reader.resolver()
    }

    /// One root only; attributes well-formed. Values are normalised and checked only when they
    /// hold a reference: raw characters passed the scan in [`SafeReader::new`], and
    /// normalisation alone only turns white space into spaces.
    fn element(&mut self, start: &BytesStart<'_>) -> Result<(), XmlError> {
        if self.depth == 0 {
            if self.seen_root {
                return Err(self.malformed("more than one root element"));
            }
            self.seen_root = true;
        }
        for attr in start.attributes().with_checks(true) {
            let attr = attr.map_err(|e| self.attribute_error(start, &e.to_string()))?;
            if attr.value.contains('&') {
                let value = attr
                    .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .map_err(|e| self.attribute_error(start, &e.to_string()))?;
                if let Some(c) = value.chars().find(|&c| !is_xml_char(c)) {
                    return Err(XmlError::ForbiddenChar {
                        code_point: u32::from(c),
                        position: self.position(),
                    });
                }
            }
        }
        Ok(())
    }

    fn malformed(&self, message: &str) -> XmlError {
        XmlError::Malformed {
            position: self.position(),
            message: message.to_owned(),
        }
    }

    fn attribute_error(&self, start: &BytesStart<'_>, message: &str) -> XmlError {
        let name = start.name();
        let name: &str = name.as_ref();
        self.malformed(&format!("<{name}>: {message}"))
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
    /// Parses `src` under `limits`, through a [`SafeReader`].
    pub(crate) fn parse(src: &'a str, limits: &Limits) -> Result<Self, DecodeError> {
        let mut reader = SafeReader::new(src, limits)?;
        let mut doc = Doc {
            src,
            nodes: Vec::with_capacity(src.len() / 48 + 8),
            attrs: Vec::new(),
            strings: String::with_capacity(src.len() / 2),
            // index 0 is "no namespace"
            namespaces: vec![String::new()],
        };
        let mut stack: Vec<u32> = Vec::with_capacity(16);
        loop {
            match reader.read_event()? {
                SafeEvent::Start(start) => {
                    let id = doc.push_element(&reader, &start, stack.last().copied())?;
                    stack.push(id);
                }
                SafeEvent::Empty(start) => {
                    doc.push_element(&reader, &start, stack.last().copied())?;
                }
                SafeEvent::End(_) => {
                    stack.pop();
                }
                SafeEvent::Text(text) => {
                    // The reader yields text only inside the root element.
                    if let Some(&id) = stack.last() {
                        doc.append_text(id, &text);
                    }
                }
                SafeEvent::Eof => break,
            }
        }
        Ok(doc)
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
        reader: &SafeReader<'a>,
        start: &BytesStart<'_>,
        parent: Option<u32>,
    ) -> Result<u32, DecodeError> {
        let offset = reader.event_offset();
        let (ns, local) = reader.resolver().resolve_element(start.name());
        let ns = match ns {
            ResolveResult::Bound(ns) => self.intern_ns(ns.as_ref()),
            // An undeclared prefix is a CPE bug we tolerate: the local name still says what
            // the element is.
            ResolveResult::Unbound | ResolveResult::Unknown(_) => 0,
        };
        let name = self.push_str(local.as_ref());
        let attrs_start = self.attrs.len() as u32;
        for attr in reader.attributes(start) {
            let (key, value) = attr?;
            if key.as_namespace_binding().is_some() {
                continue;
            }
            // Attributes are matched by local name only (xsi:type, soap-enc:arrayType): CPEs
            // bind those prefixes to all sorts of URIs, or not at all.
            let (_, alocal) = reader.resolver().resolve_attribute(key);
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

    fn events(src: &str) -> Result<Vec<String>, XmlError> {
        let mut reader = SafeReader::new(src, &Limits::default())?;
        let mut out = Vec::new();
        loop {
            let event = reader.read_event()?;
            out.push(match event {
                SafeEvent::Start(s) => {
                    let attrs = reader
                        .attributes(&s)
                        .map(|a| a.map(|(k, v)| format!(" {}={v}", k.as_ref() as &str)))
                        .collect::<Result<String, _>>()?;
                    format!("<{}{attrs}>@{}", s.name().as_ref() as &str, reader.depth())
                }
                SafeEvent::Empty(s) => {
                    format!("<{}/>@{}", s.name().as_ref() as &str, reader.depth())
                }
                SafeEvent::End(e) => format!("</{}>@{}", e.name().as_ref() as &str, reader.depth()),
                SafeEvent::Text(t) => format!("{t:?}"),
                SafeEvent::Eof => break,
            });
        }
        Ok(out)
    }

    #[test]
    fn safe_reader_yields_a_checked_document() {
        assert_eq!(
            events(
                "<?xml version='1.0'?>\n<!-- c --><a x='1 &amp;\t2'>t&lt;<![CDATA[&x;]]>&#65;<b/></a>\n"
            )
            .unwrap(),
            [
                "<a x=1 & 2>@1",
                "\"t\"",
                "\"<\"",
                "\"&x;\"",
                "\"A\"",
                "<b/>@1",
                "</a>@0",
            ]
        );
    }

    #[test]
    fn safe_reader_refuses_what_the_codec_refuses() {
        let malformed = |src: &str, want: &str| match events(src) {
            Err(XmlError::Malformed { message, .. }) => {
                assert!(message.contains(want), "{src}: {message}")
            }
            other => panic!("{src}: {other:?}"),
        };
        malformed("", "no root element");
        malformed("<a/><b/>", "more than one root element");
        malformed("x<a/>", "text outside the root element");
        malformed("<a/>&amp;", "a reference outside the root element");
        malformed("<a/><![CDATA[x]]>", "CDATA outside the root element");
        malformed("<a>", "ends before its elements are closed");
        malformed("<a>&nbsp;</a>", "unknown entity &nbsp;");
        malformed("<a x='1' x='2'/>", "<a>:");
        malformed("<a x='&y;'/>", "<a>:");
        assert!(matches!(
            events("<!DOCTYPE a SYSTEM 'file:///etc/passwd'><a/>"),
            Err(XmlError::Dtd { .. })
        ));
        assert!(matches!(
            events("<a x='&#1;'/>"),
            Err(XmlError::ForbiddenChar { code_point: 1, .. })
        ));
        let shallow = Limits {
            max_bytes: 100,
            max_depth: 2,
        };
        let read_all = |src: &str, limits: &Limits| -> Result<(), XmlError> {
            let mut reader = SafeReader::new(src, limits)?;
            while reader.read_event()? != SafeEvent::Eof {}
            Ok(())
        };
        assert!(read_all("<a><b/></a>", &shallow).is_ok());
        assert!(matches!(
            read_all("<a><b><c/></b></a>", &shallow),
            Err(XmlError::TooDeep { limit: 2, .. })
        ));
        assert!(matches!(
            read_all(&"x".repeat(101), &shallow),
            Err(XmlError::TooLarge {
                size: 101,
                limit: 100
            })
        ));
    }

    #[test]
    fn positions_are_one_based_lines_and_columns() {
        assert_eq!(Position::at("ab\ncd", 4), Position { line: 2, column: 2 });
        assert_eq!(Position::at("é\né", 100), Position { line: 2, column: 2 });
    }
}
