//! `wardline serve`.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::header;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tower::ServiceExt;

use prometheus_client::registry::Registry;
use wardline_service::metrics::Metrics;
use wardline_service::{Config, Services};
use wardline_store::{MetaStore, StoreError};
use wardline_store_sqlite::{Durability, Opening as StoreOpening, SqliteStore};
use wardline_types::SystemClock;

/// How a command opens the data directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opening {
    /// `wardline serve`: creates the data directory and database if missing, upgrades the
    /// schema, and binds the server name to the data at first start.
    Serve,
    /// Every other command: an existing database of exactly this Wardline's schema, whose
    /// server name is the configured one; nothing is created, upgraded or bound (a server may
    /// be running on it).
    Command,
    /// Commands that only read the database and record that they did (`backup`, `audit verify`,
    /// `audit export`): like [`Opening::Command`], but a database of an earlier schema is
    /// accepted too, so the backup before an upgrade can be taken with the new binary already
    /// installed, and an old backup can be checked without upgrading it.
    Inspect,
}

/// The database's file in a data directory.
pub fn database_path(data_dir: &std::path::Path) -> std::path::PathBuf {
    data_dir.join(crate::backup::DATABASE)
}

/// Refuses a data directory without a Wardline database, naming where it looked: only `serve`
/// creates one.
pub fn require_database(data_dir: &std::path::Path) -> Result<(), String> {
    let db = database_path(data_dir);
    match std::fs::metadata(&db) {
        Ok(m) if m.is_file() => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            return Err(format!(
                "cannot read {}: permission denied; run the command as the server's account (e.g. `sudo -u wardline wardline ...`)",
                db.display()
            ));
        }
        _ => {}
    }
    let shown = std::path::absolute(data_dir).unwrap_or_else(|_| data_dir.to_owned());
    Err(format!(
        "no Wardline database in {} (looked for {}): give the server's data directory with --data-dir or --config \
         (as `wardline serve` was given it); only `wardline serve` creates a new one",
        shown.display(),
        database_path(&shown).display()
    ))
}

/// Opens the store and builds the services for a data directory, counting into `metrics`.
/// Refuses a server name other than the one the data was created with.
pub async fn open(config: Config, metrics: Metrics, opening: Opening) -> Result<Services, Box<dyn std::error::Error>> {
    let dir = config.data_dir.clone();
    // A restore that did not finish left a directory nothing may start on.
    crate::restore::refuse_incomplete(&dir)?;
    match opening {
        Opening::Serve => {
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("cannot create data directory {}: {e}", dir.display()))?;
            restrict_permissions(&dir);
        }
        Opening::Command | Opening::Inspect => require_database(&dir)?,
    }
    let durability = if config.fsync { Durability::Full } else { Durability::Normal };
    let store_opening = match opening {
        Opening::Serve => StoreOpening::CreateAndUpgrade,
        Opening::Command => StoreOpening::Existing,
        Opening::Inspect => StoreOpening::ExistingNotNewer,
    };
    let store = SqliteStore::open_as(&database_path(&dir), durability, Arc::new(metrics.clone()), store_opening)
        .map_err(|e| match e {
            StoreError::SchemaTooNew { found, known } => format!(
                "the database in {} was written by a newer Wardline (schema version {found}; this Wardline {} knows versions up to {known}): \
                 run that Wardline, or, to go back to this one, restore the backup taken before the upgrade into an empty data directory (`wardline restore`)",
                dir.display(),
                env!("CARGO_PKG_VERSION")
            ),
            StoreError::SchemaTooOld { found, known } => format!(
                "the database in {} has schema version {found}, and this Wardline {} works on version {known}: \
                 start `wardline serve` of this version once (it upgrades the database; back it up first), then run this command again",
                dir.display(),
                env!("CARGO_PKG_VERSION")
            ),
            StoreError::NotFound => require_database(&dir).err().unwrap_or_else(|| e.to_string()),
            e => e.to_string(),
        })?;
    let bound = match opening {
        Opening::Serve => store.bind_server_name(&config.server_name).await?,
        Opening::Command | Opening::Inspect => store.meta("server_name").await?.ok_or_else(|| {
            format!("the database in {} has no server name yet: start `wardline serve` on it first", dir.display())
        })?,
    };
    if bound != config.server_name {
        return Err(format!(
            "the data in {} belongs to server name {bound:?}, not {:?}: user and room ids contain it, so it cannot change \
             (give --server-name {bound} or set server_name = {bound:?} in the configuration)",
            dir.display(),
            config.server_name
        )
        .into());
    }
    // Only the server's own clock can be a test clock; commands read the real time.
    let clock = match opening {
        Opening::Serve => crate::test_clock::for_serve()?,
        Opening::Command | Opening::Inspect => Arc::new(SystemClock),
    };
    let services = Services::with_metrics(config, Arc::new(store), clock, metrics)?;
    services.settings.load().await?;
    Ok(services)
}

