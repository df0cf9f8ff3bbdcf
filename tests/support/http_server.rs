//! A scripted HTTP(S) server on loopback, on hyper, for the HTTP checker's tests and benchmark.
//! It runs on a thread and runtime of its own (so it outlives the runtimes of the clients under
//! test), answers by path, and records every request it gets.
//!
//! | path | answer |
//! |---|---|
//! | `/ok` | 200, `ok` |
//! | `/status/<code>` | `<code>`, `status <code>` |
//! | `/delay/<ms>` | 200 after `<ms>` milliseconds |
//! | `/slow-first/<ms>` | 200, after `<ms>` milliseconds the first time only |
//! | `/redirect/<path>` | 302 to `/<path>` |
//! | `/body/<text>` | 200, `<text>` |
//! | `/header/<name>/<value>` | 200 with the header `<name>: <value>` |
//! | `/big/<bytes>/<text>` | 200, `<bytes>` dots then `<text>` |
//! | `/echo` | 200, the request's method in `x-method`, its headers as the body |
//! | anything else | 404 |

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// A request as the server got it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
}

/// The server: stopped when dropped.
pub struct HttpServer {
    pub addr: SocketAddr,
    tls: bool,
    seen: Arc<Mutex<Vec<Seen>>>,
    connections: Arc<AtomicUsize>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// A plain HTTP server.
    pub fn start() -> Self {
        Self::start_with(None)
    }

    /// An HTTPS server presenting `tls`'s certificate.
    pub fn start_tls(tls: Arc<rustls::ServerConfig>) -> Self {
        Self::start_with(Some(tokio_rustls::TlsAcceptor::from(tls)))
    }

    /// A plain HTTP server on `addr`: the same server started again.
    pub fn start_on(addr: SocketAddr) -> Self {
        Self::start_with_on(None, addr)
    }

    fn start_with(tls: Option<tokio_rustls::TlsAcceptor>) -> Self {
        Self::start_with_on(tls, SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    fn start_with_on(tls: Option<tokio_rustls::TlsAcceptor>, addr: SocketAddr) -> Self {
        let listener = std::net::TcpListener::bind(addr).expect("bind on loopback");
        listener.set_nonblocking(true).expect("non-blocking");
        let addr = listener.local_addr().expect("bound");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (stop, stopped) = oneshot::channel();
        let is_tls = tls.is_some();
        let connections = Arc::new(AtomicUsize::new(0));
        let thread = {
            let seen = Arc::clone(&seen);
            let connections = Arc::clone(&connections);
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()
                    .expect("the server's runtime");
                runtime.block_on(serve(listener, tls, seen, connections, stopped));
            })
        };
        Self {
            addr,
            tls: is_tls,
            seen,
            connections,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:<port><path>`, or `https://localhost:<port><path>` for TLS (the name
    /// the certificate is for).
    pub fn url(&self, path: &str) -> String {
        if self.tls {
            format!("https://localhost:{}{path}", self.addr.port())
        } else {
            format!("http://{}{path}", self.addr)
        }
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// How many connections were accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(
    listener: std::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    seen: Arc<Mutex<Vec<Seen>>>,
    connections: Arc<AtomicUsize>,
    mut stopped: oneshot::Receiver<()>,
) {
    let listener = TcpListener::from_std(listener).expect("a tokio listener");
    loop {
        let stream = tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => continue,
            },
        };
        connections.fetch_add(1, Ordering::SeqCst);
        let _ = stream.set_nodelay(true);
        let seen = Arc::clone(&seen);
        let tls = tls.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let seen = Arc::clone(&seen);
                async move { Ok::<_, Infallible>(answer(request, &seen).await) }
            });
            let builder = hyper::server::conn::http1::Builder::new();
            match tls {
                Some(tls) => {
                    if let Ok(stream) = tls.accept(stream).await {
                        let _ = builder
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    }
                }
                None => {
                    let _ = builder
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                }
            }
        });
    }
}

