//! QrService: every code it returns reads back to exactly its input, and every bad input is
//! refused naming its field. QR codes touch no database, so these run on SQLite only.

use std::{io::Cursor, time::Duration};

use assistchat_proto::v1::{
    BuildQrRequest, BuildQrResponse, QrErrorCorrection, QrImageFormat, qr_service_client::QrServiceClient,
};
use image::{DynamicImage, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};
use tonic::{Code, Request, Status};
use tonic_types::StatusExt;

use crate::helpers::{Backend, TestApp, spawn_app, spawn_app_with, violated_field};

async fn app() -> TestApp {
    spawn_app(Backend::Sqlite).await.expect("SQLite needs no server")
}

async fn build(app: &TestApp, request: BuildQrRequest) -> Result<BuildQrResponse, Status> {
    QrServiceClient::new(app.channel.clone()).build_qr(request).await.map(tonic::Response::into_inner)
}

fn request(data: &str) -> BuildQrRequest {
    BuildQrRequest { data: data.into(), ..Default::default() }
}

/// What a scanner reads from a PNG: the codes rqrr finds in the whole image.
fn scan_png(png: &[u8]) -> Vec<String> {
    let image = image::load_from_memory_with_format(png, ImageFormat::Png).expect("a PNG").into_luma8();
    scan(&image)
}

/// What a scanner reads from an SVG, rendered at its own size.
fn scan_svg(svg: &[u8]) -> Vec<String> {
    use resvg::{tiny_skia, usvg};
    let tree = usvg::Tree::from_data(svg, &usvg::Options::default()).expect("a valid SVG");
    let size = tree.size().to_int_size();
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height()).unwrap();
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(&tree, tiny_skia::Transform::default(), &mut pixmap.as_mut());
    let rgba = RgbaImage::from_raw(size.width(), size.height(), pixmap.take()).unwrap();
    scan(&DynamicImage::ImageRgba8(rgba).into_luma8())
}

fn scan(image: &image::GrayImage) -> Vec<String> {
    let mut prepared = rqrr::PreparedImage::prepare(image.clone());
    prepared.detect_grids().iter().filter_map(|grid| grid.decode().ok().map(|(_, content)| content)).collect()
}

fn encode(image: DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut bytes = Cursor::new(Vec::new());
    image.write_to(&mut bytes, format).unwrap();
    bytes.into_inner()
}

/// A logo with detail in it: a coloured disc with a cross, on a transparent background.
fn transparent_logo(width: u32, height: u32) -> Vec<u8> {
    let (cx, cy, r) = (width as f32 / 2.0, height as f32 / 2.0, width.min(height) as f32 / 2.0);
    let logo = RgbaImage::from_fn(width, height, |x, y| {
        let (dx, dy) = (x as f32 - cx, y as f32 - cy);
        if dx.abs() < r / 6.0 || dy.abs() < r / 6.0 {
            Rgba([255, 255, 255, 255])
        } else if dx * dx + dy * dy < r * r {
            Rgba([200, 30, 60, 255])
        } else {
            Rgba([0, 0, 0, 0])
        }
    });
    encode(DynamicImage::ImageRgba8(logo), ImageFormat::Png)
}

/// An opaque photo-like logo: a colour gradient.
fn gradient(width: u32, height: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x * 255 / width) as u8, (y * 255 / height) as u8, 128])
    }))
}

#[tokio::test]
async fn plain_codes_read_back_at_every_level_and_length() {
    let app = app().await;
    let url = "https://example.com/menu?table=12&lang=en";
    let cases = [
        ("1", QrErrorCorrection::Low),
        (url, QrErrorCorrection::Unspecified),
        (url, QrErrorCorrection::Medium),
        (url, QrErrorCorrection::Quartile),
        (url, QrErrorCorrection::High),
        ("Привет, мир! 你好 — café ☕", QrErrorCorrection::Medium),
        (&"0123456789".repeat(30), QrErrorCorrection::Quartile),
        (&"lorem ipsum ".repeat(80), QrErrorCorrection::Medium),
    ];
    for (data, level) in cases {
        let code = build(&app, BuildQrRequest { error_correction: level.into(), size_px: 1000, ..request(data) })
            .await
            .unwrap_or_else(|status| panic!("{data:?} at {level:?}: {status:?}"));
        assert_eq!(code.content_type, "image/png");
        assert_eq!(code.file_name, "qr-code.png");
        assert_eq!(code.module_count, 17 + 4 * code.version);
        let expected = if level == QrErrorCorrection::Unspecified { QrErrorCorrection::Medium } else { level };
        assert_eq!(code.error_correction(), expected);
        assert_eq!(scan_png(&code.image), [data], "{data:?} at {level:?}");
    }
}

