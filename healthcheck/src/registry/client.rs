//! The registry's connection to etcd: one client, made on first use on the SDK's runtime and
//! made anew after an error.

use std::future::Future;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use etcd_client::{Client, ConnectOptions};

use super::RegistryError;
use crate::fleet::store::StoreUrl;

/// How long etcd may take to answer one request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
/// How many times a call is tried.
const ATTEMPTS: u32 = 3;
/// How long one call may take in all, connecting included.
const CALL_DEADLINE: Duration = Duration::from_secs(5);

pub(crate) struct Connection {
    display: String,
    endpoints: Vec<String>,
    user: Option<(String, String)>,
    connect_timeout: Duration,
    #[cfg(feature = "registry-tls")]
    tls: Option<etcd_client::TlsOptions>,
    client: Mutex<Option<Client>>,
    /// A client without a per-request timeout, for watches, which are one long request.
    stream_client: Mutex<Option<Client>>,
}

impl Connection {
    pub(crate) fn new(
        url: &StoreUrl,
        user: Option<(String, String)>,
        connect_timeout: Duration,
        #[cfg(feature = "registry-tls")] tls: Option<etcd_client::TlsOptions>,
    ) -> Result<Self, String> {
        let (endpoints, url_user) = crate::fleet::store::etcd_endpoints(url)?;
        #[cfg(feature = "registry-tls")]
        let endpoints = if tls.is_some() {
            endpoints
                .into_iter()
                .map(|e| e.replacen("http://", "https://", 1))
                .collect()
        } else {
            endpoints
        };
        Ok(Self {
            display: url.masked().to_owned(),
            endpoints,
            user: user.or(url_user),
            connect_timeout,
            #[cfg(feature = "registry-tls")]
            tls,
            client: Mutex::new(None),
            stream_client: Mutex::new(None),
        })
    }

    /// The URL, its password masked.
    pub(crate) fn display(&self) -> &str {
        &self.display
    }

    /// The client, connecting if there is none. Call on the SDK's runtime.
    pub(crate) async fn client(&self) -> Result<Client, etcd_client::Error> {
        self.connect(&self.client, Some(REQUEST_TIMEOUT)).await
    }

    /// The client for watches, connecting if there is none. Call on the SDK's runtime.
    pub(crate) async fn stream_client(&self) -> Result<Client, etcd_client::Error> {
        self.connect(&self.stream_client, None).await
    }

    async fn connect(
        &self,
        slot: &Mutex<Option<Client>>,
        request_timeout: Option<Duration>,
    ) -> Result<Client, etcd_client::Error> {
        if let Some(client) = slot.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
            return Ok(client.clone());
        }
        let mut options = ConnectOptions::new()
            .with_connect_timeout(self.connect_timeout)
            // A dead connection is noticed within seconds, not at the operating system's pace.
            .with_keep_alive(Duration::from_secs(2), Duration::from_secs(2))
            .with_keep_alive_while_idle(true)
            .with_auto_token_refresh(true);
        if let Some(timeout) = request_timeout {
            options = options.with_timeout(timeout);
        }
        if let Some((name, password)) = &self.user {
            options = options.with_user(name.clone(), password.clone());
        }
        #[cfg(feature = "registry-tls")]
        if let Some(tls) = &self.tls {
            options = options.with_tls(tls.clone());
        }
        let client = Client::connect(&self.endpoints, Some(options)).await?;
        let mut slot = slot.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(slot.get_or_insert(client).clone())
    }

    /// Forgets the client after an error, so that the next call connects anew.
    pub(crate) fn reset(&self) {
        self.client
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }

    /// Forgets the watch client after an error.
    pub(crate) fn reset_streams(&self) {
        self.stream_client
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }

    /// Runs `call` with a client on the SDK's runtime, within a deadline.
    pub(crate) async fn call<T, F, Fut>(
        self: &std::sync::Arc<Self>,
        call: F,
    ) -> Result<T, RegistryError>
    where
        T: Send + 'static,
        F: FnOnce(Client) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<T, etcd_client::Error>> + Send + 'static,
    {
        let runtime =
            crate::health::own_runtime().map_err(|e| RegistryError::new(&self.display, e))?;
        let this = std::sync::Arc::clone(self);
        let task = runtime.spawn(async move {
            tokio::time::timeout(CALL_DEADLINE, async {
                // A member that just went away can take a request or two before the client's
                // balancing stops sending it any: try the others.
                let mut attempt = 0;
                loop {
                    let outcome = match this.client().await {
                        Ok(client) => call.clone()(client).await,
                        Err(error) => Err(error),
                    };
                    match outcome {
                        Err(error) if attempt < ATTEMPTS - 1 => {
                            tracing::debug!(%error, attempt, "a registry request failed; trying again");
                            this.reset();
                            attempt += 1;
                            tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
                        }
                        outcome => break outcome,
                    }
                }
            })
            .await
        });
        match task.await {
            Ok(Ok(Ok(answer))) => Ok(answer),
            Ok(Ok(Err(error))) => {
                self.reset();
                Err(RegistryError::new(&self.display, error))
            }
            Ok(Err(_elapsed)) => {
                self.reset();
                Err(RegistryError::new(
                    &self.display,
                    format!(
                        "no answer within {}",
                        humantime::format_duration(CALL_DEADLINE)
                    ),
                ))
            }
            Err(join) => Err(RegistryError::new(
                &self.display,
                format!("the registry's task failed: {join}"),
            )),
        }
    }
}