async fn answer(request: Request<Incoming>, seen: &Mutex<Vec<Seen>>) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let first = {
        let mut seen = seen.lock().unwrap_or_else(|e| e.into_inner());
        let first = !seen.iter().any(|s| s.path == path);
        seen.push(Seen {
            method: request.method().clone(),
            path: path.clone(),
            headers: request.headers().clone(),
        });
        first
    };
    let respond = |status: u16, body: String| {
        Response::builder()
            .status(status)
            .body(Full::new(Bytes::from(body)))
            .expect("a response")
    };
    let parts: Vec<&str> = path.trim_start_matches('/').splitn(3, '/').collect();
    match parts.as_slice() {
        ["ok"] => respond(200, "ok".to_owned()),
        ["status", code] => match code.parse::<u16>() {
            Ok(code) if StatusCode::from_u16(code).is_ok() => {
                respond(code, format!("status {code}"))
            }
            _ => respond(400, "bad code".to_owned()),
        },
        ["delay", ms] => {
            let ms = ms.parse().unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            respond(200, "slow".to_owned())
        }
        ["slow-first", ms] => {
            if first {
                tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(0))).await;
            }
            respond(200, "ok".to_owned())
        }
        ["redirect", rest @ ..] => Response::builder()
            .status(302)
            .header("location", format!("/{}", rest.join("/")))
            .body(Full::new(Bytes::from_static(b"moved")))
            .expect("a response"),
        ["body", text] => respond(200, (*text).to_owned()),
        ["header", name, value] => Response::builder()
            .status(200)
            .header(*name, *value)
            .body(Full::new(Bytes::from_static(b"ok")))
            .expect("a response"),
        ["big", bytes, text] => {
            let mut body = ".".repeat(bytes.parse().unwrap_or(0));
            body.push_str(text);
            respond(200, body)
        }
        ["echo"] => {
            let mut body = String::new();
            for (name, value) in request.headers() {
                body.push_str(&format!(
                    "{name}: {}\n",
                    String::from_utf8_lossy(value.as_bytes())
                ));
            }
            Response::builder()
                .status(200)
                .header("x-method", request.method().as_str())
                .body(Full::new(Bytes::from(body)))
                .expect("a response")
        }
        _ => respond(404, "not found".to_owned()),
    }
}

/// A certificate authority made for the test, and a server certificate it signed for
/// `localhost` and `127.0.0.1`.
pub struct TestCa {
    /// The authority's certificate, PEM.
    pub ca_pem: String,
    /// A server configuration presenting the signed certificate.
    pub server: Arc<rustls::ServerConfig>,
    /// The signed certificate, PEM, for servers configured by files (etcd).
    pub server_cert_pem: String,
    /// Its private key, PEM.
    pub server_key_pem: String,
}

impl TestCa {
    pub fn new() -> Self {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "healthcheck test CA");
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("a CA key"))
            .expect("the CA certificate");
        let key = KeyPair::generate().expect("a server key");
        let params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("server parameters");
        let certificate = params.signed_by(&key, &ca).expect("the server certificate");
        let server = server_config(
            vec![certificate.der().clone(), ca.der().clone()],
            key.serialize_der(),
        );
        Self {
            ca_pem: ca.pem(),
            server,
            server_cert_pem: certificate.pem(),
            server_key_pem: key.serialize_pem(),
        }
    }

    /// A server configuration with a self-signed certificate for `localhost`, which no
    /// authority vouches for.
    pub fn self_signed() -> Arc<rustls::ServerConfig> {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
            .expect("a self-signed certificate");
        server_config(
            vec![certified.cert.der().clone()],
            certified.signing_key.serialize_der(),
        )
    }
}

fn server_config(
    chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    key: Vec<u8>,
) -> Arc<rustls::ServerConfig> {
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key.into());
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .expect("a server configuration");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}
