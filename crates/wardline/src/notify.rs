//! Telling the service manager how the server is doing (systemd's `sd_notify` protocol, for a
//! unit of `Type=notify`): `READY=1` once the listener is bound and the database migrated,
//! `STOPPING=1` when shutdown begins.
//!
//! The protocol is one datagram of `KEY=value` lines to the Unix socket named by
//! `$NOTIFY_SOCKET` (a path, or an abstract name after `@`). Without the variable (not started
//! by systemd) nothing is sent; a failure to send is logged and otherwise ignored: a service
//! manager that cannot be told is no reason to stop serving.

/// The listener is bound and the store migrated: the server takes requests.
pub fn ready(status: &str) {
    send(&format!("READY=1\nSTATUS={status}\nMAINPID={}", std::process::id()));
}

/// Shutdown has begun: in-flight requests are finishing.
pub fn stopping() {
    send("STOPPING=1\nSTATUS=finishing in-flight requests");
}

fn send(message: &str) {
    let Some(socket) = std::env::var_os("NOTIFY_SOCKET") else { return };
    if let Err(e) = send_to(&socket, message) {
        tracing::warn!(error = %e, "cannot notify the service manager ($NOTIFY_SOCKET)");
    }
}

#[cfg(target_os = "linux")]
fn send_to(socket: &std::ffi::OsStr, message: &str) -> std::io::Result<()> {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let bytes = socket.as_bytes();
    let addr = match bytes.strip_prefix(b"@") {
        Some(name) => SocketAddr::from_abstract_name(name)?,
        None => SocketAddr::from_pathname(std::path::Path::new(socket))?,
    };
    UnixDatagram::unbound()?.send_to_addr(message.as_bytes(), &addr).map(drop)
}

#[cfg(all(unix, not(target_os = "linux")))]
fn send_to(socket: &std::ffi::OsStr, message: &str) -> std::io::Result<()> {
    std::os::unix::net::UnixDatagram::unbound()?.send_to(message.as_bytes(), socket).map(drop)
}

#[cfg(not(unix))]
fn send_to(_: &std::ffi::OsStr, _: &str) -> std::io::Result<()> {
    Ok(())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn sends_one_datagram_to_a_path_or_an_abstract_socket() {
        use std::os::linux::net::SocketAddrExt;
        use std::os::unix::net::{SocketAddr, UnixDatagram};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).unwrap();
        send_to(path.as_os_str(), "READY=1").unwrap();
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
        let name = format!("wardline-notify-test-{}", std::process::id());
        let abstract_listener =
            UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap()).unwrap();
        send_to(std::ffi::OsStr::new(&format!("@{name}")), "STOPPING=1").unwrap();
        let n = abstract_listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"STOPPING=1");
    }
}
