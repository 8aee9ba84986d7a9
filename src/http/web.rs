//! The browser side: GraphiQL at `/`, the gallery app under `/app/`, and their built
//! files under `/assets/`, all read from WEB_DIR (built by `scripts/web.sh build`).
//! Nothing is fetched from elsewhere. When the files are not built, `/` says so and
//! how to build them, rather than showing a blank page.

use std::path::Path;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use tower_http::services::{ServeDir, ServeFile};

use super::HttpState;

const INDEX: &str = "index.html";

/// Whether the browser assets are there; `serve` warns at start when they are not.
pub fn is_built(web_dir: &Path) -> bool {
    web_dir.join(INDEX).is_file()
}

pub(super) fn routes(web_dir: &Path) -> Router<HttpState> {
    let app_dir = web_dir.join("app");
    // Hashed names: a file's content never changes under its name.
    let assets = Router::new()
        .fallback_service(ServeDir::new(web_dir.join("assets")))
        .layer(middleware::from_fn(immutable));
    // Unknown paths under /app/ are the app's own routes: they get its page.
    let gallery = Router::new()
        .fallback_service(ServeDir::new(&app_dir).fallback(ServeFile::new(app_dir.join(INDEX))))
        .layer(middleware::from_fn(revalidate_pages));
    Router::new()
        .route("/", get(graphiql))
        .nest_service("/assets", assets)
        .nest_service("/app", gallery)
}

async fn graphiql(State(state): State<HttpState>) -> Response {
    let web_dir = &state.app.config.http.web_dir;
    match tokio::fs::read(web_dir.join(INDEX)).await {
        Ok(page) => (
            [(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))],
            Html(page),
        )
            .into_response(),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Html(not_built_page(web_dir)),
        )
            .into_response(),
    }
}

fn not_built_page(web_dir: &Path) -> String {
    let dir = html_escape(&web_dir.display().to_string());
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>imagegraph: GraphiQL is not built</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; line-height: 1.5">
<h1>GraphiQL is not built</h1>
<p>The GraphQL API works at <code>/graphql</code> (subscriptions at <code>/graphql/ws</code>),
but the browser assets (GraphiQL and the gallery app) were not found in <code>{dir}</code>.</p>
<p>Build them with <code>scripts/web.sh build</code> (it needs Node.js and npm), or point
<code>WEB_DIR</code> at a built <code>web/dist</code>, then reload this page.</p>
</body></html>
"#
    )
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn immutable(request: axum::extract::Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if response.status().is_success() {
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        );
    }
    response
}

/// The app's page names the current hashed assets: browsers must check it each time.
async fn revalidate_pages(request: axum::extract::Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if is_html {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    response
}
