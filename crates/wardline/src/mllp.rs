//! The MLLP listeners (`[hl7] listen`, and `tls_listen` over TLS, `mllp_tls.rs`): HL7 v2
//! messages from hospital systems over TCP, framed as HL7's Minimal Lower Layer Protocol
//! (`0x0B` message `0x1C 0x0D`). Each message is handed to
//! [`wardline_service::alarms::AlarmService::receive_hl7`] with the connection's address and,
//! over TLS, the SHA-256 of the client's certificate; it stores the message before it answers,
//! and the answer goes back on the same connection before the next message is read.
//!
//! - Both listeners share the connection limits below. A TLS handshake must finish within
//!   [`HANDSHAKE_TIMEOUT`] (or the idle time, if shorter); one that fails (under mutual TLS: no
//!   certificate, or one no listed CA issued) closes the connection before anything is read.
//!
//! - Bytes before a frame's `0x0B` are discarded; a `0x0B` inside a frame starts it again.
//! - A frame larger than `hl7.max_message_bytes` is answered `AR`/`CR` 207 "message too large"
//!   and its connection closed (what follows cannot be told from the rest of it).
//! - One message at a time per connection, answered in order; at most `hl7.max_connections`
//!   connections, `hl7.max_connections_per_address` from one address (more are closed at once);
//!   a connection that completes no message for `hl7.idle_timeout_secs` is closed, however many
//!   bytes it trickles (so a few slow connections cannot hold every slot).
//! - On shutdown, no new connection is taken and each connection closes once its current
//!   message is answered.
//! - Nothing here panics on input: the framer only counts bytes, and the service answers every
//!   message, readable or not.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use wardline_service::Services;
use wardline_service::config::Hl7Settings;

use crate::test_hooks::Hold;

/// Starts a frame.
const VT: u8 = 0x0B;
/// Ends a frame, followed by [`CR`].
const FS: u8 = 0x1C;
const CR: u8 = 0x0D;
/// How much of a frame too large is kept to answer it (its MSH).
const HEAD_BYTES: usize = 4096;
/// How long a stop waits for connections to answer the message they are on.
const STOP_GRACE: Duration = Duration::from_secs(10);
/// The longest a TLS handshake may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the framer found.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A whole message (without its framing).
    Message(Vec<u8>),
    /// A frame that grew beyond the limit: its first bytes.
    TooLarge(Vec<u8>),
}

/// Finds frames in the bytes a connection delivers, however they are split.
#[derive(Debug)]
pub struct Framer {
    max: usize,
    pending: Vec<u8>,
    body: Vec<u8>,
    in_frame: bool,
    after_fs: bool,
}

impl Framer {
    /// A framer taking messages of at most `max` bytes.
    #[must_use]
    pub fn new(max: usize) -> Self {
        Self { max, pending: Vec::new(), body: Vec::new(), in_frame: false, after_fs: false }
    }

    /// Adds bytes read from the connection.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
    }

    /// The next frame in what was fed, if a whole one (or one too large) has arrived.
    pub fn next_frame(&mut self) -> Option<Frame> {
        let mut used = 0;
        let mut found = None;
        while let Some(&b) = self.pending.get(used) {
            if !self.in_frame {
                if b == VT {
                    self.in_frame = true;
                    self.body.clear();
                }
                used += 1;
                continue;
            }
            if self.after_fs {
                self.after_fs = false;
                if b == CR {
                    used += 1;
                    self.in_frame = false;
                    found = Some(Frame::Message(std::mem::take(&mut self.body)));
                    break;
                }
                // A lone 0x1C is part of the message; `b` is read again below.
                self.body.push(FS);
                continue;
            }
            used += 1;
            match b {
                VT => self.body.clear(),
                FS => self.after_fs = true,
                _ => self.body.push(b),
            }
            if self.body.len() > self.max {
                self.in_frame = false;
                let head = self.body.iter().take(HEAD_BYTES).copied().collect();
                self.body = Vec::new();
                found = Some(Frame::TooLarge(head));
                break;
            }
        }
        self.pending.drain(..used);
        found
    }
}

/// Binds the listener.
///
/// # Errors
/// The address cannot be listened on.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, String> {
    TcpListener::bind(addr).await.map_err(|e| format!("cannot listen for HL7 (hl7.listen) on {addr}: {e}"))
}