/// The default server name, `localhost`, is refused for a server others reach (it would be in
/// every user id for good) unless it was chosen on purpose: on a first start listening beyond
/// the loopback interface, with no server name set in the configuration, the environment or
/// the command line.
fn check_server_name(config: &Config, listen: SocketAddr, chosen: bool) -> Result<(), String> {
    let first_start = !database_path(&config.data_dir).exists();
    if first_start && !chosen && config.server_name == "localhost" && served_beyond_this_machine(config, listen) {
        return Err(format!(
            "serving beyond this machine (listening on {listen}, or behind a reverse proxy: public_base_url or trusted_proxies set) \
             with the default server name \"localhost\": the server name is \
             bound to the data at first start and is part of every user id (@nurse.jones:SERVER_NAME), so choose it now, \
             e.g. --server-name chat.stmarys.nhs.example or server_name = \"chat.stmarys.nhs.example\" in the configuration \
             (see DEPLOYMENT.md); to keep \"localhost\", set it explicitly"
        ));
    }
    Ok(())
}

#[cfg(unix)]
fn restrict_permissions(dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Err(e) = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)) {
        tracing::warn!(error = %e, "cannot restrict the data directory to its owner");
    }
}

#[cfg(not(unix))]
fn restrict_permissions(_: &std::path::Path) {}

