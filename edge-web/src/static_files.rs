//! Static assets, compiled into the binary so it runs from any directory.

use axum::{
    extract::Path,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};

/// Every asset: path under `/static/`, content type, bytes.
const FILES: &[(&str, &str, &str)] = &[
    ("app.css", "text/css; charset=utf-8", include_str!("../static/app.css")),
    ("js/app.js", "text/javascript; charset=utf-8", include_str!("../static/js/app.js")),
    ("js/chat.js", "text/javascript; charset=utf-8", include_str!("../static/js/chat.js")),
    ("js/qr.js", "text/javascript; charset=utf-8", include_str!("../static/js/qr.js")),
    ("js/resources.js", "text/javascript; charset=utf-8", include_str!("../static/js/resources.js")),
    ("js/resources_channel.js", "text/javascript; charset=utf-8", include_str!("../static/js/resources_channel.js")),
    ("js/resources_telegram.js", "text/javascript; charset=utf-8", include_str!("../static/js/resources_telegram.js")),
    ("js/resources_zoom.js", "text/javascript; charset=utf-8", include_str!("../static/js/resources_zoom.js")),
];

/// `GET /static/{*path}`.
pub async fn serve(Path(path): Path<String>) -> Response {
    match FILES.iter().find(|(name, _, _)| *name == path) {
        Some((_, content_type, body)) => {
            ([(header::CONTENT_TYPE, *content_type), (header::CACHE_CONTROL, "public, max-age=3600")], *body)
                .into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