/// The connection limits the listeners share: `hl7.max_connections` in all,
/// `hl7.max_connections_per_address` from one address.
#[derive(Clone)]
pub struct Limits {
    slots: Arc<Semaphore>,
    per_address: Arc<std::sync::Mutex<HashMap<IpAddr, usize>>>,
}

impl Limits {
    /// The limits `settings` set.
    pub fn new(settings: &Hl7Settings) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(settings.max_connections.max(1))),
            per_address: Arc::new(std::sync::Mutex::new(HashMap::new())),
        }
    }
}

/// Serves MLLP on `listener` (over TLS with `tls`) until `stop` turns `true`, then waits for
/// connections to finish the message they are on.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    limits: Limits,
    services: Services,
    hold: Hold,
    mut stop: watch::Receiver<bool>,
) {
    let settings = services.config.hl7.clone();
    let Limits { slots, per_address } = limits;
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            a = listener.accept() => a,
        };
        // Finished connections are collected as new ones come.
        while connections.try_join_next().is_some() {}
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "an hl7 connection could not be accepted");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::warn!(peer = %peer.ip(), "an hl7 connection was closed: hl7.max_connections are open");
            drop(stream);
            continue;
        };
        let Some(from) = AddressSlot::take(&per_address, peer.ip(), settings.max_connections_per_address.max(1)) else {
            tracing::warn!(peer = %peer.ip(), "an hl7 connection was closed: hl7.max_connections_per_address are open");
            drop(stream);
            continue;
        };
        let (services, stop, hold, tls) = (services.clone(), stop.clone(), hold.clone(), tls.clone());
        connections.spawn(async move {
            match tls {
                None => connection(stream, peer, None, &services, &hold, stop).await,
                Some(acceptor) => {
                    let idle = Duration::from_secs(services.config.hl7.idle_timeout_secs.max(1));
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT.min(idle), acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let cert = crate::mllp_tls::client_cert_sha256(tls.get_ref().1);
                            connection(tls, peer, cert, &services, &hold, stop).await;
                        }
                        Ok(Err(e)) => {
                            tracing::info!(peer = %peer.ip(), error = %e, "an hl7 TLS handshake failed");
                        }
                        Err(_) => tracing::info!(peer = %peer.ip(), "an hl7 TLS handshake timed out"),
                    }
                }
            }
            drop(from);
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(STOP_GRACE, async { while connections.join_next().await.is_some() {} }).await.is_err() {
        tracing::warn!("hl7 connections still answering at shutdown were closed");
        connections.abort_all();
    }
}

/// One connection's place in its address's count, given back when it closes.
struct AddressSlot {
    counts: Arc<std::sync::Mutex<HashMap<IpAddr, usize>>>,
    ip: IpAddr,
}

impl AddressSlot {
    /// A place for one more connection from `ip`, if it has fewer than `most` open.
    fn take(counts: &Arc<std::sync::Mutex<HashMap<IpAddr, usize>>>, ip: IpAddr, most: usize) -> Option<Self> {
        let mut c = counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = c.entry(ip).or_insert(0);
        if *n >= most {
            return None;
        }
        *n += 1;
        Some(Self { counts: Arc::clone(counts), ip })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut c = self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = c.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                c.remove(&self.ip);
            }
        }
    }
}

/// Writes one framed answer.
async fn send<S: AsyncWrite + Unpin>(stream: &mut S, reply: &[u8], timeout: Duration) -> bool {
    let mut framed = Vec::with_capacity(reply.len() + 3);
    framed.push(VT);
    framed.extend_from_slice(reply);
    framed.extend_from_slice(&[FS, CR]);
    let write = async {
        stream.write_all(&framed).await?;
        stream.flush().await
    };
    matches!(tokio::time::timeout(timeout, write).await, Ok(Ok(())))
}

/// Closes a connection whose answer was just written without losing it: the write side is
/// shut (the answer goes first), and what the sender still sends is read and dropped for a
/// moment, so the close does not reset the connection before the answer is read.
async fn close_after_answer<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) {
    let _ = stream.shutdown().await;
    let mut sink = [0u8; 16 * 1024];
    let drain = async { while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {} };
    let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
}

