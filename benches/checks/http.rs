//! `checks::http` against a local hyper server, over a `reqwest::Client` with the checker's
//! settings (no proxy, no redirects, rustls on ring): one GET, its body read.

use std::sync::Arc;

use healthcheck::checks;

use crate::http_server::HttpServer;
use crate::{Row, compare};

pub(crate) fn bench(runtime: &tokio::runtime::Runtime) -> Row {
    let server = HttpServer::start();
    let url = server.url("/ok");
    let mut tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .referer(false)
        .build()
        .expect("a client");
    let row = compare(
        runtime,
        "http",
        {
            let url = url.clone();
            move || {
                let request = client.get(&url).send();
                async move {
                    match request.await {
                        Ok(response) => {
                            response.status().is_success() && response.bytes().await.is_ok()
                        }
                        Err(_) => false,
                    }
                }
            }
        },
        checks::http("http", &url),
    );
    drop(server);
    row
}
