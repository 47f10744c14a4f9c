//! The QR tool: `POST /api/qr/build` and the `/qr` page, with and without JavaScript. Every
//! code is read back with rqrr, as a scanner would.

use base64::{Engine, engine::general_purpose::STANDARD};
use reqwest::{
    StatusCode, header,
    multipart::{Form, Part},
};
use serde_json::{Value, json};

use crate::{
    browser::{Browser, run},
    helpers::TestWeb,
};

/// Text with a link, a query and letters outside ASCII: it must read back byte for byte.
const DATA: &str = "https://example.com/menu?table=7&lang=ru — Привет";

/// A 96 × 96 PNG logo: a dark blue square with a white ring inside.
fn logo_png() -> Vec<u8> {
    let logo = image::RgbaImage::from_fn(96, 96, |x, y| {
        let (dx, dy) = (x.abs_diff(48), y.abs_diff(48));
        if (20..28).contains(&dx.max(dy)) { image::Rgba([255, 255, 255, 255]) } else { image::Rgba([20, 40, 140, 255]) }
    });
    let mut png = Vec::new();
    logo.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png).unwrap();
    png
}

/// What the QR code in `png` says, found in the whole image as a camera scan would.
fn read_back(png: &[u8]) -> String {
    let image = image::load_from_memory(png).expect("a PNG").to_luma8();
    let (width, height) = (image.width() as usize, image.height() as usize);
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| image.get_pixel(x as u32, y as u32).0[0]);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    let mut data = Vec::new();
    grids[0].decode_to(&mut data).expect("the code decodes");
    String::from_utf8(data).unwrap()
}

/// The form with `fields` as text parts.
fn form(fields: &[(&'static str, &str)]) -> Form {
    fields.iter().fold(Form::new(), |form, (name, value)| form.text(*name, value.to_string()))
}

/// `form` with `logo` as the file part.
fn with_logo(form: Form, logo: Vec<u8>) -> Form {
    form.part("logo", Part::bytes(logo).file_name("logo.png").mime_str("image/png").unwrap())
}

async fn build(web: &TestWeb, form: Form) -> reqwest::Response {
    web.browser().post(web.url("/api/qr/build")).multipart(form).send().await.unwrap()
}

/// The JSON error of `response`, after checking its status.
async fn error(response: reqwest::Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    response.json::<Value>().await.unwrap()["error"].clone()
}

#[tokio::test]
async fn the_api_answers_a_png_with_the_logo_that_reads_back_exactly() {
    let web = TestWeb::start().await;
    let fields =
        [("data", DATA), ("size", "480"), ("fg", "#1A237E"), ("bg", "#ffffff"), ("ecc", "h"), ("format", "PNG")];
    let response = build(&web, with_logo(form(&fields), logo_png())).await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers[header::CONTENT_TYPE], "image/png");
    assert_eq!(headers[header::CONTENT_DISPOSITION], "attachment; filename=\"qr-code.png\"");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    let png = response.bytes().await.unwrap();
    let image = image::load_from_memory(&png).unwrap();
    assert_eq!((image.width(), image.height()), (480, 480));
    assert_eq!(read_back(&png), DATA);

    // Only data is needed, and an empty logo part means no logo.
    let plain = build(&web, with_logo(form(&[("data", "hello")]), Vec::new())).await;
    assert_eq!(plain.status(), StatusCode::OK);
    assert_eq!(read_back(&plain.bytes().await.unwrap()), "hello");
}

#[tokio::test]
async fn the_api_answers_svg_with_its_type_and_file_name() {
    let web = TestWeb::start().await;
    let response = build(&web, form(&[("data", DATA), ("format", "svg")])).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "image/svg+xml");
    assert_eq!(response.headers()[header::CONTENT_DISPOSITION], "attachment; filename=\"qr-code.svg\"");
    let svg = response.text().await.unwrap();
    assert!(svg.contains("<svg") && svg.contains("width=\"600\""), "{svg}");
}

#[tokio::test]
async fn api_errors_name_the_form_field_to_correct() {
    let web = TestWeb::start().await;
    let cases: [(Form, &str); 7] = [
        (form(&[("data", DATA), ("fg", "#zzzzzz")]), "fg"),
        (form(&[("data", DATA), ("fg", "#eeeeee")]), "fg"),
        (form(&[("data", DATA), ("bg", "white")]), "bg"),
        (form(&[("data", ""), ("fg", "#000000")]), "data"),
        (form(&[("data", DATA), ("size", "64")]), "size"),
        (with_logo(form(&[("data", DATA), ("ecc", "L")]), logo_png()), "ecc"),
        (form(&[("data", DATA), ("colour", "red")]), "colour"),
    ];
    for (form, field) in cases {
        let err = error(build(&web, form).await, StatusCode::BAD_REQUEST).await;
        assert_eq!(err["code"], "invalid_argument", "{err}");
        assert_eq!(err["field"], field, "{err}");
        assert!(err["message"].as_str().unwrap().starts_with(&format!("{field}: ")), "{err}");
    }
    let not_an_image = with_logo(form(&[("data", DATA)]), b"GIF89a not really".to_vec());
    assert_eq!(error(build(&web, not_an_image).await, StatusCode::BAD_REQUEST).await["field"], "logo");

    let json = web.browser().post(web.url("/api/qr/build")).json(&json!({"data": DATA})).send().await.unwrap();
    let err = error(json, StatusCode::BAD_REQUEST).await;
    assert_eq!(err["code"], "bad_request");
    assert!(err["message"].as_str().unwrap().contains("multipart/form-data"), "{err}");
}

