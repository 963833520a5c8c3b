//! Shipping each signed audit checkpoint to an HTTP collector (`audit.checkpoint_url`), so a copy
//! exists beyond the reach of whoever holds the data directory. Deliveries run on their own task:
//! the server never waits for the network. A refused or failed delivery is retried, in order,
//! waiting longer each time; failures are logged.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::sync::mpsc;
use wardline_types::audit::Checkpoint;

/// Checkpoints waiting while the collector is unreachable (a day of one a second). Beyond this
/// the oldest are dropped: each later checkpoint covers every record before it.
const MAX_PENDING: usize = 100_000;

/// Longest wait between attempts.
const MAX_DELAY: Duration = Duration::from_secs(60);

/// How often a continuing failure is logged again.
const REPEAT_LOG: Duration = Duration::from_secs(300);

/// Hands checkpoints to the delivery task.
#[derive(Clone, Debug)]
pub struct Shipper {
    tx: mpsc::UnboundedSender<Checkpoint>,
}

impl Shipper {
    /// A shipper whose checkpoints land in the returned receiver.
    #[cfg(test)]
    pub(crate) fn for_test() -> (Self, mpsc::UnboundedReceiver<Checkpoint>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self { tx }, rx)
    }

    /// Queues a checkpoint for delivery; returns at once.
    pub fn ship(&self, cp: &Checkpoint) {
        if self.tx.send(cp.clone()).is_err() {
            tracing::error!(target: "audit", seq = cp.seq, "checkpoint delivery has stopped; this checkpoint was not sent to audit.checkpoint_url");
        }
    }
}

/// Checks `url` and starts delivering to it. The task ends once every [`Shipper`] is dropped
/// and everything queued is delivered.
pub fn start(url: &str) -> Result<(Shipper, tokio::task::JoinHandle<()>), Box<dyn std::error::Error>> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("audit.checkpoint_url {url:?}: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("audit.checkpoint_url {url:?}: only http:// and https:// are supported").into());
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| format!("audit.checkpoint_url: {e}"))?;
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(deliver(client, parsed, rx));
    Ok((Shipper { tx }, task))
}

async fn post(client: &reqwest::Client, url: &reqwest::Url, cp: &Checkpoint) -> Result<(), String> {
    let resp = client.post(url.clone()).json(cp).send().await.map_err(|e| e.to_string())?;
    if resp.status().is_success() { Ok(()) } else { Err(format!("the collector answered {}", resp.status())) }
}

fn take_waiting(rx: &mut mpsc::UnboundedReceiver<Checkpoint>, pending: &mut VecDeque<Checkpoint>) {
    while let Ok(cp) = rx.try_recv() {
        pending.push_back(cp);
    }
    if pending.len() > MAX_PENDING {
        let dropped = pending.len() - MAX_PENDING;
        pending.drain(..dropped);
        tracing::error!(target: "audit", dropped, "too many audit checkpoints waiting for audit.checkpoint_url; dropped the oldest (later ones cover their records)");
    }
}

/// The collector's address as it may be logged: without the user name and password a URL can
/// carry (`https://user:pass@host/`), nor the query string (which can hold a token).
fn loggable(url: &reqwest::Url) -> String {
    let mut shown = url.clone();
    // Neither fails for an http(s) URL, the only kind `start` accepts.
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

async fn deliver(client: reqwest::Client, url: reqwest::Url, mut rx: mpsc::UnboundedReceiver<Checkpoint>) {
    let shown = loggable(&url);
    let mut pending = VecDeque::new();
    let mut delay = Duration::from_millis(500);
    let mut failing_since: Option<tokio::time::Instant> = None;
    let mut last_logged = tokio::time::Instant::now();
    loop {
        if pending.is_empty() {
            match rx.recv().await {
                Some(cp) => pending.push_back(cp),
                None => return,
            }
        }
        take_waiting(&mut rx, &mut pending);
        let Some(cp) = pending.front() else { continue };
        match post(&client, &url, cp).await {
            Ok(()) => {
                pending.pop_front();
                delay = Duration::from_millis(500);
                if failing_since.take().is_some() {
                    tracing::warn!(target: "audit", url = %shown, waiting = pending.len(), "audit checkpoints are being delivered to audit.checkpoint_url again");
                }
            }
            Err(e) => {
                let now = tokio::time::Instant::now();
                if failing_since.is_none() || now.duration_since(last_logged) >= REPEAT_LOG {
                    tracing::error!(target: "audit", url = %shown, error = %e, waiting = pending.len(), "cannot deliver audit checkpoints to audit.checkpoint_url; retrying (the log and the checkpoint files still have them)");
                    last_logged = now;
                }
                failing_since.get_or_insert(now);
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_DELAY);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    #[test]
    fn the_logged_address_has_no_credentials_and_no_query() {
        let url = reqwest::Url::parse("https://anchor:s3cret-pass@collector.example:8443/audit/in?token=tok-42#frag")
            .unwrap();
        let shown = super::loggable(&url);
        assert_eq!(shown, "https://collector.example:8443/audit/in");
        let plain = reqwest::Url::parse("http://127.0.0.1:9000/cp").unwrap();
        assert_eq!(super::loggable(&plain), "http://127.0.0.1:9000/cp");
    }

    use axum::extract::State;
    use axum::http::StatusCode;
    use wardline_service::audit::CheckpointKey;
    use wardline_types::Timestamp;

    use super::*;

    #[derive(Clone, Default)]
    struct Collector {
        refuse: Arc<Mutex<usize>>,
        got: Arc<Mutex<Vec<Checkpoint>>>,
    }

    #[tokio::test]
    async fn refused_deliveries_are_retried_in_order_until_accepted() {
        let collector = Collector::default();
        *collector.refuse.lock().unwrap() = 2;
        let app = axum::Router::new()
            .route(
                "/cp",
                axum::routing::post(|State(c): State<Collector>, axum::Json(cp): axum::Json<Checkpoint>| async move {
                    let mut refuse = c.refuse.lock().unwrap();
                    if *refuse > 0 {
                        *refuse -= 1;
                        return StatusCode::SERVICE_UNAVAILABLE;
                    }
                    c.got.lock().unwrap().push(cp);
                    StatusCode::NO_CONTENT
                }),
            )
            .with_state(collector.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/cp", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

        let (shipper, task) = start(&url).unwrap();
        let (key, _) = CheckpointKey::generate();
        let sent: Vec<Checkpoint> = (1..=3).map(|i| key.sign(i, &"a".repeat(64), Timestamp(i))).collect();
        for cp in &sent {
            shipper.ship(cp);
        }
        drop(shipper);
        // The task ends once everything queued is delivered.
        task.await.unwrap();
        assert_eq!(*collector.got.lock().unwrap(), sent);
        assert_eq!(*collector.refuse.lock().unwrap(), 0, "the refusals were retried");
    }

    #[test]
    fn only_http_urls_are_accepted() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let _guard = rt.enter();
        assert!(start("ftp://logs.example/x").is_err());
        assert!(start("not a url").is_err());
    }
}
