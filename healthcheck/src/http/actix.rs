//! The endpoints as an actix-web service configuration.
//!
//! ```
//! use actix_web::{App, web};
//! use healthcheck::{HealthChecks, http::HttpOptions};
//!
//! # fn main() -> Result<(), healthcheck::Error> {
//! let handler = HttpOptions::new().build(HealthChecks::builder().build()?)?;
//! let app = App::new()
//!     .route("/", web::get().to(|| async { "hello" }))
//!     .configure(healthcheck::http::actix::configure(handler));
//! # let _ = app;
//! # Ok(())
//! # }
//! ```

use actix_web::{HttpRequest, HttpResponse, web};

use crate::http::{HealthHandler, HealthRequest, ROUTES};

/// Registers every endpoint (under the handler's base path), for `App::configure`.
pub fn configure(handler: HealthHandler) -> impl Fn(&mut web::ServiceConfig) + Clone {
    move |config: &mut web::ServiceConfig| {
        let base = handler.base_path().to_owned();
        config.app_data(web::Data::new(handler.clone()));
        for route in ROUTES {
            config.route(&format!("{base}{route}"), web::route().to(answer));
        }
    }
}

async fn answer(request: HttpRequest, handler: web::Data<HealthHandler>) -> HttpResponse {
    // actix-web speaks `http` 0.2; the handler, `http` 1: carry over what it reads.
    let method = ::http::Method::from_bytes(request.method().as_str().as_bytes())
        .unwrap_or(::http::Method::OPTIONS);
    // actix-web writes a HEAD response's headers from the GET body and leaves the body out
    // itself; an empty body would make its `Content-Length` 0.
    let method = if method == ::http::Method::HEAD {
        ::http::Method::GET
    } else {
        method
    };
    let mut headers = ::http::HeaderMap::new();
    for name in [::http::header::ACCEPT, ::http::header::AUTHORIZATION] {
        for value in request.headers().get_all(name.as_str()) {
            if let Ok(value) = ::http::HeaderValue::from_bytes(value.as_bytes()) {
                headers.append(name.clone(), value);
            }
        }
    }
    let uri = request.uri();
    let response = handler
        .handle(HealthRequest {
            method: &method,
            path: uri.path(),
            query: uri.query(),
            headers: &headers,
        })
        .await;
    let status = actix_web::http::StatusCode::from_u16(response.status.as_u16())
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = HttpResponse::build(status);
    for (name, value) in &response.headers {
        builder.insert_header((name.as_str(), value.as_bytes()));
    }
    builder.body(response.body)
}
