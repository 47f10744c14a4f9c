//! QR codes with an optional logo, every one checked to scan before it is returned.
//!
//! Layout: [`spec`] checks a request; [`logo`] decodes an upload safely; [`render`] lays the
//! symbol out and draws it; [`verify`] reads the drawing back; [`service`] is the tonic layer,
//! with the per-address rate limit. [`build`] ties them together and is pure CPU work.

pub mod logo;
pub mod render;
pub mod service;
pub mod spec;
pub mod verify;

use qrcode::{EcLevel, QrCode, Version, types::QrError};

use crate::error::{Error, Result};
use logo::Logo;
use render::{Layout, LayoutError, Raster, Symbol};
use spec::{Format, QrSpec, level_name};

/// The smallest version drawn with a logo: below it, the middle of the symbol between the
/// function patterns is too small for a logo to be seen.
pub const MIN_LOGO_VERSION: i16 = 5;

/// A finished code.
#[derive(Clone, Debug)]
pub struct QrImage {
    /// The image file.
    pub image: Vec<u8>,
    /// Its format.
    pub format: Format,
    /// The QR version, 1 to 40.
    pub version: i16,
    /// Modules per side.
    pub module_count: u32,
    /// The error-correction level used.
    pub level: EcLevel,
}

/// Builds the code `spec` asks for and checks that it reads back to exactly its data.
pub fn build(spec: &QrSpec) -> Result<QrImage> {
    let logo = spec.logo.as_deref().map(|bytes| Logo::decode(bytes, spec.background)).transpose()?;
    let code = encode(&spec.data, spec.level, logo.is_some())?;
    let Version::Normal(version) = code.version() else { unreachable!("only normal QR codes are built") };
    let width = u32::try_from(code.width()).expect("at most 177 modules");
    let symbol =
        Symbol { width, dark: code.to_colors().into_iter().map(|color| color == qrcode::Color::Dark).collect() };
    let layout = Layout::new(spec.size_px, width, spec.quiet_zone, spec.level, logo.as_ref().map(Logo::aspect))
        .map_err(|err| layout_error(err, spec.size_px))?;
    let logo = logo.zip(layout.logo).map(|(logo, at)| logo.resized(at.w, at.h));
    let raster = Raster::draw(&symbol, &layout, spec.foreground, spec.background, logo.as_ref());
    let scan_whole = logo.is_some() || spec.quiet_zone < spec::DEFAULT_QUIET_ZONE;
    if !verify::reads_back(&raster, &layout, &spec.data, scan_whole) {
        return Err(unreadable(spec));
    }
    let image = match spec.format {
        Format::Png => raster.png(),
        Format::Svg => render::svg(&symbol, &layout, spec.foreground, spec.background, logo.as_ref()),
    };
    Ok(QrImage { image, format: spec.format, version, module_count: width, level: spec.level })
}

/// The symbol for `data` at `level`: the smallest version that holds it, and with a logo at
/// least [`MIN_LOGO_VERSION`].
fn encode(data: &str, level: EcLevel, with_logo: bool) -> Result<QrCode> {
    let too_long = |_: QrError| {
        let lower = if level == EcLevel::L { "" } else { ", or choose a lower error-correction level" };
        Error::invalid(
            "data",
            format!(
                "is {} bytes, more than a QR code holds at level {} ({} bytes of text); shorten it{lower}",
                data.len(),
                level_name(level),
                byte_capacity(level)
            ),
        )
    };
    let code = QrCode::with_error_correction_level(data, level).map_err(too_long)?;
    match code.version() {
        Version::Normal(version) if with_logo && version < MIN_LOGO_VERSION => {
            QrCode::with_version(data, Version::Normal(MIN_LOGO_VERSION), level).map_err(too_long)
        }
        _ => Ok(code),
    }
}

/// Bytes of arbitrary text the largest symbol holds at `level`.
pub fn byte_capacity(level: EcLevel) -> u32 {
    match level {
        EcLevel::L => 2953,
        EcLevel::M => 2331,
        EcLevel::Q => 1663,
        EcLevel::H => 1273,
    }
}

fn layout_error(err: LayoutError, size_px: u32) -> Error {
    match err {
        LayoutError::TooSmall { min_size } => Error::invalid(
            "size_px",
            format!(
                "{size_px} px leaves less than 2 pixels per module for this much data; choose at least {min_size} px, \
                 or encode less data"
            ),
        ),
        LayoutError::LogoShape => Error::invalid(
            "logo",
            "is too wide or too tall to fit in the middle of the code; use a logo closer to square (at most about \
             3:1)",
        ),
    }
}

fn unreadable(spec: &QrSpec) -> Error {
    if spec.logo.is_some() {
        let advice = if spec.level == EcLevel::H {
            "encode less data, or use a simpler logo"
        } else {
            "choose HIGH error correction, encode less data, or use a simpler logo"
        };
        Error::invalid("logo", format!("with this logo the code does not scan reliably; {advice}"))
    } else {
        Error::invalid("foreground_color", "the code does not scan reliably in these colours; choose more contrast")
    }
}
