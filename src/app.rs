//! Building the application from settings, and serving it until shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::blob::Storage;
use crate::clock::Clock;
use crate::config::Settings;
use crate::crypto::ServerKey;
use crate::db::Db;
use crate::jobs::JobSignal;
use crate::mail::Mailer;

/// Everything a request handler or job worker needs, behind one reference count.
/// axum clones the state for every extractor and middleware of every request, and
/// cloning the fields one by one would update about ten reference counts.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The fields of [`AppState`].
#[derive(Debug)]
pub struct Shared {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub key: ServerKey,
    pub clock: Clock,
    pub mailer: Mailer,
    pub storage: Storage,
    pub job_signal: JobSignal,
    pub metrics: PrometheusHandle,
    /// Public URL without a trailing slash, e.g. `https://example.org`.
    pub public_url: Arc<str>,
    /// A password hash that matches nothing; logins with an unknown username are
    /// checked against it so they take as long as a wrong password.
    pub dummy_password_hash: Arc<str>,
}

impl AppState {
    /// Creates the data directory, loads or creates the server key, connects to the
    /// database and applies migrations.
    pub async fn build(settings: Settings, clock: Clock) -> anyhow::Result<Self> {
        settings.validate()?;
        std::fs::create_dir_all(&settings.data_dir).with_context(|| {
            format!(
                "creating the data directory {}",
                settings.data_dir.display()
            )
        })?;
        let key = ServerKey::load_or_create(settings.secret_key.as_deref(), &settings.data_dir)?;

        let db = Db::connect(&settings.database_url()).await?;
        db.migrate().await?;

        let mailer = Mailer::new(
            settings.smtp_url.as_deref(),
            settings.outbox_dir(),
            &settings.mail_from,
        )?;
        if settings.smtp_url.is_none() {
            let outbox = settings.outbox_dir();
            std::fs::create_dir_all(&outbox)
                .with_context(|| format!("creating the mail outbox {}", outbox.display()))?;
        }
        let storage_url = match &settings.storage_url {
            Some(url) => url.clone(),
            None => settings.data_dir.join("files").display().to_string(),
        };
        let storage = Storage::open_with(&storage_url, &settings.s3_options())?;

        Ok(Self(Arc::new(Shared {
            public_url: settings.public_url().into(),
            settings: Arc::new(settings),
            db,
            key,
            clock,
            mailer,
            storage,
            job_signal: JobSignal::default(),
            metrics: crate::telemetry::metrics_handle(),
            dummy_password_hash: crate::domain::password::dummy_hash().into(),
        })))
    }

    /// An absolute URL for `path`, which starts with `/`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.public_url)
    }
}

/// Serves `app` over HTTP/1.1 on `listener` until `shutdown` completes, then waits for
/// open connections to finish their requests.
///
/// A connection that does not send a request's headers within `header_timeout` is
/// closed. axum's own `serve` sets no such limit, so a client sending headers byte by
/// byte could hold a connection for ever. The request timeout middleware covers the
/// rest of a request.
async fn serve_http(
    listener: TcpListener,
    app: axum::Router,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Errors of one connection (reset before accept) need no pause;
                    // others, such as running out of file descriptors, would spin.
                    if !is_connection_error(&error) {
                        tracing::error!(error = %error, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Small responses go out at once instead of waiting for more to fill a segment.
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<_>| {
            request
                .extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            tower::ServiceExt::oneshot(app.clone(), request)
        });
        // A client may close its sending side once its request is out, with the last
        // bytes of the body in the same packet as the close. Without half-close
        // support hyper reads the end of input while the handler runs, ends the
        // connection and drops the handler, so the upload or form post is lost, and a
        // small one is not even logged. With it the handler finishes, still bounded
        // by the request timeout.
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(header_timeout)
            .half_close(true)
            .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(error = %error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

fn is_connection_error(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

/// Serves the site on `listener` and runs the job workers until `shutdown` completes,
/// then lets in-flight requests and jobs finish.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (stop_workers, workers_stopped) = watch::channel(false);
    let workers = crate::jobs::spawn_workers(&state, state.settings.workers, workers_stopped);
    let cleanup = crate::jobs::spawn_cleanup(&state, stop_workers.subscribe());

    // Connections get a bounded time to finish after the shutdown signal: a client that
    // never completes its request would otherwise keep the process alive for ever.
    let (signalled, mut signal_seen) = watch::channel(false);
    let shutdown = async move {
        shutdown.await;
        let _ = signalled.send(true);
    };
    let app = crate::http::router(state.clone());
    let header_timeout = Duration::from_secs(state.settings.request_timeout_seconds);
    let server = serve_http(listener, app, header_timeout, shutdown);
    let grace = Duration::from_secs(state.settings.request_timeout_seconds + 5);
    let deadline = async move {
        let _ = signal_seen.wait_for(|seen| *seen).await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        () = server => {}
        () = deadline => {
            tracing::warn!(grace_s = grace.as_secs(), "connections still open after the shutdown grace period were dropped");
        }
    }

    // Workers finish the job in hand. One stuck longer than the grace period (a mail
    // server that never responds) is abandoned: its lease expires and another
    // instance runs the job again.
    let _ = stop_workers.send(true);
    let _ = cleanup.await;
    let mut workers = workers;
    let finished = tokio::time::timeout(WORKER_SHUTDOWN_GRACE, async {
        for worker in &mut workers {
            let _ = worker.await;
        }
    })
    .await;
    if finished.is_err() {
        tracing::warn!(
            grace_s = WORKER_SHUTDOWN_GRACE.as_secs(),
            "job workers did not finish in time; their jobs will run again once their leases expire"
        );
        for worker in &workers {
            worker.abort();
        }
    }
    tracing::info!("job workers stopped");
    Ok(())
}

/// How long shutdown waits for job workers to finish the jobs in hand.
pub const WORKER_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
    tracing::info!("shutdown signal received, finishing in-flight requests and jobs");
}
