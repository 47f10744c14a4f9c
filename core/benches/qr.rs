//! Building QR codes, whole and stage by stage: QR encoding, logo decoding and resizing,
//! drawing, the read-back check and PNG encoding.
//!
//! `cargo bench -p assistchat-core --bench qr`.

use std::io::Cursor;

use assistchat_core::qr::{
    build,
    logo::Logo,
    render::{Layout, Raster, Symbol},
    spec::{Format, QrSpec, Rgb},
    verify::reads_back,
};
use criterion::{Criterion, criterion_group, criterion_main};
use image::{ImageFormat, Rgba, RgbaImage};
use qrcode::{EcLevel, QrCode};

const URL: &str = "https://assistchat.example.com/invite/3f9c2a71-5b8e-4d0a-9c1e-2b7f6a8d4e10";

/// A 512 × 512 PNG logo with transparency: a filled circle with a gradient.
fn logo_png() -> Vec<u8> {
    let logo = RgbaImage::from_fn(512, 512, |x, y| {
        let (dx, dy) = (x as f64 - 256.0, y as f64 - 256.0);
        let inside = dx * dx + dy * dy < 240.0 * 240.0;
        Rgba([(x / 2) as u8, 40, (y / 2) as u8, if inside { 255 } else { 0 }])
    });
    let mut png = Vec::new();
    logo.write_to(&mut Cursor::new(&mut png), ImageFormat::Png).unwrap();
    png
}

fn spec(logo: Option<Vec<u8>>) -> QrSpec {
    QrSpec {
        data: URL.into(),
        size_px: 600,
        level: if logo.is_some() { EcLevel::H } else { EcLevel::M },
        foreground: Rgb::BLACK,
        background: Rgb::WHITE,
        quiet_zone: 4,
        logo,
        format: Format::Png,
    }
}

fn symbol(level: EcLevel) -> Symbol {
    let code = QrCode::with_error_correction_level(URL, level).unwrap();
    let width = code.width() as u32;
    Symbol { width, dark: code.to_colors().into_iter().map(|c| c == qrcode::Color::Dark).collect() }
}

fn benches(c: &mut Criterion) {
    let logo = logo_png();
    let plain = spec(None);
    let with_logo = spec(Some(logo.clone()));
    let svg = QrSpec { format: Format::Svg, ..plain.clone() };

    let mut whole = c.benchmark_group("build_600px");
    whole.bench_function("png_no_logo", |b| b.iter(|| build(&plain).unwrap()));
    whole.bench_function("svg_no_logo", |b| b.iter(|| build(&svg).unwrap()));
    whole.bench_function("png_logo_512px", |b| b.iter(|| build(&with_logo).unwrap()));
    whole.finish();

    let mut stages = c.benchmark_group("stage_600px");
    stages.bench_function("qr_encode", |b| b.iter(|| QrCode::with_error_correction_level(URL, EcLevel::M).unwrap()));
    let plain_symbol = symbol(EcLevel::M);
    let layout = Layout::new(600, plain_symbol.width, 4, EcLevel::M, None).unwrap();
    stages.bench_function("draw_no_logo", |b| {
        b.iter(|| Raster::draw(&plain_symbol, &layout, Rgb::BLACK, Rgb::WHITE, None))
    });
    let raster = Raster::draw(&plain_symbol, &layout, Rgb::BLACK, Rgb::WHITE, None);
    stages.bench_function("read_back_modules", |b| b.iter(|| assert!(reads_back(&raster, &layout, URL, false))));
    stages.bench_function("read_back_whole_scan", |b| b.iter(|| assert!(reads_back(&raster, &layout, URL, true))));
    stages.bench_function("png_no_logo", |b| b.iter(|| raster.png()));

    stages.bench_function("logo_decode_512px_png", |b| b.iter(|| Logo::decode(&logo, Rgb::WHITE).unwrap()));
    let decoded = Logo::decode(&logo, Rgb::WHITE).unwrap();
    let logo_symbol = symbol(EcLevel::H);
    let layout = Layout::new(600, logo_symbol.width, 4, EcLevel::H, Some(decoded.aspect())).unwrap();
    let at = layout.logo.unwrap();
    stages.bench_function("logo_resize", |b| b.iter(|| decoded.resized(at.w, at.h)));
    let resized = decoded.resized(at.w, at.h);
    stages.bench_function("draw_logo", |b| {
        b.iter(|| Raster::draw(&logo_symbol, &layout, Rgb::BLACK, Rgb::WHITE, Some(&resized)))
    });
    let raster = Raster::draw(&logo_symbol, &layout, Rgb::BLACK, Rgb::WHITE, Some(&resized));
    stages.bench_function("read_back_logo", |b| b.iter(|| assert!(reads_back(&raster, &layout, URL, true))));
    stages.bench_function("png_logo", |b| b.iter(|| raster.png()));
    stages.finish();
}

criterion_group!(qr, benches);
criterion_main!(qr);
