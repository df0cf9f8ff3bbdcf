//! The HTTP checker: healthy when a request to a URL answers with an expected status (and, when
//! asked, carries a header or a piece of text in its body).

use std::fmt;
use std::ops::{Range, RangeInclusive};
use std::sync::Arc;
use std::time::Instant;

use ::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::check::Check;
use crate::checks::{Common, MASK, common_settings, redact};
use crate::component::Component;

/// How much of a response body is read, at most: 1 MiB. [`Http::body_contains`] looks for its
/// text in this much of the body; a longer body is not read further.
pub const BODY_LIMIT: usize = 1 << 20;

/// An HTTP(S) check, made by [`http`](fn@http): healthy when a request to the URL answers with
/// an expected status (200 to 299 unless [`expect_status`](Http::expect_status) says
/// otherwise), and, where asked, with a header ([`expect_header`](Http::expect_header)) and a
/// piece of text in its body ([`body_contains`](Http::body_contains)).
///
/// The request is `GET` (or [`HEAD`](Http::head), or any [`method`](Http::method)), without a
/// body, redirects not followed unless [`follow_redirects`](Http::follow_redirects) says so, no
/// proxy (the `HTTP_PROXY` variables are ignored: the check measures the direct path), over
/// HTTP/1.1. HTTPS trusts the system's certificate authorities (and any
/// [`root_certificate`](Http::root_certificate)), with TLS by `rustls`. Each checker keeps one
/// client whose connections are reused from run to run.
///
/// Messages: `URL is available`; `server responded with unexpected status code: 503`;
/// `Error connecting to URL: <the error and its causes>` (refused, TLS, DNS, too many
/// redirects); and one for a missing header or text. The URL itself is never in a message, so
/// neither is its password nor its query.
///
/// Fields: `status_code` (when a response came) and `ttfb_ms`, the time to the response's first
/// byte: from the request until the response's headers were in (through every redirect
/// followed), connecting included.
///
/// # Example
/// ```no_run
/// use std::time::Duration;
/// use healthcheck::{HealthChecks, checks};
///
/// let health = HealthChecks::builder()
///     .check(
///         checks::http("billing api", "https://billing.internal/healthz")
///             .header("Authorization", "Bearer s3cret")
///             .expect_status([200, 204])
///             .body_contains("ok")
///             .timeout(Duration::from_secs(1)),
///     )
///     .build()?;
/// # Ok::<(), healthcheck::Error>(())
/// ```
#[must_use = "a checker does nothing until it is given to HealthChecksBuilder::check"]
pub struct Http {
    common: Common,
    /// The URL as given, for `Debug` (redacted there).
    target: String,
    url: Option<reqwest::Url>,
    method: Method,
    expected: StatusCodes,
    redirects: usize,
    body_contains: Option<String>,
    headers: HeaderMap,
    expect_headers: Vec<(HeaderName, HeaderValue)>,
    roots: Vec<CertificateDer<'static>>,
    accept_invalid_certs: bool,
}

common_settings!(Http);

impl fmt::Debug for Http {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<String> = self
            .headers
            .keys()
            .map(|name| format!("{name}: {MASK}"))
            .collect();
        f.debug_struct("Http")
            .field("name", &self.common.name())
            .field("url", &redact(&self.target))
            .field("method", &self.method)
            .field("expected", &self.expected)
            .field("redirects", &self.redirects)
            .field("body_contains", &self.body_contains)
            .field("headers", &headers)
            .field("expect_headers", &self.expect_headers)
            .field("root_certificates", &self.roots.len())
            .field("accept_invalid_certs", &self.accept_invalid_certs)
            .finish_non_exhaustive()
    }
}