#[tokio::test]
async fn the_most_data_a_level_holds_reads_back() {
    let app = app().await;
    for (level, bytes) in [(QrErrorCorrection::High, 1273), (QrErrorCorrection::Low, 2953)] {
        let data = "x".repeat(bytes);
        let code = build(&app, BuildQrRequest { error_correction: level.into(), size_px: 1200, ..request(&data) })
            .await
            .unwrap();
        assert_eq!(code.version, 40);
        assert_eq!(scan_png(&code.image), std::slice::from_ref(&data));
        let status = build(
            &app,
            BuildQrRequest { error_correction: level.into(), size_px: 1200, ..request(&format!("{data}x")) },
        )
        .await
        .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(violated_field(&status), "data");
        assert!(status.message().contains(&format!("{bytes} bytes")), "{}", status.message());
    }
}

#[tokio::test]
async fn sizes_colours_and_quiet_zones_are_drawn_as_asked() {
    let app = app().await;
    let data = "https://example.com/";
    for size in [128, 257, 600, 4096] {
        let code = build(&app, BuildQrRequest { size_px: size, ..request(data) }).await.unwrap();
        let image = image::load_from_memory(&code.image).unwrap();
        assert_eq!((image.width(), image.height()), (size as u32, size as u32));
        assert_eq!(scan_png(&code.image), [data], "{size} px");
    }
    let default = build(&app, request(data)).await.unwrap();
    assert_eq!(image::load_from_memory(&default.image).unwrap().width(), 600);

    let colours =
        BuildQrRequest { foreground_color: "#1A237E".into(), background_color: "#fff8e1".into(), ..request(data) };
    let code = build(&app, colours).await.unwrap();
    let image = image::load_from_memory(&code.image).unwrap().into_rgb8();
    assert_eq!(image.get_pixel(0, 0), &Rgb([0xff, 0xf8, 0xe1]), "the quiet zone is the background");
    assert!(image.pixels().any(|pixel| pixel == &Rgb([0x1a, 0x23, 0x7e])), "dark modules are the foreground");
    assert_eq!(scan_png(&code.image), [data]);

    for zone in [0, 1, 4, 16] {
        let code = build(&app, BuildQrRequest { quiet_zone_modules: Some(zone), ..request(data) }).await.unwrap();
        let image = image::load_from_memory(&code.image).unwrap().into_luma8();
        // The top-left finder pattern starts right after the quiet zone, which the leftover
        // pixels widen evenly.
        let modules = code.module_count as u32;
        let module_px = 600 / (modules + 2 * zone as u32);
        let origin = (600 - modules * module_px) / 2;
        assert!(origin >= zone as u32 * module_px);
        let finder_row = origin + 3 * module_px + module_px / 2;
        let first_dark = (0..600).find(|&x| image.get_pixel(x, finder_row).0[0] < 128);
        assert_eq!(first_dark, Some(origin), "quiet zone {zone}");
        if zone >= 4 {
            assert_eq!(scan_png(&code.image), [data], "quiet zone {zone}");
        }
    }
}

