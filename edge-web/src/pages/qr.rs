//! `/qr`: the public QR code tool. The form posts to this page, which comes back with the code
//! inline; with JavaScript (`static/js/qr.js`) it goes to `POST /api/qr/build` and the code shows
//! without a reload.

use axum::{
    extract::{Request, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use maud::{Markup, html};

use super::frame;
use crate::{
    core_client::qr::{FIELDS, QrForm, QrImage},
    error::AppError,
    http::{error::PageError, visitor::Visitor},
    state::AppState,
    view::layout::Page,
};

/// The size the form starts with, in pixels.
const DEFAULT_SIZE: &str = "600";

/// `GET /qr`.
pub async fn qr_page(State(state): State<AppState>, visitor: Visitor) -> Result<Response, PageError> {
    show(&state, &visitor, &QrForm::default(), None).await
}

/// `POST /qr`: builds the code and shows it under the form, or what to correct.
pub async fn make(State(state): State<AppState>, visitor: Visitor, request: Request) -> Result<Response, PageError> {
    let mut form = QrForm::default();
    let built = match form.read(request).await {
        Ok(()) => form.build(&state.core, &visitor.meta).await,
        Err(err) => Err(err),
    };
    show(&state, &visitor, &form, Some(built)).await
}

async fn show(
    state: &AppState,
    visitor: &Visitor,
    form: &QrForm,
    built: Option<Result<QrImage, AppError>>,
) -> Result<Response, PageError> {
    let page = frame(state, visitor, "/qr").await?;
    let (code, error) = match built {
        Some(Ok(code)) => (Some(code), None),
        Some(Err(err)) => (None, Some(err)),
        None => (None, None),
    };
    let status = error.as_ref().map_or(StatusCode::OK, AppError::status);
    if status.is_server_error() {
        tracing::warn!(error = ?error, "QR code failed");
    }
    let body = html! {
        h1 { (page.t("qr.title")) }
        p { (page.t("qr.text")) }
        div.qr-tool {
            (form_card(&page, form, error.as_ref()))
            (result(&page, code.as_ref()))
        }
        script src="/static/js/qr.js" defer {}
    };
    Ok((status, page.render("qr.title", body)).into_response())
}

fn form_card(page: &Page, form: &QrForm, error: Option<&AppError>) -> Markup {
    let t = |key: &str| page.t(key);
    let general = error.filter(|err| !err.field().is_some_and(|field| FIELDS.contains(&field.as_str())));
    let or_default =
        |value: &str, default: &'static str| if value.is_empty() { default.to_owned() } else { value.to_owned() };
    let ecc_levels = [("", "qr.ecc_auto"), ("L", "qr.ecc_l"), ("M", "qr.ecc_m"), ("Q", "qr.ecc_q"), ("H", "qr.ecc_h")];
    let logo_hint = html! { (t("qr.logo_hint")) @if !form.logo.is_empty() { " " (t("qr.logo_again")) } };
    html! {
        form #qr-form .card method="post" action="/qr" enctype="multipart/form-data"
            data-api="/api/qr/build" data-busy=(t("qr.busy"))
            data-error-throttled=(t("error.throttled")) data-error-unavailable=(t("error.core_unavailable"))
            data-error-bad-request=(t("error.bad_request")) data-error-internal=(t("error.internal")) {
            p #qr-error .notice.error role="alert" hidden[general.is_none()] {
                @if let Some(err) = general { (err.user_message(page.lang)) }
            }
            (field(page, "data", error, None, |aria| html! {
                // The parser drops a newline right after <textarea>, so one is given for it to drop.
                textarea name="data" rows="4" required aria-describedby=(aria.describedby) aria-invalid=[aria.invalid] {
                    "\n" (form.data)
                }
            }))
            div.qr-options {
                div { (field(page, "size", error, None, |aria| html! {
                    input type="number" name="size" min="128" max="4096" step="1" value=(or_default(&form.size, DEFAULT_SIZE))
                        aria-describedby=(aria.describedby) aria-invalid=[aria.invalid];
                })) }
                div { (field(page, "fg", error, None, |aria| html! {
                    input type="color" name="fg" value=(or_default(&form.fg, "#000000"))
                        aria-describedby=(aria.describedby) aria-invalid=[aria.invalid];
                })) }
                div { (field(page, "bg", error, None, |aria| html! {
                    input type="color" name="bg" value=(or_default(&form.bg, "#ffffff"))
                        aria-describedby=(aria.describedby) aria-invalid=[aria.invalid];
                })) }
                div { (field(page, "format", error, None, |aria| html! {
                    select name="format" aria-describedby=(aria.describedby) aria-invalid=[aria.invalid] {
                        option value="png" { (t("qr.format_png")) }
                        option value="svg" selected[form.format.eq_ignore_ascii_case("svg")] { (t("qr.format_svg")) }
                    }
                })) }
            }
            (field(page, "ecc", error, Some(html! { (t("qr.ecc_hint")) }), |aria| html! {
                select name="ecc" aria-describedby=(aria.describedby) aria-invalid=[aria.invalid] {
                    @for (value, key) in ecc_levels {
                        option value=(value) selected[form.ecc.eq_ignore_ascii_case(value)] { (t(key)) }
                    }
                }
            }))
            (field(page, "logo", error, Some(logo_hint), |aria| html! {
                input type="file" name="logo" accept="image/png,image/jpeg,image/webp"
                    aria-describedby=(aria.describedby) aria-invalid=[aria.invalid];
            }))
            button type="submit" { (t("qr.submit")) }
        }
    }
}

/// What ties a control to the place for its error.
struct Aria {
    /// The id of that place.
    describedby: String,
    /// `"true"` when the control is the one at fault.
    invalid: Option<&'static str>,
}

/// The form field `name`: its label (the message `qr.{name}`), the control `control` makes, an
/// optional hint, and the place for its error.
fn field(
    page: &Page,
    name: &str,
    error: Option<&AppError>,
    hint: Option<Markup>,
    control: impl FnOnce(Aria) -> Markup,
) -> Markup {
    let wrong = error.is_some_and(|err| err.field().as_deref() == Some(name));
    let aria = Aria { describedby: format!("qr-{name}-error"), invalid: wrong.then_some("true") };
    html! {
        label { (page.t(&format!("qr.{name}"))) (control(aria)) @if let Some(hint) = hint { small { (hint) } } }
        (field_error(page, name, error))
    }
}

/// The place for `name`'s error: filled when it is the field at fault, and carrying the
/// catalogue's advice for the script to show.
fn field_error(page: &Page, name: &str, error: Option<&AppError>) -> Markup {
    let message = error.filter(|err| err.field().as_deref() == Some(name)).map(|err| err.user_message(page.lang));
    html! {
        p.field-error id=(format!("qr-{name}-error")) role="alert" data-message=(page.t(&format!("error.field.{name}")))
            hidden[message.is_none()] {
            @if let Some(message) = message { (message) }
        }
    }
}

/// The code and its download link; an empty, hidden frame for the script until there is one.
fn result(page: &Page, code: Option<&QrImage>) -> Markup {
    let uri = code.map(|code| format!("data:{};base64,{}", code.content_type, STANDARD.encode(&code.image)));
    let file_name = code.map_or("qr-code.png", |code| code.file_name.as_str());
    html! {
        div #qr-result aria-live="polite" {
            figure #qr-preview .card hidden[code.is_none()] {
                img #qr-image src=[uri.as_deref()] alt=(page.t("qr.result_alt"));
                figcaption {
                    a #qr-download .button href=[uri.as_deref()] download=(file_name) { (page.t("qr.download")) }
                }
            }
        }
    }
}