/// A check named `name` that requests `url` (`http://` or `https://`) and is healthy when the
/// answer has a status in 200..=299. A password in the URL (`https://user:pw@host/`) is sent as
/// basic authentication and never shown.
///
/// A URL that does not parse, or whose scheme is not `http` or `https`, makes
/// [`HealthChecksBuilder::build`](crate::HealthChecksBuilder::build) fail with
/// [`Error::InvalidCheck`](crate::Error::InvalidCheck); so does any malformed setting of the
/// builder.
#[track_caller]
pub fn http(name: impl Into<String>, url: impl AsRef<str>) -> Http {
    let mut common = Common::new(name);
    let target = url.as_ref().trim().to_owned();
    let url = match reqwest::Url::parse(&target) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Some(url),
        Ok(url) if url.has_host() || !matches!(url.scheme(), "http" | "https") => {
            common.invalid(format!(
                "the URL's scheme is {:?}; only http and https can be checked",
                url.scheme()
            ));
            None
        }
        Ok(_) => {
            common.invalid("the URL has no host");
            None
        }
        // The URL is not repeated: it may hold a password that does not even parse.
        Err(e) => {
            common.invalid(format!("invalid URL: {e}"));
            None
        }
    };
    Http {
        common,
        target,
        url,
        method: Method::GET,
        expected: StatusCodes::success(),
        redirects: 0,
        body_contains: None,
        headers: HeaderMap::new(),
        expect_headers: Vec::new(),
        roots: Vec::new(),
        accept_invalid_certs: false,
    }
}

impl Http {
    /// The request's method. Defaults to `GET`.
    pub fn method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    /// Sends `HEAD` rather than `GET`: the status and headers without the body.
    pub fn head(self) -> Self {
        self.method(Method::HEAD)
    }

    /// The statuses that are healthy: one code (`204`), a list (`[200, 204]`) or a range
    /// (`200..=399`). Defaults to 200..=299. Replaces what an earlier call set.
    ///
    /// A code outside 100..=999 or an empty list or range fails the build.
    pub fn expect_status(mut self, statuses: impl Into<StatusCodes>) -> Self {
        let statuses = statuses.into();
        if let Err(reason) = statuses.validate() {
            self.common.invalid(reason);
        }
        self.expected = statuses;
        self
    }

    /// Follows up to `max` redirects, and judges the last response. Defaults to none: a `3xx`
    /// is then the answer, unhealthy unless [`expect_status`](Self::expect_status) lists it.
    /// More redirects than `max` make the check unhealthy.
    pub fn follow_redirects(mut self, max: usize) -> Self {
        self.redirects = max;
        self
    }

    /// Asks that the response body hold `text` (compared byte for byte, case included). Only
    /// the first [`BODY_LIMIT`] (1 MiB) of the body is read and searched.
    ///
    /// With [`HEAD`](Self::head), whose responses have no body, the build fails.
    pub fn body_contains(mut self, text: impl Into<String>) -> Self {
        self.body_contains = Some(text.into());
        self
    }

    /// Sends the header `name: value` with the request (a second call with the same name
    /// replaces the value). An `Authorization`, `Cookie` or `Proxy-Authorization` value is
    /// kept out of `Debug`, messages and logs (and so are all values, in `Debug`).
    ///
    /// A name or value that is not valid in HTTP fails the build; the value is not repeated
    /// in the error.
    pub fn header(mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        match header_pair(name.as_ref(), value.as_ref()) {
            Ok((name, mut value)) => {
                value.set_sensitive(true);
                self.headers.insert(name, value);
            }
            Err(reason) => self.common.invalid(format!("request header: {reason}")),
        }
        self
    }

    /// Asks that the response carry the header `name` with exactly `value` (the name compared
    /// without case, the value as is; with several headers of that name, one of them must
    /// match). Can be called for several headers; all must match.
    ///
    /// A name or value that is not valid in HTTP fails the build.
    pub fn expect_header(mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        match header_pair(name.as_ref(), value.as_ref()) {
            Ok(pair) => self.expect_headers.push(pair),
            Err(reason) => self.common.invalid(format!("expected header: {reason}")),
        }
        self
    }

    /// Trusts the certificate authorities in `pem` (one or more `-----BEGIN CERTIFICATE-----`
    /// blocks) besides the system's: for a service behind a private CA. Can be called several
    /// times.
    ///
    /// A `pem` without a certificate, or with one that does not parse, fails the build.
    pub fn root_certificate(mut self, pem: impl AsRef<[u8]>) -> Self {
        let certificates: Result<Vec<_>, _> =
            CertificateDer::pem_slice_iter(pem.as_ref()).collect();
        match certificates {
            Ok(certificates) if certificates.is_empty() => self
                .common
                .invalid("root_certificate: no PEM certificate found"),
            Ok(certificates) => {
                let mut store = RootCertStore::empty();
                for certificate in certificates {
                    match store.add(certificate.clone()) {
                        Ok(()) => self.roots.push(certificate),
                        Err(e) => {
                            self.common.invalid(format!("root_certificate: {e}"));
                            break;
                        }
                    }
                }
            }
            Err(e) => self.common.invalid(format!("root_certificate: {e}")),
        }
        self
    }

