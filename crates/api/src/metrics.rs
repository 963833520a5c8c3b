//! HTTP metrics, and the exporter that serves every metric to Prometheus.
//!
//! **Invariant:** a request is labelled with its method, its status and the *template* of the
//! route it matched (`/_matrix/client/v3/rooms/{room_id}/send/{event_type}/{txn_id}`), never the
//! path it asked for: ids of rooms, users and files never reach a label, and the number of
//! series stays bounded by the number of routes. A request that matched no route is
//! `unmatched`.
//!
//! The templates are interned once, when the router is built ([`Endpoints`]): labelling a
//! request allocates nothing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use wardline_service::Services;

/// Request durations: 1 ms to 60 s (a `/sync` long-poll lasts up to `sync.max_timeout_ms`).
const DURATION_BUCKETS: [f64; 15] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// The status recorded for a request whose client went away before it was answered (as nginx
/// logs it).
const CLIENT_CLOSED: u16 = 499;

/// The label of a request that matched no route.
const UNMATCHED: &str = "unmatched";

/// The HTTP method, as a label: one of a fixed few.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum MethodLabel {
    Get,
    Post,
    Put,
    Delete,
    Options,
    Head,
    Other,
}

impl From<&Method> for MethodLabel {
    fn from(m: &Method) -> Self {
        match *m {
            Method::GET => Self::Get,
            Method::POST => Self::Post,
            Method::PUT => Self::Put,
            Method::DELETE => Self::Delete,
            Method::OPTIONS => Self::Options,
            Method::HEAD => Self::Head,
            _ => Self::Other,
        }
    }
}

impl EncodeLabelValue for MethodLabel {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), std::fmt::Error> {
        let name = match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Delete => "DELETE",
            Self::Options => "OPTIONS",
            Self::Head => "HEAD",
            Self::Other => "other",
        };
        EncodeLabelValue::encode(&name, encoder)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    method: MethodLabel,
    endpoint: Arc<str>,
    status: u16,
}

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

/// The HTTP layer's metrics. Cloning shares them.
#[derive(Debug, Clone)]
pub struct HttpMetrics {
    requests: Family<RequestLabels, Histogram, fn() -> Histogram>,
}

impl Default for HttpMetrics {
    /// Metrics that count into no registry.
    fn default() -> Self {
        Self::register(&mut Registry::default())
    }
}

impl HttpMetrics {
    /// The metrics, registered in `registry`.
    pub fn register(registry: &mut Registry) -> Self {
        let requests = Family::new_with_constructor(duration_histogram as fn() -> Histogram);
        registry.register_with_unit(
            "wardline_http_request_duration",
            "HTTP requests by method, route template and status, with the time to answer them (the _count is the number of requests)",
            Unit::Seconds,
            requests.clone(),
        );
        Self { requests }
    }
}

/// Every route template, interned: the label of a request is a clone of one of these.
#[derive(Debug, Clone)]
pub(crate) struct Endpoints {
    known: Arc<HashMap<Box<str>, Arc<str>>>,
    unmatched: Arc<str>,
}

impl Endpoints {
    /// The templates of `paths`.
    pub(crate) fn new<'a>(paths: impl IntoIterator<Item = &'a str>) -> Self {
        let known = paths.into_iter().map(|p| (Box::from(p), Arc::from(p))).collect();
        Self { known: Arc::new(known), unmatched: Arc::from(UNMATCHED) }
    }

    fn label(&self, matched: Option<&MatchedPath>) -> Arc<str> {
        matched.and_then(|m| self.known.get(m.as_str())).map_or_else(|| Arc::clone(&self.unmatched), Arc::clone)
    }
}

/// What the tracking middleware needs.
#[derive(Debug, Clone)]
pub(crate) struct Tracking {
    pub metrics: HttpMetrics,
    pub endpoints: Endpoints,
}

/// Records a request's duration when it is answered, or, if the client goes away first (the
/// request's future is dropped), as [`CLIENT_CLOSED`].
struct Timer<'a> {
    tracking: &'a Tracking,
    labels: Option<RequestLabels>,
    started: Instant,
}