#[tokio::test]
async fn a_body_over_the_limit_is_a_json_413() {
    let web = TestWeb::start().await;
    let huge = vec![0x5a; 2 * 1024 * 1024 + 100 * 1024];
    let err = error(build(&web, with_logo(form(&[("data", DATA)]), huge)).await, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(err["code"], "payload_too_large");
    assert_eq!(err["field"], "logo");
    assert!(err["message"].as_str().unwrap().contains("at most 2 MiB"), "{err}");
}

#[tokio::test]
async fn codes_are_limited_per_address_with_retry_after() {
    let web = TestWeb::start_with(|core| core.qr_per_minute = 2).await;
    for _ in 0..2 {
        assert_eq!(build(&web, form(&[("data", DATA)])).await.status(), StatusCode::OK);
    }
    let throttled = build(&web, form(&[("data", DATA)])).await;
    let wait: u64 = throttled.headers()[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&wait), "{wait}");
    assert_eq!(error(throttled, StatusCode::TOO_MANY_REQUESTS).await["code"], "resource_exhausted");
    // The page says so too, in words.
    let page = web.browser().post(web.url("/qr")).multipart(form(&[("data", DATA)])).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(page.text().await.unwrap().contains("Too many attempts. Try again in"));
}

#[tokio::test]
async fn the_same_site_and_scripts_may_post_but_other_sites_may_not() {
    let web = TestWeb::start().await;
    let browser = web.browser();
    web.register(&browser, "qr").await;
    // A signed-in browser's same-origin request needs no CSRF token: the tool changes nothing.
    let same_site = browser
        .post(web.url("/api/qr/build"))
        .header(header::ORIGIN, web.url(""))
        .header("sec-fetch-site", "same-origin")
        .multipart(form(&[("data", DATA)]));
    assert_eq!(same_site.send().await.unwrap().status(), StatusCode::OK);
    let page = browser.post(web.url("/qr")).header(header::ORIGIN, web.url("")).multipart(form(&[("data", DATA)]));
    assert_eq!(page.send().await.unwrap().status(), StatusCode::OK);
    // A plain script, as curl sends it.
    let script = reqwest::Client::new().post(web.url("/api/qr/build")).multipart(form(&[("data", DATA)]));
    assert_eq!(script.send().await.unwrap().status(), StatusCode::OK);
    let other = browser
        .post(web.url("/api/qr/build"))
        .header(header::ORIGIN, "https://evil.example")
        .multipart(form(&[("data", DATA)]));
    assert_eq!(error(other.send().await.unwrap(), StatusCode::FORBIDDEN).await["code"], "forbidden");
}

/// The value of `attribute` in the tag of the element with `id` in `html`.
fn attribute(html: &str, id: &str, attribute: &str) -> Option<String> {
    let start = html.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id}"));
    let tag_start = html[..start].rfind('<').unwrap();
    let tag = &html[tag_start..start + html[start..].find('>').unwrap()];
    let needle = format!(" {attribute}=\"");
    let value = tag.find(&needle).map(|i| tag[i + needle.len()..].split('"').next().unwrap().to_owned());
    value.or_else(|| tag.split_whitespace().any(|word| word == attribute).then(String::new))
}

#[tokio::test]
async fn without_javascript_the_page_shows_the_code_and_a_download_link() {
    let web = TestWeb::start().await;
    let fields =
        [("data", DATA), ("size", "400"), ("fg", "#1a237e"), ("bg", "#fffde7"), ("ecc", "Q"), ("format", "png")];
    let response = web.browser().post(web.url("/qr")).multipart(with_logo(form(&fields), logo_png())).send().await;
    let response = response.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    let src = attribute(&html, "qr-image", "src").expect("the image has a source");
    let png = STANDARD.decode(src.strip_prefix("data:image/png;base64,").expect("a data: URI")).unwrap();
    assert_eq!(read_back(&png), DATA);
    assert_eq!(attribute(&html, "qr-download", "href"), Some(src));
    assert_eq!(attribute(&html, "qr-download", "download").as_deref(), Some("qr-code.png"));
    assert_eq!(attribute(&html, "qr-preview", "hidden"), None);

    // The form keeps what was sent (the file input cannot, and the page says so).
    assert!(html.contains("https://example.com/menu?table=7&amp;lang=ru — Привет</textarea>"), "{html}");
    assert!(html.contains("value=\"#fffde7\"") && html.contains("value=\"400\""));
    assert!(html.contains("<option value=\"Q\" selected>"));
    assert!(html.contains("choose the file again"));
}