    /// Accepts any certificate the server presents: expired, self-signed, for another name.
    /// Defaults to `false`.
    ///
    /// **Warning:** the check then proves nothing about the server's identity, and a
    /// certificate about to expire or already expired is reported healthy. Prefer
    /// [`root_certificate`](Self::root_certificate) for a private CA; keep this for test
    /// environments.
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.accept_invalid_certs = accept;
        self
    }
}

/// Parses a header, saying what is wrong without repeating the value.
fn header_pair(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), String> {
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("{:?} is not a valid header name", redact(name)))?;
    let value = HeaderValue::from_str(value)
        .map_err(|_| format!("the value of {name} is not a valid header value"))?;
    Ok((name, value))
}

/// The statuses a check finds healthy, for [`Http::expect_status`]: made from one code
/// (`200`, `StatusCode::OK`), a list (`[200, 204]`, a `Vec` or a slice of codes) or a range
/// (`200..=399`, `200..400`).
#[derive(Clone, PartialEq, Eq)]
pub struct StatusCodes {
    ranges: Vec<RangeInclusive<u16>>,
}

impl StatusCodes {
    /// 200..=299.
    fn success() -> Self {
        (200..=299).into()
    }

    /// Whether `code` is one of these.
    fn contains(&self, code: u16) -> bool {
        self.ranges.iter().any(|range| range.contains(&code))
    }

    fn validate(&self) -> Result<(), String> {
        if self.ranges.is_empty() || self.ranges.iter().all(RangeInclusive::is_empty) {
            return Err("expect_status: no status code given".to_owned());
        }
        for range in &self.ranges {
            for code in [range.start(), range.end()] {
                if !(100..=999).contains(code) {
                    return Err(format!(
                        "expect_status: {code} is not a status code (100..=999)"
                    ));
                }
            }
        }
        Ok(())
    }
}

impl fmt::Debug for StatusCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for range in &self.ranges {
            if range.start() == range.end() {
                list.entry(range.start());
            } else {
                list.entry(range);
            }
        }
        list.finish()
    }
}

impl From<u16> for StatusCodes {
    fn from(code: u16) -> Self {
        Self {
            ranges: vec![code..=code],
        }
    }
}

impl From<StatusCode> for StatusCodes {
    fn from(code: StatusCode) -> Self {
        code.as_u16().into()
    }
}

impl From<&[u16]> for StatusCodes {
    fn from(codes: &[u16]) -> Self {
        Self {
            ranges: codes.iter().map(|&code| code..=code).collect(),
        }
    }
}

impl<const N: usize> From<[u16; N]> for StatusCodes {
    fn from(codes: [u16; N]) -> Self {
        codes[..].into()
    }
}

impl From<Vec<u16>> for StatusCodes {
    fn from(codes: Vec<u16>) -> Self {
        codes[..].into()
    }
}

impl From<RangeInclusive<u16>> for StatusCodes {
    fn from(range: RangeInclusive<u16>) -> Self {
        Self {
            ranges: vec![range],
        }
    }
}

impl From<Range<u16>> for StatusCodes {
    fn from(range: Range<u16>) -> Self {
        #[allow(clippy::reversed_empty_ranges)]
        let range = if range.is_empty() {
            1..=0
        } else {
            range.start..=range.end - 1
        };
        range.into()
    }
}

impl From<Http> for Check {
    fn from(http: Http) -> Check {
        let Http {
            mut common,
            target: _,
            url,
            method,
            expected,
            redirects,
            body_contains,
            headers,
            expect_headers,
            roots,
            accept_invalid_certs,
        } = http;
        if body_contains.is_some() && method == Method::HEAD {
            common.invalid("body_contains needs a response body, and a HEAD response has none");
        }
        let probe = match (url, common.is_invalid()) {
            (Some(url), false) => {
                match Probe::new(
                    url,
                    method,
                    headers,
                    redirects,
                    &roots,
                    accept_invalid_certs,
                ) {
                    Ok(probe) => Some(probe),
                    Err(reason) => {
                        common.invalid(reason);
                        None
                    }
                }
            }
            _ => None,
        };
        let Some(probe) = probe else {
            // Never run: `build()` fails with the reason recorded above.
            return common.into_check(|| async { Component::unhealthy("invalid HTTP check") });
        };
        let probe = Arc::new(Expectations {
            probe,
            expected,
            body_contains: body_contains.map(String::into_bytes),
            expect_headers,
        });
        common.into_check(move || {
            let probe = Arc::clone(&probe);
            async move { probe.run().await }
        })
    }
}

