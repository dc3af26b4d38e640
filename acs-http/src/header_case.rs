//! Header names on the CWMP listener's wire exactly as strict CPE agents compare them.
//!
//! HTTP says header names are case-insensitive (RFC 9110 §5.1), but some deployed CPE agents
//! compare them byte for byte against the spelling of RFC 2617/7235: `WWW-Authenticate`,
//! `Set-Cookie`, `Content-Type`. actix-http writes lower case, or with the response head's
//! camel-case flag (set by `edge::note_responses`) `Www-Authenticate`, which such an agent never
//! recognises as a challenge, so it never authenticates. No actix setting spells the acronym, so
//! [`HeaderCaseIo`] sits between the socket (or TLS stream) and actix-http and fixes the one
//! spelling on the way out.
//!
//! Architecture invariant: only response *heads* are touched, never a body byte. The wrapper
//! follows HTTP/1.1 message framing (RFC 9112 §6: Content-Length, chunked, and the responses that
//! have no body: 1xx, 204, 304 and answers to HEAD, which it learns from [`ResponseNotes`]). Where
//! it cannot tell where a body ends (a body delimited by closing the connection, or a head too big
//! to be one of ours) it stops rewriting for the rest of the connection rather than guess.
//! Every rewrite keeps the length, so a partial write never leaves the count of bytes the caller
//! handed over out of step with what reached the socket.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bigger than any head this server writes; past it the wrapper stops parsing.
const MAX_HEAD: usize = 16 * 1024;

/// Which of a connection's responses answer a HEAD request, in the order they are written.
///
/// actix-http's HTTP/1 dispatcher answers one request at a time, in order, so the n-th note
/// belongs to the n-th final response on the wire. A response the dispatcher makes itself
/// (a malformed request, a timeout) carries no note and is treated as a GET; the dispatcher
/// closes the connection after those, so no later response is misread.
#[derive(Clone, Default)]
pub struct ResponseNotes(Arc<Mutex<VecDeque<bool>>>);

impl ResponseNotes {
    /// Records the next final response; `head` when it answers a HEAD request.
    pub fn push(&self, head: bool) {
        if let Ok(mut notes) = self.0.lock() {
            notes.push_back(head);
        }
    }

    fn drain_into(&self, pending: &mut VecDeque<bool>) {
        if let Ok(mut notes) = self.0.lock() {
            pending.extend(notes.drain(..));
        }
    }
}

/// Where the writer is in the response stream.
#[derive(Clone, Debug, PartialEq)]
enum Framing {
    /// Inside a response head: the head so far, and where its current line starts.
    Head { head: Vec<u8>, line_start: usize },
    /// Inside a body of known length: this many bytes remain.
    Body(u64),
    /// Chunked body: reading a chunk-size line (hex digits, then extensions until LF).
    ChunkSize {
        size: u64,
        digits: bool,
        in_ext: bool,
    },
    /// Inside chunk data: this many bytes remain, then CRLF.
    ChunkData(u64),
    /// The CRLF after chunk data.
    ChunkEnd,
    /// Trailer section after the last chunk; `line_len` bytes of the current line passed.
    Trailer { line_len: usize },
    /// Framing unknown: pass everything through unchanged.
    Raw,
}

impl Framing {
    fn head() -> Framing {
        Framing::Head {
            head: Vec::new(),
            line_start: 0,
        }
    }
}

/// Parses the framing of one response stream and says how to spell each byte.
#[derive(Clone)]
struct Writer {
    framing: Framing,
    /// Notes taken from the shared queue, not yet matched to a response on the wire. They are
    /// the writer's own so that a trial run (see `poll_write`) consumes only its copy.
    pending: VecDeque<bool>,
}