/// Installs the SIGINT/SIGTERM handlers now (so a signal arriving as soon as the server says it
/// listens is handled) and returns a future that resolves when one arrives.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    #[cfg(unix)]
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// Runs the server until SIGINT or SIGTERM; in-flight requests finish first.
/// `server_name_chosen`: whether a server name was set (file, environment or flag) rather
/// than left to its default.
pub async fn run(mut config: Config, server_name_chosen: bool) -> Result<(), Box<dyn std::error::Error>> {
    // Panics are logged without what the request held (see `wardline_api::install_panic_hook`).
    wardline_api::install_panic_hook();
    let listen = config.listen;
    check_server_name(&config, listen, server_name_chosen)?;
    let first_start = !database_path(&config.data_dir).exists();
    crate::restore::refuse_incomplete(&config.data_dir)?;
    // One server per data directory: a second one is refused before it touches anything.
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| format!("cannot create data directory {}: {e}", config.data_dir.display()))?;
    restrict_permissions(&config.data_dir);
    let _server_lock = crate::control::lock_for_server(&config.data_dir)?;
    let data_dir = config.data_dir.clone();
    let audit_copies = config.audit.clone();
    let listener =
        tokio::net::TcpListener::bind(listen).await.map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let local = listener.local_addr()?;
    let tls = match (&config.tls.cert_file, &config.tls.key_file) {
        (Some(cert), Some(key)) => Some(crate::tls::acceptor(cert, key)?),
        (None, None) => None,
        _ => return Err("tls needs both cert_file and key_file".into()),
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    if config.public_base_url.is_none() {
        config.public_base_url = Some(format!("{scheme}://{local}"));
    }
    // The reload handler, before anything that takes time (migrations): a SIGHUP meanwhile would
    // otherwise end the process. SIGTERM and SIGINT keep their default until the server is up,
    // so a stop during a long migration stops at once (SQLite rolls back the one under way).
    let (tls, reload) = match tls {
        Some(acceptor) => {
            let (current, acceptor) = tokio::sync::watch::channel(acceptor);
            let files = config_tls_files(&config).map(|(c, k)| (c, k, current));
            (Some(acceptor), crate::tls::reload_on_hangup(files)?)
        }
        None => (None, crate::tls::reload_on_hangup(None)?),
    };
    // One registry, owned here: each layer registers its own metrics in it.
    let mut registry = Registry::default();
    let services = open(config, Metrics::register(&mut registry), Opening::Serve).await?;
    let signal = shutdown_signal()?;
    // The audit writer first: the records of what start-up does (the first administrator) are
    // stored even if start-up then fails.
    let audit_writer = tokio::spawn(services.audit.clone().run_writer());
    if first_start {
        println!(
            "New data directory {} for server name {:?}: user ids are @username:{}, for good (see DEPLOYMENT.md to choose it).",
            data_dir.display(),
            services.config.server_name,
            services.config.server_name
        );
    }
    let http_metrics = wardline_api::HttpMetrics::register(&mut registry);
    let exporter = match services.config.metrics.listen {
        Some(addr) => Some(serve_metrics(addr, services.clone(), registry).await?),
        None => None,
    };
    if let Some((user, password)) = services.accounts.ensure_first_admin().await? {
        if let Err(e) = first_admin_password(&data_dir, &user, &password) {
            let _ = services.audit.flush().await;
            return Err(format!(
                "{e}; the administrator {user} exists but its one-time password could not be handed over: \
                 give it a new one with `wardline user reset-password {user}`"
            )
            .into());
        }
    } else {
        forget_first_admin_password(&services, &data_dir).await;
    }
    let purged = services.media.purge(true).await?;
    if purged > 0 {
        tracing::info!(purged, "deleted files no message refers to any more");
    }
    let key = crate::audit_files::load_or_create_key(&data_dir)?;
    if let Some(path) = &audit_copies.checkpoint_file {
        crate::audit_files::check_appendable(path)?;
    }
    let (shipper, shipping) = match &audit_copies.checkpoint_url {
        Some(url) => {
            let (s, task) = crate::audit_ship::start(url)?;
            (Some(s), Some(task))
        }
        None => (None, None),
    };
    let sink = crate::audit_files::checkpoint_sink(&data_dir, audit_copies.checkpoint_file.clone(), shipper);
    // The control socket before the server says it listens, so a command run as soon as it
    // does reaches it. It stops taking requests when a stop begins, and finishes those under way
    // before the last flush of the audit trail.
    let (stop_control, control_stopped) = tokio::sync::watch::channel(false);
    let control = crate::control::serve(&data_dir, services.clone(), async move {
        let mut stopped = control_stopped;
        let _ = stopped.wait_for(|s| *s).await;
    })?;
    // The MLLP listener, if configured, says where it listens before the HTTP one does.
    let (stop_hl7, hl7_stopped) = tokio::sync::watch::channel(false);
    let mut mllp = Vec::new();
    let hl7 = &services.config.hl7;
    let limits = crate::mllp::Limits::new(hl7);
    if let Some(addr) = hl7.listen {
        let hold = crate::test_hooks::Hold::for_serve()?;
        let listener = crate::mllp::bind(addr).await?;
        println!("wardline hl7 listening on {}", listener.local_addr()?);
        let stopped = hl7_stopped.clone();
        mllp.push(tokio::spawn(crate::mllp::serve(listener, None, limits.clone(), services.clone(), hold, stopped)));
    }
    if let Some(addr) = hl7.tls_listen {
        let (Some(cert), Some(key)) = (&hl7.tls_cert, &hl7.tls_key) else {
            return Err("hl7.tls_listen needs hl7.tls_cert and hl7.tls_key (PEM files)".into());
        };
        let acceptor = crate::mllp_tls::acceptor(cert, key, hl7.tls_client_ca.as_deref())?;
        let hold = crate::test_hooks::Hold::for_serve()?;
        let listener = crate::mllp::bind(addr).await?;
        let mutual = if hl7.tls_client_ca.is_some() { " (client certificates required)" } else { "" };
        println!("wardline hl7 tls listening on {}{mutual}", listener.local_addr()?);
        let stopped = hl7_stopped.clone();
        mllp.push(tokio::spawn(crate::mllp::serve(listener, Some(acceptor), limits, services.clone(), hold, stopped)));
    } else if hl7.tls_cert.is_some() || hl7.tls_key.is_some() || hl7.tls_client_ca.is_some() {
        return Err("hl7.tls_cert, hl7.tls_key and hl7.tls_client_ca are for hl7.tls_listen, which is not set".into());
    }
    drop(hl7_stopped);
    println!("wardline listening on {scheme}://{local}");
    let background = tokio::spawn(services.clone().run_background());
    let housekeeping = tokio::spawn(std::sync::Arc::clone(&services.media).run_housekeeping());
    let (stop_checkpoints, checkpoints_stopped) = tokio::sync::oneshot::channel::<()>();
    let checkpoints = tokio::spawn(services.audit.clone().run_checkpoints(
        key.clone(),
        std::time::Duration::from_secs(1),
        Some(sink.clone()),
        async move {
            let _ = checkpoints_stopped.await;
        },
    ));
    let app = wardline_api::router(services.clone(), http_metrics);
    let on_shutdown = services.clone();
    crate::notify::ready(&format!("listening on {scheme}://{local}"));
    // A server whose database writer stopped would answer reads and fail every write: it stops
    // instead, with an error, so that its supervisor (systemd) restarts it.
    let writer_died = Arc::new(AtomicBool::new(false));
    let died = Arc::clone(&writer_died);
    let shutdown = async move {
        tokio::select! {
            () = signal => {
                crate::notify::stopping();
                tracing::info!("shutting down: finishing in-flight requests");
            }
            () = on_shutdown.health.writer_stopped() => {
                died.store(true, Ordering::Relaxed);
                crate::notify::stopping();
                tracing::error!("the database writer has stopped: shutting down, to be restarted");
            }
        }
        let _ = stop_control.send(true);
        let _ = stop_hl7.send(true);
        on_shutdown.begin_shutdown();
    };
    let header_read_timeout = Duration::from_secs(services.config.http.header_read_timeout_secs.max(1));
    match tls {
        Some(acceptor) => {
            let listener =
                crate::tls::TlsListener::new(listener, acceptor, header_read_timeout.min(Duration::from_secs(10)))?;
            serve_http(listener, app, header_read_timeout, shutdown).await;
        }
        None => serve_http(listener, app, header_read_timeout, shutdown).await,
    }
    // HL7 connections answer the message they are on before the last flush of the audit trail.
    for listener in mllp {
        let _ = listener.await;
    }
    background.abort();
    housekeeping.abort();
    reload.abort();
    if let Some(exporter) = exporter {
        exporter.abort();
    }
    let _ = control.await;
    if writer_died.load(Ordering::Relaxed) {
        // Nothing can be written: no final checkpoint (the last one stands; SQLite rolls back
        // what did not commit when the server starts again).
        audit_writer.abort();
        crate::control::remove(&data_dir);
        return Err("the database writer stopped, so nothing could be written any more (see the log); exiting so that the server is restarted".into());
    }
    // The checkpoint task stops between checkpoints, never halfway through copying one.
    let _ = stop_checkpoints.send(());
    let last = match checkpoints.await {
        Ok(last) => last,
        Err(_) => services.audit.last_checkpoint().await?,
    };
    if let Err(e) = services.audit.flush().await {
        tracing::error!(target: "audit", error = %e, "audit records queued at shutdown could not be stored");
    }
    // Signs the head only if it moved since the last checkpoint: signing the same position
    // twice would leave two different signed lines for one record.
    let last = services.audit.checkpoint(&key, last, Some(&sink)).await?;
    tracing::info!(seq = last, "the audit trail is checkpointed up to this record");
    drop(sink);
    if let Some(task) = shipping
        && tokio::time::timeout(std::time::Duration::from_secs(5), task).await.is_err()
    {
        tracing::error!(target: "audit", "audit checkpoints still waiting for audit.checkpoint_url at shutdown were not delivered (the log and the checkpoint files have them)");
    }
    audit_writer.abort();
    crate::control::remove(&data_dir);
    tracing::info!("stopped");
    Ok(())
}

