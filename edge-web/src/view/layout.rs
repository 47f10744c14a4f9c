//! The frame every page shares: head, header with navigation, language switcher and sign-out,
//! the error page and the notices above forms.

use assistchat_proto::v1::Profile;
use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};
use maud::{DOCTYPE, Markup, html};

use crate::{error::AppError, i18n::Lang};

/// What every page knows about who is looking at it.
pub struct Page {
    /// The language to render in: the profile's when signed in, else the visitor's choice.
    pub lang: Lang,
    /// The signed-in user's profile; `None` for a visitor.
    pub user: Option<Profile>,
    /// The CSRF token for this page's forms.
    pub csrf: String,
    /// The path of the page, to mark the current navigation item.
    pub path: &'static str,
}

impl Page {
    /// The frame of a page for a signed-out visitor, in `lang`.
    pub fn signed_out(lang: Lang, path: &'static str) -> Self {
        Self { lang, user: None, csrf: String::new(), path }
    }

    /// The text of `key` in the page's language.
    pub fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }

    /// The hidden CSRF field every form of a signed-in page carries.
    pub fn csrf_field(&self) -> Markup {
        html! { input type="hidden" name="csrf" value=(self.csrf); }
    }

    /// A whole HTML document around `body`, titled with the message `title_key`.
    pub fn render(&self, title_key: &str, body: Markup) -> Markup {
        let t = |key: &str| self.lang.t(key);
        let nav_item = |href: &'static str, key: &str| {
            let current = self.path == href;
            html! { a href=(href) aria-current=[current.then_some("page")] { (t(key)) } }
        };
        html! {
            (DOCTYPE)
            html lang=(self.lang.code()) {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (t(title_key)) " · AssistChat" }
                    link rel="stylesheet" href="/static/app.css";
                    script src="/static/js/app.js" defer {}
                }
                body {
                    header.site {
                        a.brand href="/" { "AssistChat" }
                        nav {
                            (nav_item("/", "nav.home"))
                            @if self.user.is_some() { (nav_item("/chat", "nav.chat")) }
                            @if self.user.is_some() { (nav_item("/resources", "nav.resources")) }
                            (nav_item("/qr", "nav.qr"))
                            @if self.user.is_some() { (nav_item("/profile", "nav.profile")) }
                        }
                        form.lang method="post" action="/lang" {
                            (self.csrf_field())
                            label { span.visually-hidden { (t("nav.language")) }
                                select name="lang" data-autosubmit {
                                    @for lang in Lang::ALL {
                                        option value=(lang.code()) selected[lang == self.lang] { (lang_name(lang)) }
                                    }
                                }
                            }
                            button.js-hidden type="submit" { (t("nav.language_apply")) }
                        }
                        @if let Some(user) = &self.user {
                            form.logout method="post" action="/logout" {
                                (self.csrf_field())
                                span.who { (user.display_name) }
                                button type="submit" { (t("nav.logout")) }
                            }
                        } @else {
                            nav.account {
                                (nav_item("/login", "nav.login"))
                                (nav_item("/register", "nav.register"))
                            }
                        }
                    }
                    main { (body) }
                    footer.site { (t("footer.text")) }
                }
            }
        }
    }
}

/// A language's own name, as the switcher shows it.
fn lang_name(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "English",
        Lang::Ru => "Русский",
    }
}

/// A whole error page, without a profile: used when the page itself could not be made.
pub fn error_page(lang: Lang, err: &AppError) -> Response {
    let status = err.status();
    let title = match status {
        StatusCode::NOT_FOUND => "error.not_found_title",
        StatusCode::SERVICE_UNAVAILABLE => "error.unavailable_title",
        StatusCode::FORBIDDEN => "error.forbidden_title",
        _ => "error.title",
    };
    let page = Page::signed_out(lang, "");
    let body = html! {
        section.error {
            h1 { (lang.t(title)) }
            p { (err.user_message(lang)) }
            p { a href="/" { (lang.t("error.back_home")) } }
        }
    };
    (status, page.render(title, body)).into_response()
}

/// A notice above a form: an error (`role=alert`) or a confirmation.
pub fn notice(kind: &str, text: &str) -> Markup {
    html! { p class=(format!("notice {kind}")) role=[(kind == "error").then_some("alert")] { (text) } }
}
