//! `wardline serve`.

use std::net::SocketAddr;

use axum::serve::ListenerExt;
use std::sync::Arc;

use wardline_service::{Config, Services};
use wardline_store::MetaStore;
use wardline_store_sqlite::{Durability, SqliteStore};
use wardline_types::SystemClock;

/// Opens the store and builds the services for a data directory. Refuses a server name other
/// than the one the data was created with.
pub async fn open(config: Config) -> Result<Services, Box<dyn std::error::Error>> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| format!("cannot create data directory {}: {e}", config.data_dir.display()))?;
    restrict_permissions(&config.data_dir);
    let durability = if config.fsync { Durability::Full } else { Durability::Normal };
    let store = SqliteStore::open(&config.data_dir.join("wardline.db"), durability)?;
    let bound = store.bind_server_name(&config.server_name).await?;
    if bound != config.server_name {
        return Err(format!(
            "the data in {} belongs to server name {bound:?}, not {:?}: user and room ids contain it, so it cannot change",
            config.data_dir.display(),
            config.server_name
        )
        .into());
    }
    let services = Services::new(config, Arc::new(store), Arc::new(SystemClock))?;
    services.settings.load().await?;
    Ok(services)
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
pub async fn run(mut config: Config) -> Result<(), Box<dyn std::error::Error>> {
    // Panics are logged without what the request held (see `wardline_api::install_panic_hook`).
    wardline_api::install_panic_hook();
    let listen = config.listen;
    let data_dir = config.data_dir.clone();
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
    let services = open(config).await?;
    if let Some((user, password)) = services.accounts.ensure_first_admin().await? {
        println!("Created the administrator account {user}.");
        println!("One-time password (shown once; it must be changed at first sign-in): {password}");
    }
    let purged = services.media.purge(true).await?;
    if purged > 0 {
        tracing::info!(purged, "deleted files no message refers to any more");
    }
    let signal = shutdown_signal()?;
    println!("wardline listening on {scheme}://{local}");
    let key = crate::audit_files::load_or_create_key(&data_dir)?;
    let background = tokio::spawn(services.clone().run_background());
    let housekeeping = tokio::spawn(std::sync::Arc::clone(&services.media).run_housekeeping());
    let audit_writer = tokio::spawn(services.audit.clone().run_writer());
    let checkpoints = tokio::spawn(services.audit.clone().run_checkpoints(
        key.clone(),
        std::time::Duration::from_secs(1),
        Some(crate::audit_files::checkpoint_sink(&data_dir)),
    ));
    let control = crate::control::serve(&data_dir, services.clone())?;
    let app = wardline_api::router(services.clone());
    let on_shutdown = services.clone();
    let shutdown = async move {
        signal.await;
        tracing::info!("shutting down: finishing in-flight requests");
        on_shutdown.begin_shutdown();
    };
    let make_service = app.into_make_service_with_connect_info::<SocketAddr>();
    match tls {
        Some(acceptor) => {
            let listener = crate::tls::TlsListener::new(listener, acceptor)?.tap_io(|_| {});
            axum::serve(listener, make_service).with_graceful_shutdown(shutdown).await?;
        }
        None => axum::serve(listener, make_service).with_graceful_shutdown(shutdown).await?,
    }
    background.abort();
    housekeeping.abort();
    control.abort();
    checkpoints.abort();
    services.audit.flush().await;
    let sink = crate::audit_files::checkpoint_sink(&data_dir);
    let last = services.audit.checkpoint(&key, 0, Some(&sink)).await?;
    tracing::info!(seq = last, "final audit checkpoint signed");
    audit_writer.abort();
    crate::control::remove(&data_dir);
    tracing::info!("stopped");
    Ok(())
}
