//! The MLLP client the outbox sends HL7 v2 with (PCD-05 Report Alert Status): one message over
//! a fresh plain-TCP connection (no TLS), framed (`0x0B` message `0x1C 0x0D`), and the one
//! framed answer read back, at most [`MAX_ANSWER_BYTES`]. The whole exchange (name lookup,
//! connecting, writing, reading) ends by one deadline, `timeout` from the call; connecting
//! alone may take at most [`CONNECT_TIMEOUT`] of it. The caller has checked the address against
//! `hl7.status_addresses` first.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Starts a frame.
const VT: u8 = 0x0B;
/// Ends a frame, followed by [`CR`].
const FS: u8 = 0x1C;
const CR: u8 = 0x0D;
/// The longest connecting (name lookup included) may take, within the exchange's deadline.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The largest answer read (an acknowledgement is a few hundred bytes).
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Why an exchange failed (each worth trying again later).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MllpError {
    /// No connection could be made (refused, unreachable, not resolved, too slow).
    #[error("could not connect: {0}")]
    Connect(String),
    /// The connection failed, or closed, before a whole answer came back.
    #[error("no answer: {0}")]
    NoAnswer(String),
}

/// Sends `message` to `host:port` and returns the answer (without its framing).
///
/// # Errors
/// [`MllpError`]: no connection within [`CONNECT_TIMEOUT`] (or the deadline, if sooner), or no
/// whole answer by the deadline (`timeout` from the call, for the whole exchange).
pub async fn exchange(host: &str, port: u16, message: &[u8], timeout: Duration) -> Result<Vec<u8>, MllpError> {
    exchange_over(TcpStream::connect((host, port)), message, timeout).await
}

/// [`exchange`] over the stream `connect` makes.
async fn exchange_over<S, C>(connect: C, message: &[u8], timeout: Duration) -> Result<Vec<u8>, MllpError>
where
    C: std::future::Future<Output = std::io::Result<S>>,
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let deadline = tokio::time::Instant::now() + timeout;
    let connect_by = deadline.min(tokio::time::Instant::now() + CONNECT_TIMEOUT);
    let mut stream = tokio::time::timeout_at(connect_by, connect)
        .await
        .map_err(|_| MllpError::Connect("timed out".into()))?
        .map_err(|e| MllpError::Connect(e.kind().to_string()))?;
    match tokio::time::timeout_at(deadline, talk(&mut stream, message)).await {
        Ok(answer) => answer,
        Err(_) => Err(MllpError::NoAnswer(format!("none within {} ms", timeout.as_millis()))),
    }
}

/// Writes the framed message on `stream` and reads the framed answer.
async fn talk<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    stream: &mut S,
    message: &[u8],
) -> Result<Vec<u8>, MllpError> {
    let framed = [&[VT][..], message, &[FS, CR]].concat();
    stream.write_all(&framed).await.map_err(|e| MllpError::NoAnswer(e.kind().to_string()))?;
    stream.flush().await.map_err(|e| MllpError::NoAnswer(e.kind().to_string()))?;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await.map_err(|e| MllpError::NoAnswer(e.kind().to_string()))?;
        if n == 0 {
            return Err(MllpError::NoAnswer("the connection was closed".into()));
        }
        got.extend_from_slice(buf.get(..n).unwrap_or_default());
        if let Some(answer) = unframe(&got) {
            let _ = stream.shutdown().await;
            return Ok(answer);
        }
        if got.len() > MAX_ANSWER_BYTES {
            return Err(MllpError::NoAnswer(format!("the answer is over {MAX_ANSWER_BYTES} bytes")));
        }
    }
}