/// Whether clients on other machines reach the server: it listens beyond the loopback
/// interface, or a reverse proxy forwards to it (a public address is configured, or proxies
/// are trusted).
fn served_beyond_this_machine(config: &Config, listen: SocketAddr) -> bool {
    let public = config.public_base_url.as_deref().is_some_and(|url| match reqwest::Url::parse(url) {
        Ok(url) => url.host_str().is_some_and(|host| {
            let host = host.trim_start_matches('[').trim_end_matches(']');
            !host.eq_ignore_ascii_case("localhost")
                && !host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }),
        Err(_) => true,
    });
    !listen.ip().is_loopback() || public || !config.trusted_proxies.is_empty()
}

/// Hands the first administrator's one-time password to whoever started the server: on a
/// terminal, printed; otherwise (a service, whose output goes to the journal and on to log
/// collectors) written to a file only the server's account can read, and its path printed.
fn first_admin_password(
    data_dir: &std::path::Path,
    user: &ruma::UserId,
    password: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    use std::io::IsTerminal;
    println!("Created the administrator account {user}.");
    if std::io::stdout().is_terminal() {
        println!("One-time password (shown once; it must be changed at first sign-in): {password}");
        return Ok(());
    }
    let file = data_dir.join(FIRST_ADMIN_PASSWORD);
    crate::private_file::write_private(&file, format!("{user}\n{password}\n").as_bytes())
        .map_err(|e| format!("{}: {e}", file.display()))?;
    println!(
        "Its one-time password (to be changed at first sign-in) is in {}, readable by this server's account only: \
         read it, sign in, then delete the file.",
        file.display()
    );
    Ok(())
}

