//! The web client's files: each with its type, revalidated on every load, under the strict
//! content security policy; the service worker allowed to serve the whole client from `/`.

use crate::harness::Server;

#[tokio::test]
async fn the_web_client_and_its_service_worker_are_served_with_their_headers() {
    let s = Server::start();
    let http = reqwest::Client::new();
    let files = [
        ("/", "text/html; charset=utf-8"),
        ("/app.js", "text/javascript"),
        ("/app.css", "text/css"),
        ("/sw.js", "text/javascript"),
    ];
    for (path, kind) in files {
        let r = http.get(format!("{}{path}", s.base)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let h = r.headers().clone();
        assert_eq!(h["content-type"], kind, "{path}");
        assert_eq!(h["cache-control"], "no-cache", "{path}: a new version is picked up at once");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        let csp = h["content-security-policy"].to_str().unwrap();
        for rule in [
            "default-src 'self'",
            "script-src 'self'",
            "worker-src 'self'",
            "connect-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.split(';').any(|r| r.trim() == rule), "{path}: {rule} in {csp}");
        }
        assert!(!csp.contains("unsafe-eval") && !csp.contains('*'), "{path}: {csp}");
        let body = r.text().await.unwrap();
        assert!(!body.is_empty(), "{path}");
        if path == "/sw.js" {
            assert_eq!(h["service-worker-allowed"], "/");
            assert!(body.contains("wardline-shell-"), "the shell's cache");
        } else {
            assert!(h.get("service-worker-allowed").is_none(), "{path}");
        }
    }
}