/// The first whole frame's content in `bytes`, if one has arrived (bytes before `0x0B` are
/// skipped).
fn unframe(bytes: &[u8]) -> Option<Vec<u8>> {
    let start = bytes.iter().position(|b| *b == VT)?.saturating_add(1);
    let body = bytes.get(start..)?;
    let end = body.windows(2).position(|w| w == [FS, CR])?;
    body.get(..end).map(<[u8]>::to_vec)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn an_answer_is_the_first_whole_frame() {
        assert_eq!(unframe(b"\x0bMSH|a\rMSA|CA|1\r\x1c\r"), Some(b"MSH|a\rMSA|CA|1\r".to_vec()));
        assert_eq!(unframe(b"noise\x0bA\x1c\r\x0bB\x1c\r"), Some(b"A".to_vec()));
        assert_eq!(unframe(b"\x0bA\x1c"), None, "not whole yet");
        assert_eq!(unframe(b"A\x1c\r"), None, "no start");
    }

    #[tokio::test]
    async fn a_message_goes_framed_and_the_answer_comes_back() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 64];
            while unframe(&got).is_none() {
                let n = s.read(&mut buf).await.unwrap();
                got.extend_from_slice(&buf[..n]);
            }
            // Split over two writes.
            s.write_all(b"\x0bMSH|x\rMSA|").await.unwrap();
            s.write_all(b"CA|1\r\x1c\r").await.unwrap();
            unframe(&got).unwrap()
        });
        let answer = exchange("127.0.0.1", port, b"MSH|y\r", Duration::from_secs(30)).await.unwrap();
        assert_eq!(answer, b"MSH|x\rMSA|CA|1\r");
        assert_eq!(server.await.unwrap(), b"MSH|y\r");
    }

    /// A connection made after `after`, to a reporter that takes the message and never
    /// answers (kept open while the test runs).
    async fn slow_connect(
        after: Duration,
        peer: &mut Option<tokio::io::DuplexStream>,
    ) -> std::io::Result<tokio::io::DuplexStream> {
        let (ours, theirs) = tokio::io::duplex(1024);
        *peer = Some(theirs);
        tokio::time::sleep(after).await;
        Ok(ours)
    }

    #[tokio::test(start_paused = true)]
    async fn the_whole_exchange_ends_by_one_deadline_and_connecting_by_three_seconds() {
        // (tokio's paused clock: it moves only when every task waits, so these times are exact.)
        // Connecting took 2 s of the 8: no answer 6 s later ends it, not 8 s later.
        let mut peer = None;
        let started = tokio::time::Instant::now();
        let e = exchange_over(slow_connect(Duration::from_secs(2), &mut peer), b"MSH|y\r", Duration::from_secs(8))
            .await
            .unwrap_err();
        assert!(matches!(e, MllpError::NoAnswer(_)), "{e:?}");
        assert_eq!(started.elapsed(), Duration::from_secs(8), "one deadline for the whole exchange");
        // Connecting longer than CONNECT_TIMEOUT: given up then.
        let mut peer = None;
        let started = tokio::time::Instant::now();
        let e = exchange_over(slow_connect(Duration::from_secs(5), &mut peer), b"MSH|y\r", Duration::from_secs(8))
            .await
            .unwrap_err();
        assert_eq!(e, MllpError::Connect("timed out".into()));
        assert_eq!(started.elapsed(), CONNECT_TIMEOUT);
        // A deadline shorter than CONNECT_TIMEOUT bounds connecting too.
        let mut peer = None;
        let started = tokio::time::Instant::now();
        let e = exchange_over(slow_connect(Duration::from_secs(5), &mut peer), b"MSH|y\r", Duration::from_secs(1))
            .await
            .unwrap_err();
        assert_eq!(e, MllpError::Connect("timed out".into()));
        assert_eq!(started.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test]
    async fn nobody_listening_or_a_close_without_an_answer_is_an_error_to_retry() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let e = exchange("127.0.0.1", port, b"MSH|y\r", Duration::from_secs(30)).await.unwrap_err();
        assert!(matches!(e, MllpError::Connect(_)), "{e:?}");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            drop(s);
        });
        let e = exchange("127.0.0.1", port, b"MSH|y\r", Duration::from_secs(30)).await.unwrap_err();
        assert!(matches!(e, MllpError::NoAnswer(_)), "{e:?}");
    }
}