/// Deletes the first administrator's password file once it is no longer needed (the
/// administrator has set their own password, or the account is gone).
async fn forget_first_admin_password(services: &Services, data_dir: &std::path::Path) {
    let file = data_dir.join(FIRST_ADMIN_PASSWORD);
    if !file.exists() {
        return;
    }
    let Some(user) = std::fs::read_to_string(&file)
        .ok()
        .and_then(|t| t.lines().next().and_then(|l| ruma::OwnedUserId::try_from(l.trim()).ok()))
    else {
        return;
    };
    let needed = matches!(services.accounts.get(&user).await, Ok(a) if a.must_change_password && !a.deactivated);
    if !needed {
        match std::fs::remove_file(&file) {
            Ok(()) => {
                tracing::info!(file = %file.display(), "deleted the first administrator's one-time password: it has been changed")
            }
            Err(e) => {
                tracing::warn!(file = %file.display(), error = %e, "cannot delete the first administrator's spent one-time password")
            }
        }
    }
}

/// The file holding the first administrator's one-time password, when there was no terminal
/// to show it on.
pub const FIRST_ADMIN_PASSWORD: &str = "first-admin-password";

/// The certificate and key files, when TLS is on.
fn config_tls_files(config: &Config) -> Option<(std::path::PathBuf, std::path::PathBuf)> {
    config.tls.cert_file.clone().zip(config.tls.key_file.clone())
}

/// Serves `GET /metrics` on its own listener (`metrics.listen`), never on the clients' one.
async fn serve_metrics(
    addr: SocketAddr,
    services: Services,
    registry: Registry,
) -> Result<tokio::task::JoinHandle<()>, Box<dyn std::error::Error>> {
    let listener =
        tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen for metrics on {addr}: {e}"))?;
    println!("wardline metrics on http://{}/metrics", listener.local_addr()?);
    if !addr.ip().is_loopback() {
        tracing::warn!(
            listen = %addr,
            "metrics are served without a token beyond this machine: keep metrics.listen on a management network the firewall closes to everyone but the monitoring server"
        );
    }
    let header_read_timeout = Duration::from_secs(services.config.http.header_read_timeout_secs.max(1));
    let app = wardline_api::metrics::exporter(services, Arc::new(registry));
    // The same connection handling as the clients' listener: a scraper (or anyone) that
    // trickles a request head is cut off.
    Ok(tokio::spawn(serve_http(listener, app, header_read_timeout, std::future::pending())))
}

/// How long a finished connection keeps reading (and discarding) what the client still sends,
/// after the server closed its side: a client still uploading a body the server refused then
/// reads the answer instead of a reset.
const LINGER: Duration = Duration::from_secs(5);