impl Timer<'_> {
    fn finish(&mut self, status: u16) {
        if let Some(mut labels) = self.labels.take() {
            labels.status = status;
            self.tracking.metrics.requests.get_or_create(&labels).observe(self.started.elapsed().as_secs_f64());
        }
    }
}

impl Drop for Timer<'_> {
    fn drop(&mut self) {
        self.finish(CLIENT_CLOSED);
    }
}

/// The middleware: times each request and counts it by method, route template and status.
pub(crate) async fn track(State(tracking): State<Tracking>, req: Request, next: Next) -> Response {
    let labels = RequestLabels {
        method: MethodLabel::from(req.method()),
        endpoint: tracking.endpoints.label(req.extensions().get::<MatchedPath>()),
        status: 0,
    };
    let mut timer = Timer { tracking: &tracking, labels: Some(labels), started: Instant::now() };
    let response = next.run(req).await;
    timer.finish(response.status().as_u16());
    response
}

/// The Prometheus text format (0.0.4), for scrapers that do not ask for OpenMetrics.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
/// OpenMetrics, which Prometheus asks for.
const OPENMETRICS_TEXT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What the exporter needs: the registry to encode, and the services whose gauges are read
/// when scraped.
#[derive(Clone)]
struct Exporter {
    registry: Arc<Registry>,
    services: Services,
}

/// `GET /metrics`: every registered metric, in OpenMetrics if the scraper accepts it, else in
/// the Prometheus text format.
async fn scrape(State(exporter): State<Exporter>, headers: HeaderMap) -> Response {
    exporter.services.refresh_gauges();
    let openmetrics = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/openmetrics-text"));
    let mut text = String::new();
    let (encoded, content_type) = if openmetrics {
        (prometheus_client::encoding::text::encode(&mut text, &exporter.registry), OPENMETRICS_TEXT)
    } else {
        (prometheus_client::encoding::prometheus_text::encode(&mut text, &exporter.registry), PROMETHEUS_TEXT)
    };
    if encoded.is_err() {
        tracing::error!("the metrics could not be encoded");
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    let mut response = text.into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The exporter's application, for its own listener (`metrics.listen`): `GET /metrics`, and
/// `404` for anything else.
pub fn exporter(services: Services, registry: Arc<Registry>) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .fallback(|| async { StatusCode::NOT_FOUND })
        .with_state(Exporter { registry, services })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_templates_or_unmatched() {
        let endpoints = Endpoints::new(["/_matrix/client/v3/rooms/{room_id}/send/{event_type}/{txn_id}"]);
        assert_eq!(&*endpoints.label(None), "unmatched");
        let a = endpoints.label(None);
        let b = endpoints.label(None);
        assert!(Arc::ptr_eq(&a, &b), "interned, not allocated per request");
    }

    #[test]
    fn a_request_abandoned_by_its_client_is_counted_as_499() {
        let mut registry = Registry::default();
        let tracking = Tracking { metrics: HttpMetrics::register(&mut registry), endpoints: Endpoints::new([]) };
        let labels = RequestLabels { method: MethodLabel::Get, endpoint: Arc::from("/x"), status: 0 };
        drop(Timer { tracking: &tracking, labels: Some(labels.clone()), started: Instant::now() });
        let mut timer = Timer { tracking: &tracking, labels: Some(labels), started: Instant::now() };
        timer.finish(200);
        drop(timer);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        let count = |status: &str| {
            let series = format!(
                "wardline_http_request_duration_seconds_count{{method=\"GET\",endpoint=\"/x\",status=\"{status}\"}} "
            );
            text.lines().find_map(|l| l.strip_prefix(&series)).map(str::to_owned)
        };
        assert_eq!(count("499").as_deref(), Some("1"), "{text}");
        assert_eq!(count("200").as_deref(), Some("1"), "a finished request is counted once: {text}");
    }
}
