//! The QR tool's form, shared by the `/qr` page and `POST /api/qr/build`: reading its multipart
//! body, building the code through core, and naming what is wrong by the form's own fields.

use std::fmt::Display;

use assistchat_proto::v1::{BuildQrRequest, QrErrorCorrection, QrImageFormat};
use axum::{
    extract::{FromRequest, Multipart, Request, multipart::MultipartError},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use tonic_types::StatusExt;

use super::{CallMeta, Core};
use crate::error::AppError;

/// The largest logo core takes.
pub const MAX_LOGO_BYTES: usize = 2 * 1024 * 1024;
/// The largest form body: the largest logo, with room for the other fields and the framing.
pub const MAX_BODY_BYTES: usize = MAX_LOGO_BYTES + 64 * 1024;

/// The form's fields, as the page and the API name them.
pub const FIELDS: [&str; 7] = ["data", "size", "fg", "bg", "ecc", "format", "logo"];

/// What was filled in, kept as sent so that a page can show it again.
#[derive(Debug, Default)]
pub struct QrForm {
    /// The text or link to encode, exactly as sent.
    pub data: String,
    /// The width and height in pixels; empty means core's default.
    pub size: String,
    /// The colour of the dark modules, "#rrggbb"; empty means black.
    pub fg: String,
    /// The colour of the light modules, "#rrggbb"; empty means white.
    pub bg: String,
    /// The error-correction level, `L`, `M`, `Q` or `H` in either case; empty lets core choose.
    pub ecc: String,
    /// `png` or `svg` in either case; empty means PNG.
    pub format: String,
    /// The logo file; empty means no logo.
    pub logo: Vec<u8>,
}

/// A code from core, answered as a download.
#[derive(Debug)]
pub struct QrImage {
    /// The PNG or SVG bytes.
    pub image: Vec<u8>,
    /// Their media type.
    pub content_type: String,
    /// The name to save it under.
    pub file_name: String,
}

impl QrForm {
    /// Reads the multipart body of `request`. On an error, the fields read before it stay
    /// filled in.
    pub async fn read(&mut self, request: Request) -> Result<(), AppError> {
        let mut multipart = Multipart::from_request(request, &()).await.map_err(|rejection| {
            AppError::BadRequest(format!("{}; send the form as multipart/form-data", rejection.body_text()))
        })?;
        while let Some(field) = multipart.next_field().await.map_err(body_error)? {
            let name = field.name().unwrap_or_default().to_owned();
            let text = match name.as_str() {
                "data" => &mut self.data,
                "size" => &mut self.size,
                "fg" => &mut self.fg,
                "bg" => &mut self.bg,
                "ecc" => &mut self.ecc,
                "format" => &mut self.format,
                "logo" => {
                    self.logo = field.bytes().await.map_err(body_error)?.into();
                    continue;
                }
                _ => return Err(invalid(&name, format!("is not a field of this form; send {}", FIELDS.join(", ")))),
            };
            let bytes = field.bytes().await.map_err(body_error)?;
            *text = String::from_utf8(bytes.into()).map_err(|_| invalid(&name, "is not UTF-8 text"))?;
        }
        Ok(())
    }

    /// Asks core for the code.
    pub async fn build(&self, core: &Core, meta: &CallMeta) -> Result<QrImage, AppError> {
        let request = self.request()?;
        // The QR service is public: a session or API token has no business there.
        let meta = CallMeta { token: None, ..meta.clone() };
        let response = core.qr().build_qr(meta.request(request)).await.map_err(in_form_terms)?.into_inner();
        Ok(QrImage {
            image: response.image,
            content_type: response.content_type,
            file_name: safe_file_name(&response.file_name),
        })
    }

    /// The request for core; the fields core takes as text go as they are, for it to check.
    fn request(&self) -> Result<BuildQrRequest, AppError> {
        let size_px = match self.size.trim() {
            "" => 0,
            size => size.parse().map_err(|_| invalid("size", format!("\"{size}\" is not a whole number of pixels")))?,
        };
        let error_correction = match self.ecc.to_ascii_uppercase().as_str() {
            "" => QrErrorCorrection::Unspecified,
            "L" => QrErrorCorrection::Low,
            "M" => QrErrorCorrection::Medium,
            "Q" => QrErrorCorrection::Quartile,
            "H" => QrErrorCorrection::High,
            _ => return Err(invalid("ecc", format!("\"{}\" is not a level; choose L, M, Q or H", self.ecc))),
        };
        let format = match self.format.to_ascii_lowercase().as_str() {
            "" | "png" => QrImageFormat::Png,
            "svg" => QrImageFormat::Svg,
            _ => return Err(invalid("format", format!("\"{}\" is not a format; choose png or svg", self.format))),
        };
        Ok(BuildQrRequest {
            data: self.data.clone(),
            size_px,
            error_correction: error_correction.into(),
            foreground_color: self.fg.clone(),
            background_color: self.bg.clone(),
            quiet_zone_modules: None,
            logo: self.logo.clone(),
            format: format.into(),
        })
    }
}

impl IntoResponse for QrImage {
    fn into_response(self) -> Response {
        let disposition = format!("attachment; filename=\"{}\"", self.file_name);
        let headers = [
            (header::CONTENT_TYPE, self.content_type),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ];
        (headers, self.image).into_response()
    }
}

/// A field error in the form's terms.
fn invalid(field: &str, detail: impl Display) -> AppError {
    AppError::Invalid { field: field.to_owned(), message: format!("{field}: {detail}") }
}

/// A body that could not be read: too large (the logo, in practice), or not multipart.
fn body_error(err: MultipartError) -> AppError {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        let message = format!(
            "the form is over {} KiB; the logo must be at most {} MiB",
            MAX_BODY_BYTES / 1024,
            MAX_LOGO_BYTES / 1024 / 1024
        );
        return AppError::TooLarge { field: "logo", message };
    }
    AppError::BadRequest(err.body_text())
}