impl Writer {
    /// Advances over one byte and returns the byte to put on the wire in its place.
    fn step(&mut self, byte: u8) -> u8 {
        match &mut self.framing {
            Framing::Raw => byte,
            Framing::Body(remaining) => {
                *remaining -= 1;
                if *remaining == 0 {
                    self.framing = Framing::head();
                }
                byte
            }
            Framing::ChunkData(remaining) => {
                *remaining -= 1;
                if *remaining == 0 {
                    self.framing = Framing::ChunkEnd;
                }
                byte
            }
            Framing::ChunkEnd => {
                if byte == b'\n' {
                    self.framing = Framing::ChunkSize {
                        size: 0,
                        digits: false,
                        in_ext: false,
                    };
                }
                byte
            }
            Framing::ChunkSize {
                size,
                digits,
                in_ext,
            } => {
                if byte == b'\n' {
                    self.framing = match (*digits, *size) {
                        (false, _) => Framing::Raw,
                        (true, 0) => Framing::Trailer { line_len: 0 },
                        (true, n) => Framing::ChunkData(n),
                    };
                } else if !*in_ext {
                    match (byte as char).to_digit(16) {
                        Some(d) => match size.checked_mul(16) {
                            Some(s) => {
                                *size = s + u64::from(d);
                                *digits = true;
                            }
                            None => self.framing = Framing::Raw,
                        },
                        None => *in_ext = true,
                    }
                }
                byte
            }
            Framing::Trailer { line_len } => {
                if byte == b'\n' {
                    if *line_len == 0 {
                        self.framing = Framing::head();
                    } else {
                        *line_len = 0;
                    }
                } else if byte != b'\r' {
                    *line_len += 1;
                }
                byte
            }
            Framing::Head { head, line_start } => {
                let pos = head.len() - *line_start;
                let line = &head[*line_start..];
                // Only a header line (never the status line) whose name starts "Ww" or "Www":
                // among the names this server writes, that is WWW-Authenticate alone.
                let spelled = if *line_start > 0
                    && ((pos == 1 && line[0] == b'W' && byte == b'w')
                        || (pos == 2 && line[0] == b'W' && line[1] == b'W' && byte == b'w'))
                {
                    b'W'
                } else {
                    byte
                };
                head.push(spelled);
                if spelled == b'\n' {
                    let ended = head.len() - *line_start <= 2;
                    *line_start = head.len();
                    if ended {
                        let head = std::mem::take(head);
                        self.framing = self.framing_after(&head);
                    }
                } else if head.len() > MAX_HEAD {
                    self.framing = Framing::Raw;
                }
                spelled
            }
        }
    }

    /// What follows a complete response head (RFC 9112 §6.3).
    fn framing_after(&mut self, head: &[u8]) -> Framing {
        let text = String::from_utf8_lossy(head);
        let mut lines = text.split("\r\n");
        let status: Option<u16> = lines
            .next()
            .and_then(|line| line.split(' ').nth(1))
            .and_then(|code| code.parse().ok());
        let Some(status) = status else {
            return Framing::Raw;
        };
        if (100..200).contains(&status) {
            // An interim answer (100 Continue): the final response follows, and owns the note.
            return Framing::head();
        }
        let answers_head = self.pending.pop_front().unwrap_or(false);
        if answers_head || status == 204 || status == 304 {
            return Framing::head();
        }
        let mut length = None;
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("transfer-encoding") {
                if value.eq_ignore_ascii_case("chunked") {
                    return Framing::ChunkSize {
                        size: 0,
                        digits: false,
                        in_ext: false,
                    };
                }
                return Framing::Raw;
            }
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse::<u64>().ok();
                if length.is_none() {
                    return Framing::Raw;
                }
            }
        }
        match length {
            Some(0) => Framing::head(),
            Some(n) => Framing::Body(n),
            None => Framing::Raw,
        }
    }
}

/// A connection's byte stream with response header names spelled as strict CPEs expect.
pub struct HeaderCaseIo<T> {
    inner: T,
    notes: ResponseNotes,
    writer: Writer,
    scratch: Vec<u8>,
}

impl<T> HeaderCaseIo<T> {
    pub fn new(inner: T) -> HeaderCaseIo<T> {
        HeaderCaseIo {
            inner,
            notes: ResponseNotes::default(),
            writer: Writer {
                framing: Framing::head(),
                pending: VecDeque::new(),
            },
            scratch: Vec::new(),
        }
    }

