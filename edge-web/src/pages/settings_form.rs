//! The form of a resource: its name and the settings its provider's schema describes, with the
//! error of the field at fault next to it and every value typed kept (secrets excepted).

use std::collections::HashMap;

use maud::{Markup, PreEscaped, html};

use super::layout::{Page, notice};
use crate::{
    error::AppError,
    schema::{Kind, Setting, form_text},
};

/// What a resource form shows.
pub struct FormValues<'a> {
    /// The resource's name as typed or stored.
    pub name: &'a str,
    /// Each setting's text as typed or stored, by setting name; secrets are never here.
    pub texts: &'a HashMap<String, String>,
    /// The masks of the stored secrets, by setting name.
    pub masks: &'a HashMap<String, String>,
    /// What went wrong with the last submission.
    pub error: Option<&'a AppError>,
}

/// A message for `err` on a resource form: what to correct, in the page's language.
pub fn error_message(page: &Page, err: &AppError) -> String {
    match (err.field().as_deref(), err) {
        (Some("name"), _) => page.t("resources.name_error").into(),
        (_, AppError::Core(status)) if status.code() == tonic::Code::AlreadyExists => {
            page.t("resources.account_taken").into()
        }
        // The account's cap of resources, not a throttle: nothing to wait for.
        (_, AppError::Core(status))
            if status.code() == tonic::Code::ResourceExhausted && err.retry_after().is_none() =>
        {
            page.t("resources.too_many").into()
        }
        (_, AppError::Invalid { message, .. }) => page.lang.format("error.invalid", &[("detail", message)]),
        _ => err.user_message(page.lang),
    }
}

/// The name field, then each setting, under an error that belongs to none of them.
pub fn fields(page: &Page, id: &str, settings: &[Setting], values: &FormValues) -> Markup {
    let at_field = |field: &str| values.error.filter(|err| err.field().as_deref() == Some(field));
    let inputs: Vec<String> = settings.iter().map(Setting::input_name).collect();
    let general =
        values.error.filter(|err| !err.field().is_some_and(|field| field == "name" || inputs.contains(&field)));
    html! {
        @if let Some(err) = general { (notice("error", &error_message(page, err))) }
        (field(page, id, Head("name", page.t("resources.name"), true), at_field("name"), None, |aria| html! {
            input type="text" name="name" value=(values.name) required maxlength="100" aria-describedby=(aria.0) aria-invalid=[aria.1];
        }))
        @for setting in settings {
            @let text = values.texts.get(&setting.name).map(String::as_str).unwrap_or_default();
            @let mask = values.masks.get(&setting.name);
            @let hint = hint(page, setting, mask.map(String::as_str));
            @let required = setting.required && mask.is_none();
            @let input = setting.input_name();
            (field(page, id, Head(&input, &setting.title, setting.required), at_field(&input), hint, |aria| control(setting, text, required, aria)))
        }
    }
}

/// The description of a setting, how to enter a list, and for a stored secret its mask.
fn hint(page: &Page, setting: &Setting, mask: Option<&str>) -> Option<Markup> {
    let lines = setting.kind == Kind::Lines;
    if setting.description.is_none() && mask.is_none() && !lines {
        return None;
    }
    Some(html! {
        @if let Some(text) = &setting.description { (text) " " }
        @if lines { (page.t("resources.one_per_line")) " " }
        @if let Some(mask) = mask { (page.lang.format("resources.secret_stored", &[("mask", mask)])) }
    })
}

/// The id of the place for an error, and `"true"` when the control is at fault.
pub type Aria = (String, Option<&'static str>);

/// What a field's label says: its control's name, its title and whether it is required.
pub struct Head<'a>(pub &'a str, pub &'a str, pub bool);

/// A labelled field with its hint and the place for its error.
fn field(
    page: &Page,
    form_id: &str,
    head: Head,
    error: Option<&AppError>,
    hint: Option<Markup>,
    control: impl FnOnce(Aria) -> Markup,
) -> Markup {
    labelled(page, form_id, head, error.map(|err| error_message(page, err)), hint, control)
}

/// A labelled field with its hint and the place for its error message, shown when there is one.
pub fn labelled(
    page: &Page,
    form_id: &str,
    Head(name, title, required): Head,
    message: Option<String>,
    hint: Option<Markup>,
    control: impl FnOnce(Aria) -> Markup,
) -> Markup {
    let error_id = format!("{form_id}-{}-error", name.replace('.', "-"));
    let invalid = message.is_some().then_some("true");
    html! {
        label {
            (title)
            @if required { " " abbr.required title=(page.t("form.required")) { "*" } }
            (control((error_id.clone(), invalid)))
            @if let Some(hint) = hint { small { (hint) } }
        }
        p.field-error id=(error_id) role="alert" hidden[message.is_none()] { @if let Some(message) = message { (message) } }
    }
}

/// The control of one setting, holding `text`.
fn control(setting: &Setting, text: &str, required: bool, (describedby, invalid): Aria) -> Markup {
    let name = setting.input_name();
    let max = setting.max_length;
    html! {
        @match &setting.kind {
            Kind::Text => input type="text" name=(name) value=(text) required[required] maxlength=[max] aria-describedby=(describedby) aria-invalid=[invalid];,
            Kind::Secret => input type="password" name=(name) required[required] autocomplete="off" maxlength=[max] aria-describedby=(describedby) aria-invalid=[invalid];,
            Kind::Integer => input type="number" name=(name) value=(text) step="1" required[required] aria-describedby=(describedby) aria-invalid=[invalid];,
            Kind::Number => input type="number" name=(name) value=(text) step="any" required[required] aria-describedby=(describedby) aria-invalid=[invalid];,
            Kind::Bool => input type="checkbox" name=(name) checked[!text.is_empty()] aria-describedby=(describedby) aria-invalid=[invalid];,
            // The parser drops a newline right after <textarea>, so one is given for it to drop.
            Kind::LongText => textarea name=(name) rows="5" required[required] maxlength=[max] aria-describedby=(describedby) aria-invalid=[invalid] { "\n" (text) },
            Kind::Lines => textarea.lines name=(name) rows="3" required[required] aria-describedby=(describedby) aria-invalid=[invalid] { "\n" (text) },
            Kind::Choice(options) => select name=(name) required[required] aria-describedby=(describedby) aria-invalid=[invalid] {
                @if !required { option value="" { (PreEscaped("&mdash;")) } }
                @for option in options {
                    @let value = form_text(option);
                    option value=(value) selected[value == text] { (value) }
                }
            },
        }
    }
}