/// Core's error, with the field named as the form names it (`fg` for `foreground_color`).
fn in_form_terms(status: tonic::Status) -> AppError {
    let details = status.get_error_details();
    match details.bad_request().and_then(|b| b.field_violations.first()) {
        Some(violation) if status.code() == tonic::Code::InvalidArgument => {
            let field = match violation.field.as_str() {
                "size_px" => "size",
                "foreground_color" => "fg",
                "background_color" => "bg",
                "error_correction" => "ecc",
                other => other,
            };
            invalid(field, &violation.description)
        }
        _ => status.into(),
    }
}

/// Core's file name, kept to characters that are safe in a header and an attribute.
fn safe_file_name(name: &str) -> String {
    let safe: String = name.chars().filter(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c)).collect();
    if safe.is_empty() { "qr-code".into() } else { safe }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_formats_are_read_in_either_case() {
        let form = QrForm { data: "x".into(), ecc: "q".into(), format: "SVG".into(), ..Default::default() };
        let request = form.request().unwrap();
        assert_eq!(request.error_correction(), QrErrorCorrection::Quartile);
        assert_eq!(request.format(), QrImageFormat::Svg);
        assert_eq!(request.size_px, 0, "empty means core's default");
        let bad = QrForm { ecc: "X".into(), ..Default::default() }.request().unwrap_err();
        assert_eq!(bad.field().as_deref(), Some("ecc"));
        let bad = QrForm { size: "big".into(), ..Default::default() }.request().unwrap_err();
        assert_eq!(bad.field().as_deref(), Some("size"));
    }

    #[test]
    fn core_fields_get_the_forms_names() {
        let status = tonic::Status::with_error_details(
            tonic::Code::InvalidArgument,
            "foreground_color: too light",
            tonic_types::ErrorDetails::with_bad_request_violation("foreground_color", "too light"),
        );
        let err = in_form_terms(status);
        assert_eq!(err.field().as_deref(), Some("fg"));
        assert_eq!(err.to_string(), "fg: too light");
        assert_eq!(safe_file_name("qr-code.svg"), "qr-code.svg");
        assert_eq!(safe_file_name("a\"b\r\n.png"), "ab.png");
    }
}