#[tokio::test]
async fn without_javascript_an_error_shows_at_its_field() {
    let web = TestWeb::start().await;
    let response = web.browser().post(web.url("/qr")).multipart(form(&[("data", ""), ("fg", "#123456")])).send().await;
    let response = response.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let html = response.text().await.unwrap();
    assert_eq!(attribute(&html, "qr-data-error", "hidden"), None, "the data field's error shows");
    assert!(html.contains("Enter the text or link to encode."));
    assert_eq!(attribute(&html, "qr-fg-error", "hidden").as_deref(), Some(""), "other fields have none");
    assert_eq!(attribute(&html, "qr-preview", "hidden").as_deref(), Some(""));
    assert!(html.contains("aria-invalid=\"true\"") && html.contains("value=\"#123456\""));

    let huge = with_logo(form(&[("data", DATA)]), vec![0; 2 * 1024 * 1024 + 100 * 1024]);
    let response = web.browser().post(web.url("/qr")).multipart(huge).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let html = response.text().await.unwrap();
    assert_eq!(attribute(&html, "qr-logo-error", "hidden"), None, "the logo field's error shows");
}

#[tokio::test]
async fn the_page_speaks_russian() {
    let web = TestWeb::start().await;
    let client = web.browser();
    let page = client.get(web.url("/qr")).header(header::ACCEPT_LANGUAGE, "ru-RU,ru;q=0.9").send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("<html lang=\"ru\">") && html.contains("QR-код с логотипом"), "{html}");
    assert!(html.contains("Текст или ссылка") && html.contains("Создать QR-код") && html.contains("Цвет фона"));
    assert!(html.contains("<script src=\"/static/js/qr.js\" defer>"));
    let refused = client.post(web.url("/qr")).header(header::ACCEPT_LANGUAGE, "ru").multipart(form(&[
        ("data", DATA),
        ("fg", "#ffffff"),
        ("bg", "#000000"),
    ]));
    let html = refused.send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Выберите цвет кода темнее фона"), "{html}");
}

#[tokio::test]
async fn with_javascript_the_code_shows_in_place_and_downloads() {
    let Some(browser) = Browser::start_with_lang("en").await else { return };
    let web = TestWeb::start().await;
    let dir = tempfile::tempdir().unwrap();
    let logo = dir.path().join("logo.png");
    std::fs::write(&logo, logo_png()).unwrap();

    let result = run(&browser, "qr", async {
        browser.goto(&web.url("/qr")).await?;
        // Anything a reload would lose.
        browser.client().execute("window.stayed = true;", vec![]).await?;

        // Too much text for the smallest size: the advice shows under the size field.
        browser.fill("textarea[name=data]", &"a".repeat(1000)).await?;
        browser.fill("input[name=size]", "128").await?;
        browser.submit_form("#qr-form").await?;
        let advice = browser.text("#qr-size-error:not([hidden])").await?;
        assert!(advice.starts_with("Choose a size from 128 to 4096 pixels"), "{advice}");

        browser.fill("textarea[name=data]", DATA).await?;
        browser.fill("input[name=size]", "600").await?;
        browser.wait_for("input[name=logo]").await?.send_keys(&logo.display().to_string()).await?;
        browser.submit_form("#qr-form").await?;
        browser.wait_for("#qr-preview:not([hidden]) #qr-image[src^='blob:']").await?;
        assert!(browser.wait_for("#qr-size-error").await?.attr("hidden").await?.is_some(), "the old error is gone");
        let link = browser.wait_for("#qr-download").await?;
        assert_eq!(link.attr("download").await?.as_deref(), Some("qr-code.png"));
        let href = link.attr("href").await?.unwrap_or_default();
        assert!(href.starts_with("blob:"), "{href}");

        // The page's CSP keeps fetch() to its own origin, so the link's blob is read as an image,
        // which img-src allows, and copied out through a canvas as a PNG.
        let read_link = r#"
            const done = arguments[arguments.length - 1];
            const image = new Image();
            image.onload = () => {
              const canvas = document.createElement("canvas");
              canvas.width = image.naturalWidth;
              canvas.height = image.naturalHeight;
              canvas.getContext("2d").drawImage(image, 0, 0);
              done(canvas.toDataURL("image/png"));
            };
            image.onerror = () => done("failed to load " + arguments[0]);
            image.src = arguments[0];
        "#;
        let downloaded = browser.client().execute_async(read_link, vec![json!(href)]).await?;
        let downloaded = downloaded.as_str().unwrap_or_default();
        let base64 = downloaded.strip_prefix("data:image/png;base64,").unwrap_or_else(|| panic!("{downloaded}"));
        let png = STANDARD.decode(base64).unwrap();
        assert_eq!(read_back(&png), DATA);
        assert_eq!(browser.client().execute("return window.stayed;", vec![]).await?, json!(true), "no reload");
        Ok(())
    })
    .await;
    browser.close().await;
    result.unwrap();
}