    /// The notes the request side fills for this connection (see [`ResponseNotes`]).
    pub fn notes(&self) -> ResponseNotes {
        self.notes.clone()
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for HeaderCaseIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for HeaderCaseIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.writer.framing == Framing::Raw {
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        }
        // The notes for every response in `buf` are in by now: the request side notes a
        // response before actix-http encodes it.
        this.notes.drain_into(&mut this.writer.pending);
        // Spell a copy on a trial parser: the socket may take only part of it, and the real
        // parser must advance over exactly the bytes that went out.
        let mut trial = this.writer.clone();
        this.scratch.clear();
        this.scratch.extend(buf.iter().map(|&b| trial.step(b)));
        match Pin::new(&mut this.inner).poll_write(cx, &this.scratch) {
            Poll::Ready(Ok(written)) => {
                if written == buf.len() {
                    this.writer = trial;
                } else {
                    for &b in &buf[..written] {
                        this.writer.step(b);
                    }
                }
                Poll::Ready(Ok(written))
            }
            other => other,
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket that takes at most `cap` bytes per write, to put a split at every point.
    struct Trickle {
        cap: usize,
        wire: Vec<u8>,
    }

    impl AsyncWrite for Trickle {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let n = buf.len().min(self.cap);
            self.wire.extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// Writes `responses` (each with its HEAD note) in writes of at most `chunk` bytes through a
    /// socket taking at most `cap`, and returns what reached the wire.
    fn through(responses: &[(&[u8], bool)], chunk: usize, cap: usize) -> Vec<u8> {
        let mut io = HeaderCaseIo::new(Trickle {
            cap,
            wire: Vec::new(),
        });
        let notes = io.notes();
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        for (bytes, head) in responses {
            if bytes.starts_with(b"HTTP/1.1 1") {
                // Interim responses carry no note.
            } else {
                notes.push(*head);
            }
            for piece in bytes.chunks(chunk) {
                let mut rest = piece;
                while !rest.is_empty() {
                    match Pin::new(&mut io).poll_write(&mut cx, rest) {
                        Poll::Ready(Ok(n)) => rest = &rest[n..],
                        other => panic!("write failed: {other:?}"),
                    }
                }
            }
        }
        io.inner.wire
    }

    const CHALLENGE: &[u8] = b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 23\r\nWww-Authenticate: Digest realm=\"acs\"\r\nSet-Cookie: a=b\r\n\r\n\r\nWww-Authenticate: x\r\n";
    const HEAD_ANSWER: &[u8] =
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nContent-Type: text/plain\r\n\r\n";
    const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
    const CHUNKED: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n17\r\n\r\nWww-Authenticate: x\r\n\r\n0\r\n\r\n";
    const EMPTY: &[u8] = b"HTTP/1.1 204 No Content\r\nWww-Authenticate: Basic\r\n\r\n";

    fn spelled(bytes: &[u8]) -> Vec<u8> {
        String::from_utf8_lossy(bytes)
            .replacen("\r\nWww-Authenticate: D", "\r\nWWW-Authenticate: D", 1)
            .replacen("\r\nWww-Authenticate: B", "\r\nWWW-Authenticate: B", 1)
            .into_bytes()
    }

    #[test]
    fn only_heads_are_respelled_at_every_split_point() {
        let stream: [(&[u8], bool); 6] = [
            (CHALLENGE, false),
            (HEAD_ANSWER, true),
            (CONTINUE, false),
            (CHUNKED, false),
            (EMPTY, false),
            (CHALLENGE, false),
        ];
        let expected: Vec<u8> = stream.iter().flat_map(|(b, _)| spelled(b)).collect();
        let total: usize = stream.iter().map(|(b, _)| b.len()).sum();
        for chunk in [1, 2, 3, 7, 64, total] {
            for cap in 1..=total.min(80) {
                let wire = through(&stream, chunk, cap);
                assert_eq!(
                    String::from_utf8_lossy(&wire),
                    String::from_utf8_lossy(&expected),
                    "chunk {chunk}, cap {cap}"
                );
            }
        }
        // The body's look-alike line is untouched, the heads' lines are not.
        let wire = String::from_utf8(through(&stream, total, total)).unwrap();
        assert_eq!(wire.matches("\r\nWWW-Authenticate: ").count(), 3);
        assert_eq!(wire.matches("\r\nWww-Authenticate: x").count(), 3);
    }

    #[test]
    fn unframeable_responses_pass_through_unchanged() {
        let close_delimited: &[u8] = b"HTTP/1.1 200 OK\r\n\r\nbody\r\nWww-Authenticate: x\r\n\r\n";
        let wire = through(&[(close_delimited, false), (CHALLENGE, false)], 4096, 4096);
        let mut expected = close_delimited.to_vec();
        expected.extend_from_slice(CHALLENGE);
        assert_eq!(wire, expected);
    }

    #[test]
    fn request_bytes_pass_through_untouched() {
        let mut io = HeaderCaseIo::new(&b"POST / HTTP/1.1\r\nwww-authenticate: x\r\n\r\n"[..]);
        let mut out = Vec::new();
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        loop {
            let mut storage = [0u8; 8];
            let mut buf = ReadBuf::new(&mut storage);
            match Pin::new(&mut io).poll_read(&mut cx, &mut buf) {
                Poll::Ready(Ok(())) if buf.filled().is_empty() => break,
                Poll::Ready(Ok(())) => out.extend_from_slice(buf.filled()),
                other => panic!("read failed: {other:?}"),
            }
        }
        assert_eq!(out, b"POST / HTTP/1.1\r\nwww-authenticate: x\r\n\r\n");
    }
}
