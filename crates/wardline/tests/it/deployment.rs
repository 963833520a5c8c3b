//! Running under a service manager: readiness through `sd_notify`, and the TLS certificate
//! reloaded on `SIGHUP` without a restart.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::harness::Server;

/// Waits (boundedly: a hung server fails the test instead of hanging it) until the log holds `text`.
fn wait_for_log(log: &Path, text: &str) -> String {
    for _ in 0..600 {
        let content = std::fs::read_to_string(log).unwrap_or_default();
        if content.contains(text) {
            return content;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the log never said {text:?}: {}", std::fs::read_to_string(log).unwrap_or_default());
}

fn hangup(pid: u32) {
    assert!(Command::new("kill").arg("-HUP").arg(pid.to_string()).status().unwrap().success());
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn readiness_and_stopping_are_reported_to_the_service_manager() {
    use std::os::unix::net::UnixDatagram;
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify.sock");
    let manager = UnixDatagram::bind(&socket_path).unwrap();
    manager.set_read_timeout(Some(std::time::Duration::from_secs(60))).unwrap();
    let log = dir.path().join("server.log");
    let mut s = Server::start_in_with_stderr(
        &dir.path().join("data"),
        &[("NOTIFY_SOCKET", socket_path.to_str().unwrap()), ("WARDLINE_LOG", "info")],
        Stdio::from(std::fs::File::create(&log).unwrap()),
    );
    let mut buf = [0u8; 512];
    let n = manager.recv(&mut buf).unwrap();
    let ready = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(ready.lines().any(|l| l == "READY=1"), "{ready}");
    assert!(ready.lines().any(|l| l == format!("MAINPID={}", s.pid())), "{ready}");
    // Ready means it answers.
    let (status, _) = s.client().get("/_matrix/client/versions").await;
    assert_eq!(status, 200);
    // A SIGHUP (`systemctl reload`) without TLS is logged, and does not stop the server.
    hangup(s.pid());
    wait_for_log(&log, "no TLS certificate to reload");
    assert_eq!(s.client().get("/_matrix/client/versions").await.0, 200);
    assert!(s.terminate(), "a clean stop");
    let n = manager.recv(&mut buf).unwrap();
    let stopping = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(stopping.lines().any(|l| l == "STOPPING=1"), "{stopping}");
}

/// The subject of the certificate a TLS server on `port` presents now.
fn presented_subject(port: &str) -> String {
    let out = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}"), "-servername", "localhost"])
        .stdin(Stdio::null())
        .output()
        .expect("openssl s_client");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().find_map(|l| l.strip_prefix("subject=")).unwrap_or_else(|| panic!("no certificate: {text}")).to_owned()
}

fn new_certificate(dir: &Path, name: &str, cn: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (dir.join(format!("{name}-cert.pem")), dir.join(format!("{name}-key.pem")));
    let status = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .args(["-subj", &format!("/CN={cn}"), "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl req");
    assert!(status.success());
    (cert, key)
}

#[tokio::test]
async fn the_certificate_is_reloaded_on_sighup_and_a_bad_one_is_refused() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::copy(format!("{fixtures}/test-cert.pem"), &cert).unwrap();
    std::fs::copy(format!("{fixtures}/test-key.pem"), &key).unwrap();
    let (s, log) = Server::start_with_log(&[
        ("WARDLINE_TLS__CERT_FILE", cert.to_str().unwrap()),
        ("WARDLINE_TLS__KEY_FILE", key.to_str().unwrap()),
    ]);
    let port = s.base.rsplit(':').next().unwrap().to_owned();
    assert!(presented_subject(&port).contains("CN = localhost"));

    // The renewed pair is put in place and the server told: new connections get it.
    let (renewed_cert, renewed_key) = new_certificate(dir.path(), "renewed", "wardline-renewed");
    std::fs::copy(&renewed_cert, &cert).unwrap();
    std::fs::copy(&renewed_key, &key).unwrap();
    hangup(s.pid());
    wait_for_log(&log, "reloaded the TLS certificate and key");
    assert!(presented_subject(&port).contains("CN = wardline-renewed"));

    // A certificate whose key does not match, then files that are not PEM: refused, logged,
    // and the server goes on with the pair it has.
    std::fs::copy(format!("{fixtures}/test-cert.pem"), &cert).unwrap();
    hangup(s.pid());
    wait_for_log(&log, "TLS certificate NOT reloaded");
    assert!(presented_subject(&port).contains("CN = wardline-renewed"));
    std::fs::write(&cert, "not a certificate").unwrap();
    std::fs::write(&key, "not a key").unwrap();
    hangup(s.pid());
    let text = wait_for_log(&log, "no certificate found");
    assert_eq!(text.matches("TLS certificate NOT reloaded").count(), 2, "{text}");
    assert!(presented_subject(&port).contains("CN = wardline-renewed"));
    // Still serving (the renewed certificate is self-signed: its subject was checked above).
    let http = reqwest::Client::builder().danger_accept_invalid_certs(true).build().unwrap();
    let r = http.get(format!("{}/_matrix/client/versions", s.base)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
}