/// Serves HTTP/1.1 on `listener` until `shutdown` resolves, then lets in-flight requests finish.
///
/// Each connection has a timer: a connection that has not sent a complete request head within
/// `header_read_timeout` of the server starting to wait for one (a client trickling header
/// lines, or a kept-alive connection left idle) is closed.
async fn serve_http<L>(
    mut listener: L,
    app: axum::Router,
    header_read_timeout: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) where
    L: axum::serve::Listener<Addr = SocketAddr>,
    L::Io: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    // Every connection holds a sender; when all are gone, every connection has finished.
    let (alive_tx, mut alive_rx) = tokio::sync::mpsc::channel::<()>(1);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (io, addr) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (app, stop, alive) = (app.clone(), stop_rx.clone(), alive_tx.clone());
        tokio::spawn(async move {
            connection(io, addr, app, header_read_timeout, stop).await;
            drop(alive);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(alive_tx);
    let _ = alive_rx.recv().await;
}

/// One connection: requests until either side ends it. A connection closed with a request's
/// body unread closes lingering.
async fn connection<I>(
    io: I,
    addr: SocketAddr,
    app: axum::Router,
    header_read_timeout: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // Set when an answer closes the connection before its request's body was read (a `413`).
    let unread_body = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&unread_body);
    let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(ConnectInfo(addr));
        let (app, flag) = (app.clone(), Arc::clone(&flag));
        Box::pin(async move {
            let response = app.oneshot(req.map(axum::body::Body::new)).await;
            if let Ok(r) = &response
                && r.headers().get(header::CONNECTION).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"))
            {
                flag.store(true, Ordering::Relaxed);
            }
            response
        })
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(header_read_timeout);
    let mut conn = builder.serve_connection(TokioIo::new(io), service);
    let mut stopping = *stop.borrow();
    if stopping {
        Pin::new(&mut conn).graceful_shutdown();
    }
    loop {
        tokio::select! {
            result = std::future::poll_fn(|cx| conn.poll_without_shutdown(cx)) => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, peer = %addr, "connection ended");
                }
                break;
            }
            changed = stop.changed(), if !stopping => {
                stopping = true;
                if changed.is_ok() {
                    Pin::new(&mut conn).graceful_shutdown();
                }
            }
        }
    }
    let io = conn.into_parts().io.into_inner();
    if unread_body.load(Ordering::Relaxed) {
        linger(io).await;
    }
}

/// Closes the server's side, then reads and discards until the client closes too or
/// [`LINGER`] passes. Closing with unread data would make the kernel send a reset, which can
/// destroy an answer the client has not read yet.
async fn linger<I: AsyncRead + AsyncWrite + Unpin>(mut io: I) {
    if io.shutdown().await.is_err() {
        return;
    }
    let _ = tokio::time::timeout(LINGER, async {
        let mut buf = vec![0u8; 64 * 1024];
        while matches!(io.read(&mut buf).await, Ok(n) if n > 0) {}
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_behind_a_proxy_or_on_a_public_address_is_served_beyond_this_machine() {
        let local: SocketAddr = "127.0.0.1:8008".parse().unwrap();
        let mut c = Config::default();
        assert!(!served_beyond_this_machine(&c, local));
        assert!(served_beyond_this_machine(&c, "0.0.0.0:8008".parse().unwrap()));
        assert!(served_beyond_this_machine(&c, "[::]:8008".parse().unwrap()));
        assert!(!served_beyond_this_machine(&c, "[::1]:8008".parse().unwrap()));
        for (url, beyond) in [
            ("https://chat.stmarys.nhs.example", true),
            ("http://10.1.2.3:8008", true),
            ("http://[2001:db8::1]:8008", true),
            ("http://localhost:8008", false),
            ("http://127.0.0.1:8008", false),
            ("http://[::1]:8008", false),
        ] {
            c.public_base_url = Some(url.into());
            assert_eq!(served_beyond_this_machine(&c, local), beyond, "{url}");
        }
        c.public_base_url = None;
        c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
        assert!(served_beyond_this_machine(&c, local), "a reverse proxy forwards to it");
    }

    #[test]
    fn the_default_name_is_refused_only_when_not_chosen_and_only_at_first_start() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Config { data_dir: dir.path().to_owned(), ..Config::default() };
        let public: SocketAddr = "0.0.0.0:8008".parse().unwrap();
        assert!(check_server_name(&c, public, false).unwrap_err().contains("--server-name"));
        assert!(check_server_name(&c, public, true).is_ok(), "localhost set on purpose");
        assert!(check_server_name(&c, "127.0.0.1:8008".parse().unwrap(), false).is_ok());
        c.server_name = "chat.stmarys.nhs.example".into();
        assert!(check_server_name(&c, public, false).is_ok());
        c.server_name = "localhost".into();
        std::fs::write(database_path(dir.path()), b"").unwrap();
        assert!(check_server_name(&c, public, false).is_ok(), "already bound: not a first start");
    }
}
