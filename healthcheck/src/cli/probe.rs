//! `healthcheck probe URL`: one HTTP GET, exit 0 when the answer's status is expected, 1
//! otherwise; silent unless `--verbose`. Docker's `HEALTHCHECK` for images without `curl`.

use std::ops::RangeInclusive;
use std::time::{Duration, Instant};

use http_body_util::Empty;
use hyper::Request;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

use super::commands::parse_duration;
use super::{EXIT_HEALTHY, EXIT_USAGE, Outcome};

/// Docker's code for "unhealthy": the probe never returns 2, which Docker reserves.
const EXIT_PROBE_FAILED: u8 = 1;

/// `probe`'s arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct ProbeArgs {
    /// The URL to GET: `http://host:port/path` (plain HTTP, as a container's own endpoint is).
    pub url: String,
    /// How long the whole request may take.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// The statuses that mean healthy: a code (`200`), a range (`200..=299`, `200-299`) or a
    /// list of those (`200,204`).
    #[arg(long, default_value = "200..=299", value_parser = parse_statuses)]
    pub expect: Statuses,
    /// Print the status and the time taken (and why a probe failed) instead of nothing.
    #[arg(short, long)]
    pub verbose: bool,
}

/// The statuses a probe takes as healthy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statuses(Vec<RangeInclusive<u16>>);

impl Statuses {
    /// Whether `status` is one of them.
    #[must_use]
    pub fn contains(&self, status: u16) -> bool {
        self.0.iter().any(|range| range.contains(&status))
    }
}

fn parse_statuses(text: &str) -> Result<Statuses, String> {
    let code = |part: &str| -> Result<u16, String> {
        part.trim()
            .parse::<u16>()
            .ok()
            .filter(|code| (100..=599).contains(code))
            .ok_or_else(|| {
                format!("`{part}` is not an HTTP status (expected 100 to 599, as in 200..=299)")
            })
    };
    let mut ranges = Vec::new();
    for part in text.split(',') {
        let range = match part.split_once("..=").or_else(|| part.split_once('-')) {
            Some((low, high)) => code(low)?..=code(high)?,
            None => {
                let only = code(part)?;
                only..=only
            }
        };
        if range.is_empty() {
            return Err(format!("`{part}` is an empty range"));
        }
        ranges.push(range);
    }
    Ok(Statuses(ranges))
}

/// What a request found: the status, or why there is none.
async fn get(url: &hyper::Uri) -> Result<u16, String> {
    let host = url.host().ok_or("the URL names no host")?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = url.port_u16().unwrap_or(80);
    let stream = tokio::net::TcpStream::connect((host, port))
        .await
        .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake failed: {e}"))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let path = url.path_and_query().map_or("/", |p| p.as_str());
    // The authority without credentials (refused earlier anyway).
    let authority = match url.port_u16() {
        Some(port) => format!("{}:{port}", url.host().unwrap_or(host)),
        None => url.host().unwrap_or(host).to_owned(),
    };
    let request = Request::get(path)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::USER_AGENT, "healthcheck-probe")
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("the request cannot be made: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("no answer: {e}"))?;
    Ok(response.status().as_u16())
}

/// Runs the probe.
pub(crate) async fn probe(args: &ProbeArgs) -> Outcome {
    let url: hyper::Uri = match args.url.parse() {
        Ok(url) => url,
        Err(error) => {
            return Outcome::error(
                EXIT_USAGE,
                format!(
                    "`{}` is not a URL ({error}); expected http://host:port/path",
                    args.url
                ),
            );
        }
    };
    if url.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Outcome::error(
            EXIT_USAGE,
            "the probe sends no credentials: give a URL without user:password@",
        );
    }
    match url.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Outcome::error(
                EXIT_USAGE,
                "the probe speaks plain HTTP (a container's own endpoint); got an https:// URL",
            );
        }
        _ => {
            return Outcome::error(EXIT_USAGE, format!("`{}` is not an http:// URL", args.url));
        }
    }
    let started = Instant::now();
    let answer = tokio::time::timeout(args.timeout, get(&url)).await;
    let took = started.elapsed();
    let failed = |reason: String| {
        if args.verbose {
            Outcome::error(EXIT_PROBE_FAILED, reason)
        } else {
            Outcome::out(EXIT_PROBE_FAILED, "")
        }
    };
    match answer {
        Ok(Ok(status)) if args.expect.contains(status) => {
            let text = if args.verbose {
                format!("{status} in {:.1} ms\n", took.as_secs_f64() * 1e3)
            } else {
                String::new()
            };
            Outcome::out(EXIT_HEALTHY, text)
        }
        Ok(Ok(status)) => failed(format!(
            "{} answered {status}, not an expected status",
            crate::checks::redact(&args.url)
        )),
        Ok(Err(reason)) => failed(format!("{}: {reason}", crate::checks::redact(&args.url))),
        Err(_) => failed(format!(
            "{}: no answer within {}",
            crate::checks::redact(&args.url),
            humantime::format_duration(args.timeout)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_as_codes_ranges_and_lists() {
        let s = parse_statuses("200..=299").expect("a range");
        assert!(s.contains(204) && !s.contains(301));
        let s = parse_statuses("200,204, 300-302").expect("a list");
        assert!(s.contains(204) && s.contains(301) && !s.contains(201));
        for bad in ["", "abc", "99", "600", "300..=200", "200..="] {
            assert!(parse_statuses(bad).is_err(), "{bad}");
        }
    }
}
