//! MLLP over TLS with client certificates (`[hl7] tls_listen`, `tls_cert`, `tls_key`,
//! `tls_client_ca`), through the whole server, with certificates made for the test by the
//! `openssl` command and a rustls client: a system presenting the certificate its binding pins
//! gets `CA`; a client without a certificate is refused at the handshake (nothing read, nothing
//! stored); a certificate from the same CA that is not the pinned one is refused `CR` 207, as
//! is the pinned system's message over plain TCP; the refusals are audited.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::admin::admin;
use crate::alarms_hl7::{alarms_of, answer, connect, framed, hl7_addr, r40};
use crate::harness::{Server, cli};

const A: &str = "/_wardline/admin/v1";

fn openssl(args: &[&str], dir: &Path) {
    let out = Command::new("openssl").args(args).current_dir(dir).stdin(Stdio::null()).output().expect("openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A test CA, and a certificate it issues named `name` (`name.pem`, `name.key`) for `usage`
/// (`serverAuth` or `clientAuth`).
fn issue(dir: &Path, name: &str, usage: &str) -> (PathBuf, PathBuf) {
    if !dir.join("ca.pem").exists() {
        openssl(
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=Test HL7 CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
            ],
            dir,
        );
    }
    let ext = format!(
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage={usage}\n\
         subjectAltName=DNS:localhost,IP:127.0.0.1\n"
    );
    std::fs::write(dir.join(format!("{name}.ext")), ext).unwrap();
    openssl(
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            &format!("/CN={name}"),
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
        ],
        dir,
    );
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &format!("{name}.ext"),
            "-out",
            &format!("{name}.pem"),
        ],
        dir,
    );
    (dir.join(format!("{name}.pem")), dir.join(format!("{name}.key")))
}

/// The certificate's SHA-256 fingerprint as `openssl` prints it (`AB:CD:…`).
fn fingerprint(cert: &Path) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(cert)
        .output()
        .expect("openssl x509");
    let text = String::from_utf8(out.stdout).unwrap();
    text.trim().split_once('=').unwrap().1.to_owned()
}