#[tokio::test]
async fn codes_with_logos_read_back() {
    let app = app().await;
    let data = "https://example.com/our-cafe";
    let jpeg = encode(gradient(400, 400), ImageFormat::Jpeg);
    let mut webp = Vec::new();
    gradient(64, 64).write_with_encoder(image::codecs::webp::WebPEncoder::new_lossless(&mut webp)).unwrap();
    let logos = [
        ("transparent PNG", transparent_logo(512, 512)),
        ("JPEG", jpeg),
        ("WebP", webp),
        ("wide PNG", transparent_logo(600, 200)),
        ("tall PNG", transparent_logo(150, 450)),
        ("tiny PNG", transparent_logo(8, 8)),
    ];
    for (name, logo) in logos {
        for level in [QrErrorCorrection::Unspecified, QrErrorCorrection::Medium, QrErrorCorrection::Quartile] {
            let code =
                build(&app, BuildQrRequest { logo: logo.clone(), error_correction: level.into(), ..request(data) })
                    .await
                    .unwrap_or_else(|status| panic!("{name} at {level:?}: {status:?}"));
            let expected = if level == QrErrorCorrection::Unspecified { QrErrorCorrection::High } else { level };
            assert_eq!(code.error_correction(), expected);
            assert!(code.version >= 5, "a logo needs room: version {}", code.version);
            assert_eq!(scan_png(&code.image), [data], "{name} at {level:?}");
        }
    }
}

#[tokio::test]
async fn the_logo_sits_in_the_middle_and_transparency_shows_the_background() {
    let app = app().await;
    let logo =
        encode(DynamicImage::ImageRgba8(RgbaImage::from_pixel(300, 300, Rgba([0, 150, 0, 255]))), ImageFormat::Png);
    let code = build(&app, BuildQrRequest { logo, ..request("https://example.com/") }).await.unwrap();
    let image = image::load_from_memory(&code.image).unwrap().into_rgb8();
    assert_eq!(image.get_pixel(300, 300), &Rgb([0, 150, 0]), "the logo is centred");
    let green = image.pixels().filter(|pixel| *pixel == &Rgb([0, 150, 0])).count() as f64;
    assert!(green / (600.0 * 600.0) < 0.2, "the logo covers at most a fifth: {}", green / 360_000.0);
    assert!(green / (600.0 * 600.0) > 0.05, "the logo is visible: {}", green / 360_000.0);

    // A fully transparent logo leaves only the background where it sits.
    let clear = encode(DynamicImage::ImageRgba8(RgbaImage::from_pixel(64, 64, Rgba([255, 0, 0, 0]))), ImageFormat::Png);
    let code = build(
        &app,
        BuildQrRequest { logo: clear, background_color: "#fffde7".into(), ..request("https://example.com/") },
    )
    .await
    .unwrap();
    let image = image::load_from_memory(&code.image).unwrap().into_rgb8();
    assert_eq!(image.get_pixel(300, 300), &Rgb([0xff, 0xfd, 0xe7]));
    assert!(image.pixels().all(|pixel| pixel.0[0] != 255 || pixel.0[1] != 0), "no red leaks through");
}

