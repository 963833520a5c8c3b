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
        ("/manifest.webmanifest", "application/manifest+json"),
        ("/icon-192.png", "image/png"),
        ("/icon-512.png", "image/png"),
        ("/icon-maskable-512.png", "image/png"),
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
            "manifest-src 'self'",
            "connect-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.split(';').any(|r| r.trim() == rule), "{path}: {rule} in {csp}");
        }
        assert!(!csp.contains("unsafe-eval") && !csp.contains('*'), "{path}: {csp}");
        let body = r.bytes().await.unwrap();
        assert!(!body.is_empty(), "{path}");
        if kind == "image/png" {
            assert!(body.starts_with(b"\x89PNG\r\n\x1a\n"), "{path}: a PNG");
            continue;
        }
        let body = String::from_utf8(body.to_vec()).unwrap();
        if path == "/sw.js" {
            assert_eq!(h["service-worker-allowed"], "/");
            assert!(body.contains("wardline-shell-"), "the shell's cache");
        } else {
            assert!(h.get("service-worker-allowed").is_none(), "{path}");
        }
        if path == "/" {
            assert!(
                body.contains(r#"<link rel="manifest" href="/manifest.webmanifest">"#),
                "the page links its manifest"
            );
        }
    }
}

#[tokio::test]
async fn the_web_app_manifest_makes_the_client_installable() {
    let s = Server::start();
    let http = reqwest::Client::new();
    let manifest: serde_json::Value =
        http.get(format!("{}/manifest.webmanifest", s.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(manifest["name"], "Wardline");
    assert!(manifest["short_name"].is_string());
    assert_eq!(manifest["start_url"], "/");
    assert_eq!(manifest["scope"], "/");
    assert_eq!(manifest["display"], "standalone");
    assert!(manifest["theme_color"].as_str().unwrap().starts_with('#'));
    let icons = manifest["icons"].as_array().unwrap();
    for (sizes, purpose) in [("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")] {
        let icon = icons
            .iter()
            .find(|i| i["sizes"] == sizes && i["purpose"] == purpose)
            .unwrap_or_else(|| panic!("an icon {sizes} {purpose}"));
        let src = icon["src"].as_str().unwrap();
        let r = http.get(format!("{}{src}", s.base)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{src}");
        assert_eq!(r.headers()["content-type"], "image/png", "{src}");
        let png = r.bytes().await.unwrap();
        // The PNG's own size (IHDR width and height) is the one the manifest says.
        let side = u32::from_be_bytes([png[16], png[17], png[18], png[19]]);
        let height = u32::from_be_bytes([png[20], png[21], png[22], png[23]]);
        assert_eq!(format!("{side}x{height}"), sizes, "{src}");
    }
}