/// A TLS connection to `addr` trusting the test CA, presenting `client` if given.
async fn tls_connect(
    addr: &str,
    ca: &Path,
    client: Option<(&Path, &Path)>,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match client {
        Some((cert, key)) => {
            let chain: Vec<CertificateDer<'static>> =
                CertificateDer::pem_file_iter(cert).unwrap().map(Result::unwrap).collect();
            builder.with_client_auth_cert(chain, PrivateKeyDer::from_pem_file(key).unwrap()).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    let tcp = TcpStream::connect(addr).await?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    connector.connect(ServerName::try_from("localhost").unwrap(), tcp).await
}

/// Sends one message on `c` and reads the answer: `(MSA-1, ERR-3)`, or `None` when the
/// connection fails or closes first.
async fn ask<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    c: &mut S,
    message: &str,
) -> Option<(String, String)> {
    c.write_all(&framed(message)).await.ok()?;
    c.flush().await.ok()?;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(&[0x1c, 0x0d]) {
        match tokio::time::timeout(Duration::from_secs(60), c.read(&mut buf)).await.expect("an answer or a close") {
            Ok(0) | Err(_) => return None,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8(got).unwrap();
    let seg =
        |id: &str| text.split('\r').find(|s| s.trim_start_matches('\u{b}').starts_with(id)).unwrap_or("").to_owned();
    let field = |s: &str, n: usize| s.split('|').nth(n).unwrap_or("").split('^').next().unwrap_or("").to_owned();
    Some((field(&seg("MSA"), 1), field(&seg("ERR"), 3)))
}

#[tokio::test]
async fn only_the_pinned_client_certificate_is_taken_and_a_client_without_one_is_refused_at_the_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path();
    let (server_cert, server_key) = issue(certs, "server", "serverAuth");
    let (pinned_cert, pinned_key) = issue(certs, "monitor-gateway", "clientAuth");
    let (other_cert, other_key) = issue(certs, "someone-else", "clientAuth");
    let ca = certs.join("ca.pem");
    let s = Server::start_with_env(&[
        ("WARDLINE_HL7__LISTEN", "127.0.0.1:0"),
        ("WARDLINE_HL7__TLS_LISTEN", "127.0.0.1:0"),
        ("WARDLINE_HL7__TLS_CERT", server_cert.to_str().unwrap()),
        ("WARDLINE_HL7__TLS_KEY", server_key.to_str().unwrap()),
        ("WARDLINE_HL7__TLS_CLIENT_CA", ca.to_str().unwrap()),
    ]);
    let tls_addr = s
        .stdout_lines
        .iter()
        .find_map(|l| l.strip_prefix("wardline hl7 tls listening on "))
        .expect("the server prints its HL7 TLS address")
        .split(' ')
        .next()
        .unwrap()
        .to_owned();
    let boss = admin(&s).await;
    let (st, b) = boss
        .post(
            &format!("{A}/integrations"),
            json!({"integration_id": "monitors", "name": "Monitors", "kind": "monitoring", "scopes": ["hl7.alarms"]}),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    let pin = fingerprint(&pinned_cert);
    let binding = json!({"sending_application": "MON", "sending_facility": "ICU",
        "allowed_addresses": ["127.0.0.0/8"], "client_cert_sha256": pin});
    let (st, b) = boss.put(&format!("{A}/integrations/monitors/hl7"), binding).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["hl7"]["client_cert_sha256"], pin.replace(':', "").to_lowercase(), "{b}");
    let bad_pin = json!({"sending_application": "MON", "sending_facility": "ICU",
        "allowed_addresses": ["127.0.0.0/8"], "client_cert_sha256": "not a hash"});
    assert_eq!(boss.put(&format!("{A}/integrations/monitors/hl7"), bad_pin).await.0, 400);

    // The pinned system over TLS with its certificate: taken.
    let mut good = tls_connect(&tls_addr, &ca, Some((&pinned_cert, &pinned_key))).await.unwrap();
    assert_eq!(ask(&mut good, &r40("T1", "A1", "start", "|||AL|NE")).await, Some(("CA".into(), String::new())));
    // Two messages on one TLS connection, answered in turn.
    assert_eq!(ask(&mut good, &r40("T2", "A2", "start", "")).await, Some(("AA".into(), String::new())));

    // No client certificate: the handshake fails; nothing is read or stored.
    let refused = match tls_connect(&tls_addr, &ca, None).await {
        Err(_) => None,
        // (TLS 1.3: the client may finish its side before the server's refusal arrives.)
        Ok(mut c) => ask(&mut c, &r40("T3", "A3", "start", "|||AL|NE")).await,
    };
    assert_eq!(refused, None, "refused at the handshake");

    // Another certificate the same CA issued: the handshake succeeds, the pin does not match.
    let mut other = tls_connect(&tls_addr, &ca, Some((&other_cert, &other_key))).await.unwrap();
    assert_eq!(ask(&mut other, &r40("T4", "A4", "start", "|||AL|NE")).await, Some(("CR".into(), "207".into())));
    // The pinned system's header over plain TCP (no certificate at all): refused the same way.
    let mut plain = connect(&hl7_addr(&s)).await;
    plain.write_all(&framed(&r40("T5", "A5", "start", "|||AL|NE"))).await.unwrap();
    assert_eq!(answer(&mut plain).await.map(|x| (x.0, x.2)), Some(("CR".into(), "207".into())));

    let mut stored: Vec<String> =
        alarms_of(&boss, "monitors").await.iter().map(|a| a["source_id"].as_str().unwrap().to_owned()).collect();
    stored.sort();
    assert_eq!(stored, ["A1", "A2"], "only what the pinned certificate sent");
    // The refusals are in the audit trail (written a moment after).
    let mut text = String::new();
    for _ in 0..100 {
        let (ok, out, err) = cli(&s.data_dir, &["audit", "export"], None);
        assert!(ok, "{err}");
        text = out;
        if text.contains("client certificate not the one pinned") && text.contains("no client certificate") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(text.contains("reason=client certificate not the one pinned"), "{text}");
    assert!(text.contains("reason=no client certificate"), "plain TCP: {text}");
}
