//! How pushes leave the server: one `POST` through an HTTP client that never follows a redirect
//! (a listed host could otherwise send the push on to any address), with timeouts, reading at
//! most [`MAX_ANSWER`] bytes of the answer. Tests put a fake in its place.

use std::time::Duration;

use async_trait::async_trait;

/// The most of an answer read (a gateway's `{"rejected": [...]}`).
const MAX_ANSWER: usize = 64 * 1024;
/// The longest wait to connect to a gateway or push service.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(4);
/// The longest one request may take, connecting and reading the answer included: inside the
/// delivery's limit on an attempt, itself well inside a claim's lease.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(8);
const _: () = assert!(REQUEST_TIMEOUT.as_millis() < super::delivery::ATTEMPT_TIMEOUT.as_millis());

/// A push service's or gateway's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The body (at most [`MAX_ANSWER`] bytes).
    pub body: Vec<u8>,
}

/// Sends one push.
#[async_trait]
pub trait PushTransport: Send + Sync + std::fmt::Debug {
    /// `POST`s `body` to `url` with `headers`; `Err` (what went wrong, for the log) when no
    /// answer came (refused, timed out).
    async fn post(&self, url: &str, headers: Vec<(&'static str, String)>, body: Vec<u8>) -> Result<Answer, String>;
}

/// The real one: reqwest over rustls.
#[derive(Debug, Clone)]
pub struct HttpTransport {
    client: reqwest::Client,
}

impl HttpTransport {
    /// A client with a [`CONNECT_TIMEOUT`] and a [`REQUEST_TIMEOUT`] overall, following no
    /// redirects.
    ///
    /// # Errors
    /// The TLS configuration could not be built.
    pub fn new() -> Result<Self, crate::ServiceError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("Wardline/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| crate::ServiceError::Internal(format!("push client: {e}")))?;
        Ok(Self { client })
    }
}

#[async_trait]
impl PushTransport for HttpTransport {
    async fn post(&self, url: &str, headers: Vec<(&'static str, String)>, body: Vec<u8>) -> Result<Answer, String> {
        let mut req = self.client.post(url).body(body);
        for (name, value) in headers {
            req = req.header(name, value);
        }
        let mut resp = req.send().await.map_err(|e| without_url(&e))?;
        let status = resp.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| without_url(&e))? {
            body.extend_from_slice(&chunk);
            if body.len() >= MAX_ANSWER {
                body.truncate(MAX_ANSWER);
                break;
            }
        }
        Ok(Answer { status, body })
    }
}

/// The error without its URL (a push endpoint carries the subscription's token).
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    format!("{kind}: {}", e.without_url_ref())
}

trait WithoutUrl {
    fn without_url_ref(&self) -> String;
}

impl WithoutUrl for reqwest::Error {
    fn without_url_ref(&self) -> String {
        let mut s = self.to_string();
        if let Some(u) = self.url() {
            s = s.replace(u.as_str(), "<endpoint>");
        }
        s
    }
}