/// The client and the request it sends.
struct Probe {
    client: reqwest::Client,
    /// The request's parts, made once (the URL's credentials moved to an `Authorization`
    /// header); each run sends a request of copies of them.
    method: Method,
    url: reqwest::Url,
    headers: HeaderMap,
}

impl Probe {
    fn new(
        url: reqwest::Url,
        method: Method,
        headers: HeaderMap,
        redirects: usize,
        roots: &[CertificateDer<'static>],
        accept_invalid_certs: bool,
    ) -> Result<Self, String> {
        let tls = tls_config(roots, accept_invalid_certs)?;
        let redirect = match redirects {
            0 => reqwest::redirect::Policy::none(),
            max => reqwest::redirect::Policy::limited(max),
        };
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .no_proxy()
            .redirect(redirect)
            .referer(false)
            .user_agent(concat!("healthcheck/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {}", error_chain(&e)))?;
        // reqwest moves the URL's credentials to a basic `Authorization` header (marked
        // sensitive); one given with `header` wins over them.
        let template = client
            .request(method, url)
            .headers(headers)
            .build()
            .map_err(|e| format!("cannot build the request: {}", error_chain(&e)))?;
        Ok(Self {
            method: template.method().clone(),
            url: template.url().clone(),
            headers: template.headers().clone(),
            client,
        })
    }

    fn request(&self) -> reqwest::Request {
        let mut request = reqwest::Request::new(self.method.clone(), self.url.clone());
        *request.headers_mut() = self.headers.clone();
        request
    }
}

/// A TLS client configuration on `rustls` with the `ring` provider: the system's roots plus
/// `roots`, or no verification at all.
fn tls_config(
    roots: &[CertificateDer<'static>],
    accept_invalid_certs: bool,
) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = if accept_invalid_certs {
        Arc::new(AcceptAnyCertificate(Arc::clone(&provider)))
    } else {
        match rustls_platform_verifier::Verifier::new_with_extra_roots(
            roots.iter().cloned(),
            Arc::clone(&provider),
        ) {
            Ok(verifier) => Arc::new(verifier),
            // No system roots (a minimal container) and none given: plain HTTP still works, and
            // HTTPS says why it cannot.
            Err(e) => Arc::new(NoTrust {
                reason: e.to_string(),
                provider: Arc::clone(&provider),
            }),
        }
    };
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// What each run checks.
struct Expectations {
    probe: Probe,
    expected: StatusCodes,
    body_contains: Option<Vec<u8>>,
    expect_headers: Vec<(HeaderName, HeaderValue)>,
}

impl Expectations {
    async fn run(&self) -> Component {
        let request = self.probe.request();
        let reads_body = request.method() != Method::HEAD;
        let started = Instant::now();
        let mut response = match self.probe.client.execute(request).await {
            Ok(response) => response,
            Err(e) => {
                let message = format!("Error connecting to URL: {}", error_chain(&e));
                return Component::unhealthy(redact(&message).into_owned());
            }
        };
        let ttfb = started.elapsed();
        let status = response.status().as_u16();
        let component = Component::healthy()
            .field("status_code", status)
            .field("ttfb_ms", ttfb.as_secs_f64() * 1000.0);
        let failure = if !self.expected.contains(status) {
            Some(format!(
                "server responded with unexpected status code: {status}"
            ))
        } else {
            self.header_failure(response.headers())
        };
        // The body is read (up to the limit) in every case, so that the connection can go back
        // to the pool.
        let body = if reads_body {
            match read_body(&mut response).await {
                Ok(body) => body,
                Err(e) if failure.is_none() => {
                    let message = format!("Error reading the response body: {}", error_chain(&e));
                    return with_failure(component, redact(&message).into_owned());
                }
                Err(_) => Vec::new(),
            }
        } else {
            Vec::new()
        };
        if let Some(failure) = failure {
            return with_failure(component, failure);
        }
        if let Some(text) = &self.body_contains {
            if !contains(&body, text) {
                let message = format!(
                    "the response body does not contain {:?}{}",
                    String::from_utf8_lossy(text),
                    if body.len() >= BODY_LIMIT {
                        " (in its first 1 MiB)"
                    } else {
                        ""
                    }
                );
                return with_failure(component, redact(&message).into_owned());
            }
        }
        component.message("URL is available")
    }

    /// The first expected header the response lacks, said as a message.
    fn header_failure(&self, headers: &HeaderMap) -> Option<String> {
        for (name, value) in &self.expect_headers {
            let mut found = headers.get_all(name).iter().peekable();
            let Some(first) = found.peek().copied() else {
                return Some(format!("the response has no {name} header"));
            };
            if found.all(|found| found != value) {
                let message = format!(
                    "the response header {name} is {:?}, expected {:?}",
                    String::from_utf8_lossy(first.as_bytes()),
                    String::from_utf8_lossy(value.as_bytes())
                );
                return Some(redact(&message).into_owned());
            }
        }
        None
    }
}

fn with_failure(mut component: Component, message: String) -> Component {
    component.set_healthy(false);
    component.set_status_message(message);
    component
}

/// The body, up to [`BODY_LIMIT`] bytes.
async fn read_body(response: &mut reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = BODY_LIMIT - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= BODY_LIMIT {
            break;
        }
    }
    Ok(body)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || haystack
            .windows(needle.len())
            .any(|window| window == needle)
}

/// The error and its causes, `: `-separated, without the URL (which may hold credentials) and
/// without repeating a cause that says the same as the one before.
fn error_chain(error: &reqwest::Error) -> String {
    let mut out = String::new();
    let top = format!("{}", DisplayWithoutUrl(error));
    push_cause(&mut out, &top);
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        push_cause(&mut out, &cause.to_string());
        source = cause.source();
    }
    out
}

