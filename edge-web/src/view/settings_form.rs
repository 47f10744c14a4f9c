//! The form of a resource: its name and the settings its provider's schema describes, with the
//! error of the field at fault next to it and every value typed kept (secrets excepted).
//!
//! The words come from the catalogue where it has them for the provider, and from the schema
//! otherwise: `<provider>.name` and `<provider>.name_hint` for the name; for a setting,
//! `<provider>.field.<setting>` (its title), `…_hint`, `…_placeholder`; for its errors
//! `<provider>.error.<setting>`, `<provider>.error.<setting>_entry` (a list entry its schema
//! refuses, as `{entry}`), and `<provider>.error.taken` (a resource connected already, shown at
//! its provider's first identity field).

use std::collections::HashMap;

use assistchat_proto::v1::Provider;
use maud::{Markup, PreEscaped, html};
use tonic::Code;

use super::{
    form::{Kind, Setting, form_text},
    layout::{Page, notice},
};
use crate::{error::AppError, i18n::has_message};

/// Which resource form: its id on the page and its provider's settings.
pub struct FormSpec<'a> {
    /// The form's id, which the ids of its error places start with.
    pub id: &'a str,
    /// The provider, for its name (the catalogue's prefix) and identity fields.
    pub provider: &'a Provider,
    /// Its settings, in the form's order.
    pub settings: &'a [Setting],
}

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
        (_, AppError::Core(status)) if status.code() == Code::AlreadyExists => page.t("resources.account_taken").into(),
        // The account's cap of resources, not a throttle: nothing to wait for.
        (_, AppError::Core(status)) if status.code() == Code::ResourceExhausted && err.retry_after().is_none() => {
            page.t("resources.too_many").into()
        }
        (_, AppError::Invalid { message, .. }) => page.lang.format("error.invalid", &[("detail", message)]),
        _ => err.user_message(page.lang),
    }
}

/// The catalogue's words for `key`, if it has them.
fn word(page: &Page, key: &str) -> Option<&'static str> {
    has_message(key).then(|| page.t(key))
}

/// Whether core refused the resource as connected already (here or in another account).
fn taken(err: &AppError) -> bool {
    matches!(err, AppError::Core(status) if status.code() == Code::AlreadyExists)
}

impl FormSpec<'_> {
    /// The provider's name, the prefix of its words.
    fn words(&self) -> &str {
        &self.provider.name
    }

    /// The control an error shows at, or `None` for one shown above the form.
    fn error_place(&self, err: &AppError) -> Option<String> {
        if taken(err) && has_message(&format!("{}.error.taken", self.words())) {
            return self.provider.identity_fields.first().map(|field| format!("settings.{field}"));
        }
        let field = err.field()?;
        let known = field == "name" || self.settings.iter().any(|s| s.input_name() == field);
        known.then_some(field)
    }

    /// What to correct, in the provider's words where the catalogue has them.
    fn message(&self, page: &Page, err: &AppError, texts: &HashMap<String, String>) -> String {
        let p = self.words();
        let own = if taken(err) {
            word(page, &format!("{p}.error.taken")).map(str::to_owned)
        } else if err.field().as_deref() == Some("provider") {
            word(page, &format!("{p}.not_running")).map(str::to_owned)
        } else {
            let field = err.field();
            let setting = self.settings.iter().find(|s| field.as_deref() == Some(s.input_name().as_str()));
            setting.and_then(|setting| {
                let entry_key = format!("{p}.error.{}_entry", setting.name);
                let refused = texts.get(&setting.name).and_then(|text| setting.refused_entry(text));
                match refused {
                    Some(entry) if has_message(&entry_key) => Some(page.lang.format(&entry_key, &[("entry", entry)])),
                    _ => word(page, &format!("{p}.error.{}", setting.name)).map(str::to_owned),
                }
            })
        };
        own.unwrap_or_else(|| error_message(page, err))
    }
}

