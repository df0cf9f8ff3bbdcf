//! A standalone HTTP server for the endpoints, on hyper, for programs without a web framework
//! (the status server of a daemon or a worker).
//!
//! ```no_run
//! use healthcheck::{HealthChecks, http::{HttpOptions, server::Server}};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let handler = HttpOptions::new().build(HealthChecks::builder().build()?)?;
//! let server = Server::bind("[::]:5151", handler).await?;
//! // ... on SIGTERM:
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::http::HealthHandler;
use crate::http::tower::HealthService;

/// How long [`Server::shutdown`] waits for requests in progress.
const GRACE: Duration = Duration::from_secs(10);

/// A running server; [`shutdown`](Self::shutdown) stops it gracefully.
#[derive(Debug)]
pub struct Server {
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    handler: HealthHandler,
}

impl Server {
    /// Binds `address` (IPv4 or IPv6, such as `0.0.0.0:5151` or `[::]:5151`) and serves the
    /// endpoints over HTTP/1 and HTTP/2 on the current Tokio runtime.
    ///
    /// # Errors
    /// When the address cannot be resolved or bound.
    pub async fn bind(address: impl ToSocketAddrs, handler: HealthHandler) -> io::Result<Self> {
        let listener = TcpListener::bind(address).await?;
        let local_addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(serve(
            listener,
            HealthService::new(handler.clone()),
            stopped,
        ));
        Ok(Self {
            local_addr,
            stop: Some(stop),
            task,
            handler,
        })
    }

    /// The address it listens on (with the port the system chose for port 0).
    #[must_use]
    pub const fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting connections, lets requests in progress finish (up to 10 seconds), and
    /// returns. Call [`HealthHandler::begin_shutdown`] first, and wait for the load balancers to
    /// notice, to drain traffic before that.
    pub async fn shutdown(mut self) {
        self.handler.begin_shutdown();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn serve(listener: TcpListener, service: HealthService, mut stopped: oneshot::Receiver<()>) {
    let graceful = GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(connection) => connection,
                    Err(error) => {
                        // Out of file descriptors and the like: back off a little, go on.
                        tracing::debug!(%error, "could not accept a connection");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let connection = builder
                    .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service.clone()))
                    .into_owned();
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    if let Err(error) = connection.await {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                });
            }
            _ = &mut stopped => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in progress after {GRACE:?}; stopping anyway");
    }
}