#[tokio::test]
async fn svg_codes_read_back_with_and_without_a_logo() {
    let app = app().await;
    let data = "https://example.com/svg";
    for logo in [Vec::new(), transparent_logo(256, 256)] {
        let with_logo = !logo.is_empty();
        let code =
            build(&app, BuildQrRequest { format: QrImageFormat::Svg.into(), logo, ..request(data) }).await.unwrap();
        assert_eq!(code.content_type, "image/svg+xml");
        assert_eq!(code.file_name, "qr-code.svg");
        let svg = String::from_utf8(code.image.clone()).expect("SVG is text");
        assert!(svg.starts_with("<svg") || svg.starts_with("<?xml"), "{}", &svg[..60.min(svg.len())]);
        assert!(svg.contains(r#"width="600""#));
        assert_eq!(svg.contains("<image"), with_logo, "the logo is embedded only when given");
        assert_eq!(scan_svg(&code.image), [data], "logo: {with_logo}");
    }
}

#[tokio::test]
async fn the_logo_is_re_encoded_without_its_metadata() {
    let app = app().await;
    let marker = b"Author\0Secret Person 4f1c";
    let logo = with_png_chunk(&transparent_logo(128, 128), b"tEXt", marker);
    assert!(image::load_from_memory(&logo).is_ok(), "the logo with a text chunk is still a PNG");
    for format in [QrImageFormat::Png, QrImageFormat::Svg] {
        let code = build(&app, BuildQrRequest { logo: logo.clone(), format: format.into(), ..request("hello") })
            .await
            .unwrap();
        let found = code.image.windows(marker.len()).any(|window| window == marker);
        assert!(!found, "{format:?} output carries the upload's metadata");
    }
}

#[tokio::test]
async fn bad_requests_name_the_field_and_say_what_to_do() {
    let app = app().await;
    let logo = transparent_logo(64, 64);
    let cases = [
        ("data", request("")),
        ("data", BuildQrRequest { error_correction: QrErrorCorrection::High.into(), ..request(&"x".repeat(1274)) }),
        ("size_px", BuildQrRequest { size_px: 127, ..request("a") }),
        ("size_px", BuildQrRequest { size_px: 4097, ..request("a") }),
        ("size_px", BuildQrRequest { size_px: -5, ..request("a") }),
        ("size_px", BuildQrRequest { size_px: 128, ..request(&"x".repeat(2000)) }),
        ("foreground_color", BuildQrRequest { foreground_color: "black".into(), ..request("a") }),
        ("foreground_color", BuildQrRequest { foreground_color: "#12345".into(), ..request("a") }),
        ("background_color", BuildQrRequest { background_color: "#gggggg".into(), ..request("a") }),
        ("background_color", BuildQrRequest { background_color: "ffffff".into(), ..request("a") }),
        ("foreground_color", BuildQrRequest { foreground_color: "#999999".into(), ..request("a") }),
        (
            "foreground_color",
            BuildQrRequest { foreground_color: "#ffffff".into(), background_color: "#000000".into(), ..request("a") },
        ),
        ("quiet_zone_modules", BuildQrRequest { quiet_zone_modules: Some(17), ..request("a") }),
        ("quiet_zone_modules", BuildQrRequest { quiet_zone_modules: Some(-1), ..request("a") }),
        ("error_correction", BuildQrRequest { error_correction: 9, ..request("a") }),
        (
            "error_correction",
            BuildQrRequest { error_correction: QrErrorCorrection::Low.into(), logo: logo.clone(), ..request("a") },
        ),
        ("format", BuildQrRequest { format: 7, ..request("a") }),
        ("logo", BuildQrRequest { logo: b"GIF89a not accepted".to_vec(), ..request("a") }),
        ("logo", BuildQrRequest { logo: b"just some text".to_vec(), ..request("a") }),
        ("logo", BuildQrRequest { logo: logo[..logo.len() / 2].to_vec(), ..request("a") }),
        ("logo", BuildQrRequest { logo: transparent_logo(2000, 100), ..request("a") }),
    ];
    for (field, request) in cases {
        let shown = format!("{:?}", (&request.data.len(), request.size_px, &request.foreground_color));
        let status = build(&app, request).await.expect_err(&shown);
        assert_eq!(status.code(), Code::InvalidArgument, "{shown}: {status:?}");
        assert_eq!(violated_field(&status), field, "{shown}: {}", status.message());
        assert!(status.message().contains(';'), "says what to do: {}", status.message());
    }
}

#[tokio::test]
async fn oversized_and_flooding_logos_are_refused_from_the_header() {
    let app = app().await;
    let expect_logo_error = |status: Status, needle: &str| {
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert_eq!(violated_field(&status), "logo");
        assert!(status.message().contains(needle), "{}", status.message());
    };
    // Over 2 MiB: noise does not compress.
    let mut seed = 1u32;
    let noise = RgbImage::from_fn(1000, 1000, |_, _| {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let [a, b, c, _] = seed.to_le_bytes();
        Rgb([a, b, c])
    });
    let big = encode(DynamicImage::ImageRgb8(noise), ImageFormat::Png);
    assert!(big.len() > 2 * 1024 * 1024);
    expect_logo_error(build(&app, BuildQrRequest { logo: big, ..request("a") }).await.unwrap_err(), "KiB");

    // A real decompression bomb: 20000 × 20000 black pixels compress to a few hundred KiB.
    let bomb = encode(DynamicImage::ImageLuma8(image::GrayImage::new(20_000, 20_000)), ImageFormat::Png);
    assert!(bomb.len() < 2 * 1024 * 1024, "{} bytes", bomb.len());
    expect_logo_error(build(&app, BuildQrRequest { logo: bomb, ..request("a") }).await.unwrap_err(), "20000 × 20000");

    // Headers that lie: a tiny file claiming a huge image.
    expect_logo_error(
        build(&app, BuildQrRequest { logo: png_claiming(100_000, 100_000), ..request("a") }).await.unwrap_err(),
        "100000 × 100000",
    );
    expect_logo_error(
        build(&app, BuildQrRequest { logo: jpeg_claiming(60_000, 60_000), ..request("a") }).await.unwrap_err(),
        "60000 × 60000",
    );
    expect_logo_error(
        build(&app, BuildQrRequest { logo: png_claiming(4096, 4097), ..request("a") }).await.unwrap_err(),
        "4096 × 4097",
    );
    // Within the side limit both ways, but over the pixel limit: refused from the header too,
    // saying how many pixels there are and what would do.
    let too_many = build(&app, BuildQrRequest { logo: png_claiming(4096, 4096), ..request("a") }).await.unwrap_err();
    expect_logo_error(too_many.clone(), "4096 × 4096 pixels, 16.8 million");
    assert!(too_many.message().contains("4096 × 2048") && too_many.message().contains("upload a smaller"));
}

#[tokio::test]
async fn a_logo_just_within_every_limit_still_makes_a_code_that_reads_back() {
    let app = app().await;
    // 4096 × 2048 is the most pixels accepted; 16 bits per RGBA channel is the costliest colour
    // type, whose conversion to 8 bits must fit the memory bound too.
    let logo = image::ImageBuffer::from_fn(4096, 2048, |x, y| {
        let (dx, dy) = (i64::from(x) - 2048, i64::from(y) - 1024);
        if dx * dx + dy * dy < 900 * 900 { Rgba([0u16, 40_000, 0, 65_535]) } else { Rgba([0, 0, 0, 0]) }
    });
    let logo = encode(DynamicImage::ImageRgba16(logo), ImageFormat::Png);
    assert!(logo.len() <= 2 * 1024 * 1024, "{} bytes", logo.len());
    let request = BuildQrRequest {
        logo,
        error_correction: QrErrorCorrection::High.into(),
        ..request("https://example.com/within-limits")
    };
    let code = build(&app, request).await.expect("a logo at the limits is accepted");
    assert_eq!(scan_png(&code.image), ["https://example.com/within-limits"]);
}

#[tokio::test]
async fn the_service_is_public_and_limited_per_address() {
    let Some(app) = spawn_app_with(Backend::Sqlite, |config| config.qr_per_minute = 3).await else {
        unreachable!("SQLite needs no server")
    };
    let mut signed_in = Request::new(request("a"));
    signed_in.metadata_mut().insert("authorization", "Bearer not-a-real-token".parse().unwrap());
    let code = QrServiceClient::new(app.channel.clone()).build_qr(signed_in).await;
    assert!(code.is_ok(), "an authorization header is ignored: {code:?}");
    build(&app, request("b")).await.unwrap();
    build(&app, request("c")).await.unwrap();
    let status = build(&app, request("d")).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    let retry = status.get_error_details().retry_info().expect("RetryInfo detail").retry_delay.unwrap();
    assert!(retry >= Duration::from_secs(1) && retry <= Duration::from_secs(20), "{retry:?}");
    assert!(status.message().contains("too many QR codes"), "{}", status.message());
}

/// A real PNG with its IHDR rewritten to claim `width` × `height` (and a valid CRC).
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut png = encode(gradient(8, 8), ImageFormat::Png);
    // Signature (8), length (4), "IHDR" (4), then width and height.
    png[16..20].copy_from_slice(&width.to_be_bytes());
    png[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32fast::hash(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

/// A real JPEG with its frame header rewritten to claim `width` × `height`.
fn jpeg_claiming(width: u16, height: u16) -> Vec<u8> {
    let mut jpeg = encode(gradient(16, 16), ImageFormat::Jpeg);
    let sof = jpeg.windows(2).position(|marker| marker == [0xff, 0xc0]).expect("a baseline frame header");
    // Marker (2), length (2), precision (1), then height and width.
    jpeg[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    jpeg
}

/// `png` with one more chunk just before IEND.
fn with_png_chunk(png: &[u8], kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let iend = png.len() - 12;
    let mut chunk = Vec::new();
    chunk.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
    chunk.extend_from_slice(kind);
    chunk.extend_from_slice(data);
    chunk.extend_from_slice(&crc32fast::hash(&chunk[4..]).to_be_bytes());
    [&png[..iend], &chunk, &png[iend..]].concat()
}