/// The name field, then each setting, under an error that belongs to none of them.
pub fn fields(page: &Page, form: &FormSpec, values: &FormValues) -> Markup {
    let p = form.words();
    let place = values.error.map(|err| (form.error_place(err), err));
    let at = |input: &str| {
        place
            .as_ref()
            .filter(|(place, _)| place.as_deref() == Some(input))
            .map(|(_, err)| form.message(page, err, values.texts))
    };
    let general =
        place.as_ref().filter(|(place, _)| place.is_none()).map(|(_, err)| form.message(page, err, values.texts));
    let name_title = word(page, &format!("{p}.name")).unwrap_or(page.t("resources.name"));
    let name_hint = word(page, &format!("{p}.name_hint")).map(|hint| html! { (hint) });
    html! {
        @if let Some(general) = &general { (notice("error", general)) }
        (labelled(page, form.id, Head("name", name_title, true), at("name"), name_hint, |(describedby, invalid)| html! {
            input type="text" name="name" value=(values.name) required maxlength="100" aria-describedby=(describedby) aria-invalid=[invalid];
        }))
        @for setting in form.settings {
            @let text = values.texts.get(&setting.name).map(String::as_str).unwrap_or_default();
            @let mask = values.masks.get(&setting.name);
            @let key = format!("{p}.field.{}", setting.name);
            @let title = word(page, &key).unwrap_or(&setting.title);
            @let hint = hint(page, setting, word(page, &format!("{key}_hint")), mask.map(String::as_str));
            @let placeholder = word(page, &format!("{key}_placeholder"));
            @let required = setting.required && mask.is_none();
            @let input = setting.input_name();
            (labelled(page, form.id, Head(&input, title, setting.required), at(&input), hint, |aria| control(setting, text, required, placeholder, aria)))
        }
    }
}

/// The catalogue's hint for a setting (or else its description and how to enter a list), and
/// for a stored secret its mask.
fn hint(page: &Page, setting: &Setting, own: Option<&str>, mask: Option<&str>) -> Option<Markup> {
    let lines = setting.kind == Kind::Lines && own.is_none();
    let text = own.or(setting.description.as_deref());
    if text.is_none() && mask.is_none() && !lines {
        return None;
    }
    Some(html! {
        @if let Some(text) = text { (text) " " }
        @if lines { (page.t("resources.one_per_line")) " " }
        @if let Some(mask) = mask { (page.lang.format("resources.secret_stored", &[("mask", mask)])) }
    })
}

/// The id of the place for an error, and `"true"` when the control is at fault.
type Aria = (String, Option<&'static str>);

/// What a field's label says: its control's name, its title and whether it is required.
struct Head<'a>(&'a str, &'a str, bool);

/// A labelled field with its hint and the place for its error message, shown when there is one.
fn labelled(
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
fn control(
    setting: &Setting,
    text: &str,
    required: bool,
    placeholder: Option<&str>,
    (describedby, invalid): Aria,
) -> Markup {
    let name = setting.input_name();
    let max = setting.max_length;
    html! {
        @match &setting.kind {
            Kind::Text => input type="text" name=(name) value=(text) required[required] maxlength=[max] placeholder=[placeholder] aria-describedby=(describedby) aria-invalid=[invalid];,
            Kind::Secret => input type="password" name=(name) required[required] autocomplete="off" maxlength=[max] placeholder=[placeholder] aria-describedby=(describedby) aria-invalid=[invalid];,
            Kind::Integer => input type="number" name=(name) value=(text) step="1" required[required] aria-describedby=(describedby) aria-invalid=[invalid];,
            Kind::Number => input type="number" name=(name) value=(text) step="any" required[required] aria-describedby=(describedby) aria-invalid=[invalid];,
            Kind::Bool => input type="checkbox" name=(name) checked[!text.is_empty()] aria-describedby=(describedby) aria-invalid=[invalid];,
            // The parser drops a newline right after <textarea>, so one is given for it to drop.
            Kind::LongText => textarea name=(name) rows="5" required[required] maxlength=[max] placeholder=[placeholder] aria-describedby=(describedby) aria-invalid=[invalid] { "\n" (text) },
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