/// One connection: each message answered in turn, until the sender closes it, it idles, a
/// frame is too large, or the server stops.
async fn connection<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    peer: SocketAddr,
    client_cert: Option<[u8; 32]>,
    services: &Services,
    hold: &Hold,
    mut stop: watch::Receiver<bool>,
) {
    let settings = &services.config.hl7;
    let idle = Duration::from_secs(settings.idle_timeout_secs.max(1));
    let mut framer = Framer::new(settings.max_message_bytes);
    let mut buf = vec![0u8; 16 * 1024];
    // Closed if no message is completed by then: trickled bytes do not keep it open.
    let mut deadline = tokio::time::Instant::now() + idle;
    loop {
        while let Some(frame) = framer.next_frame() {
            match frame {
                Frame::Message(bytes) => {
                    let reply = services
                        .alarms
                        .receive_hl7(peer.ip(), client_cert.as_ref(), &bytes, &settings.application)
                        .await;
                    hold.before_ack().await;
                    if let Some(reply) = reply
                        && !send(&mut stream, &reply, idle).await
                    {
                        return;
                    }
                    deadline = tokio::time::Instant::now() + idle;
                }
                Frame::TooLarge(head) => {
                    tracing::warn!(peer = %peer.ip(), "an hl7 message larger than hl7.max_message_bytes was refused");
                    let reply = services.alarms.hl7_too_large(peer.ip(), &head, &settings.application);
                    if send(&mut stream, &reply, idle).await {
                        close_after_answer(&mut stream).await;
                    }
                    return;
                }
            }
        }
        if *stop.borrow() {
            return;
        }
        let read = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            r = tokio::time::timeout_at(deadline, stream.read(&mut buf)) => r,
        };
        match read {
            Ok(Ok(n)) if n > 0 => framer.feed(buf.get(..n).unwrap_or_default()),
            Ok(Ok(_)) => return,
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "an hl7 connection failed");
                return;
            }
            Err(_) => {
                tracing::debug!(peer = %peer.ip(), "an idle hl7 connection was closed");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(max: usize, chunks: &[&[u8]]) -> Vec<Frame> {
        let mut f = Framer::new(max);
        let mut out = Vec::new();
        for c in chunks {
            f.feed(c);
            while let Some(frame) = f.next_frame() {
                out.push(frame);
            }
        }
        out
    }

    fn msg(s: &str) -> Frame {
        Frame::Message(s.as_bytes().to_vec())
    }

    #[test]
    fn frames_are_found_however_the_bytes_arrive() {
        assert_eq!(frames(100, &[b"\x0bMSH|a\r\x1c\r"]), [msg("MSH|a\r")]);
        assert_eq!(frames(100, &[b"junk\xff\x00\x0bMSH|a\x1c\r"]), [msg("MSH|a")], "bytes before VT discarded");
        assert_eq!(frames(100, &[b"\x0bMS", b"H|a\x1c", b"\r"]), [msg("MSH|a")], "split over reads");
        assert_eq!(frames(100, &[b"\x0bA\x1c\r\x0bB\x1c\r"]), [msg("A"), msg("B")], "two in one read");
        assert_eq!(frames(100, &[b"\x0bold\x0bnew\x1c\r"]), [msg("new")], "a VT inside a frame restarts it");
        assert_eq!(frames(100, &[b"\x0ba\x1cb\x1c\r"]), [msg("a\x1cb")], "a lone FS is content");
        assert_eq!(frames(100, &[b"\x0bnever ends"]), [], "an unfinished frame waits");
        assert_eq!(frames(100, &[b"\x1c\r\x1c\r"]), [], "ends without a start are discarded");
    }

    #[test]
    fn a_frame_over_the_limit_is_reported_with_its_head_and_nothing_after_it_is_read() {
        let big = [b"\x0bMSH|".as_slice(), &[b'x'; 20], b"\x1c\r\x0bnext\x1c\r"].concat();
        let got = frames(10, &[&big]);
        assert_eq!(got.len(), 2, "{got:?}");
        match got.first() {
            Some(Frame::TooLarge(head)) => assert!(head.starts_with(b"MSH|") && head.len() == 11),
            other => panic!("{other:?}"),
        }
        // The listener closes the connection after a frame too large; the framer itself stays
        // usable and never holds more than the limit in a body.
        let mut f = Framer::new(10);
        f.feed(&[b'x'; 1000]);
        assert_eq!(f.next_frame(), None);
        assert!(f.pending.is_empty() && f.body.is_empty(), "bytes outside frames are not kept");
    }
}