fn push_cause(out: &mut String, cause: &str) {
    if cause.is_empty() || out.ends_with(cause) {
        return;
    }
    if !out.is_empty() {
        out.push_str(": ");
    }
    out.push_str(cause);
}

/// A `reqwest::Error` shown without its URL.
struct DisplayWithoutUrl<'a>(&'a reqwest::Error);

impl fmt::Display for DisplayWithoutUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0.to_string();
        // reqwest says "<what> for url (<url>)"; the URL is cut off.
        match text.find(" for url (") {
            Some(at) => f.write_str(&text[..at]),
            None => f.write_str(&text),
        }
    }
}

/// Trusts any server certificate, for [`Http::danger_accept_invalid_certs`]; the handshake's
/// signatures are still checked.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Trusts no certificate, saying why: the system's roots could not be loaded.
#[derive(Debug)]
struct NoTrust {
    reason: String,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for NoTrust {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Err(rustls::Error::General(format!(
            "no certificate authority to trust ({}); give one with root_certificate",
            self.reason
        )))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_from_a_code_a_list_and_ranges() {
        assert!(StatusCodes::success().contains(204));
        assert!(!StatusCodes::success().contains(302));
        let one = StatusCodes::from(204);
        assert!(one.contains(204) && !one.contains(200));
        let list = StatusCodes::from([200, 301]);
        assert!(list.contains(301) && !list.contains(302));
        let range = StatusCodes::from(200..400);
        assert!(range.contains(399) && !range.contains(400));
        let inclusive = StatusCodes::from(500..=503);
        assert!(inclusive.contains(503) && !inclusive.contains(504));
        assert!(StatusCodes::from(StatusCode::NO_CONTENT).contains(204));
        for (bad, says) in [
            (StatusCodes::from(Vec::new()), "no status code"),
            (StatusCodes::from(300..300), "no status code"),
            (StatusCodes::from(99), "100..=999"),
            (StatusCodes::from(200..=1000), "100..=999"),
        ] {
            let err = bad.validate().expect_err(says);
            assert!(err.contains(says), "{err}");
        }
    }

    #[test]
    fn error_chains_skip_repeats() {
        let mut out = String::new();
        for cause in ["a", "b", "b", "", "c"] {
            push_cause(&mut out, cause);
        }
        assert_eq!(out, "a: b: c");
    }

    #[test]
    fn bodies_are_searched_for_bytes() {
        assert!(contains(b"status: ok", b"ok"));
        assert!(!contains(b"status: down", b"ok"));
        assert!(contains(b"", b""));
    }
}
