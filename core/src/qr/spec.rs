//! A BuildQr request checked field by field: what to draw, in which colours and format.

use assistchat_proto::v1::{BuildQrRequest, QrErrorCorrection, QrImageFormat};
use qrcode::EcLevel;

use crate::error::{Error, Result};

/// Size when the request leaves it at 0.
pub const DEFAULT_SIZE_PX: u32 = 600;
/// The sizes accepted.
pub const SIZE_PX: std::ops::RangeInclusive<u32> = 128..=4096;
/// Quiet zone when the request leaves it unset: the standard's minimum.
pub const DEFAULT_QUIET_ZONE: u32 = 4;
/// The quiet zones accepted, in modules.
pub const QUIET_ZONE: std::ops::RangeInclusive<u32> = 0..=16;
/// The least contrast ratio between the colours (WCAG's for large graphics).
pub const MIN_CONTRAST: f64 = 3.0;

/// An sRGB colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rgb(pub [u8; 3]);

impl Rgb {
    /// Black, the default foreground.
    pub const BLACK: Self = Self([0, 0, 0]);
    /// White, the default background.
    pub const WHITE: Self = Self([255, 255, 255]);

    /// Reads "#rrggbb" (either case); empty means `default`.
    fn parse(text: &str, default: Self, field: &'static str) -> Result<Self> {
        if text.is_empty() {
            return Ok(default);
        }
        let hex = text.strip_prefix('#').filter(|hex| hex.len() == 6 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
        let Some(hex) = hex else {
            return Err(Error::invalid(
                field,
                format!("\"{text}\" is not a colour; write it as #rrggbb, like #1a2b3c"),
            ));
        };
        let channel = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).expect("checked hex digits");
        Ok(Self([channel(0), channel(2), channel(4)]))
    }

    /// "#rrggbb", lower case.
    pub fn hex(self) -> String {
        let [r, g, b] = self.0;
        format!("#{r:02x}{g:02x}{b:02x}")
    }

    /// Relative luminance, as WCAG defines it.
    pub fn luminance(self) -> f64 {
        let linear = |channel: u8| {
            let c = f64::from(channel) / 255.0;
            if c <= 0.04045 { c / 12.92 } else { ((c + 0.055) / 1.055).powf(2.4) }
        };
        let [r, g, b] = self.0;
        0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b)
    }

    /// Luma on a 0..=255 scale, as a greyscale camera sees the colour.
    pub fn luma(self) -> u8 {
        let [r, g, b] = self.0.map(u32::from);
        u8::try_from((r * 299 + g * 587 + b * 114 + 500) / 1000).expect("a weighted mean of bytes")
    }
}

/// The contrast ratio of two colours, as WCAG defines it (1 to 21).
pub fn contrast(a: Rgb, b: Rgb) -> f64 {
    let (la, lb) = (a.luminance(), b.luminance());
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// The output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `image/png`.
    Png,
    /// `image/svg+xml`.
    Svg,
}

impl Format {
    /// The media type.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Svg => "image/svg+xml",
        }
    }

    /// A download file name.
    pub fn file_name(self) -> &'static str {
        match self {
            Self::Png => "qr-code.png",
            Self::Svg => "qr-code.svg",
        }
    }
}

/// A request with every field checked; the logo is still undecoded bytes.
#[derive(Clone, Debug)]
pub struct QrSpec {
    /// The data to encode, exactly.
    pub data: String,
    /// Width and height of the image.
    pub size_px: u32,
    /// The error-correction level.
    pub level: EcLevel,
    /// Dark modules.
    pub foreground: Rgb,
    /// Light modules, quiet zone and logo padding.
    pub background: Rgb,
    /// Quiet zone, in modules.
    pub quiet_zone: u32,
    /// The logo file, if any.
    pub logo: Option<Vec<u8>>,
    /// The output format.
    pub format: Format,
}

impl QrSpec {
    /// Checks every field of `request` except the logo's content (see [`super::logo`]).
    pub fn from_request(request: BuildQrRequest) -> Result<Self> {
        if request.data.is_empty() {
            return Err(Error::invalid("data", "is empty; enter the text or the link to encode"));
        }
        let size_px = match request.size_px {
            0 => DEFAULT_SIZE_PX,
            size => u32::try_from(size).ok().filter(|size| SIZE_PX.contains(size)).ok_or_else(|| {
                Error::invalid(
                    "size_px",
                    format!("{size} px is out of range; choose {} to {} px", SIZE_PX.start(), SIZE_PX.end()),
                )
            })?,
        };
        let has_logo = !request.logo.is_empty();
        let level = match QrErrorCorrection::try_from(request.error_correction) {
            Ok(QrErrorCorrection::Unspecified) if has_logo => EcLevel::H,
            Ok(QrErrorCorrection::Unspecified) => EcLevel::M,
            Ok(QrErrorCorrection::Low) if has_logo => {
                return Err(Error::invalid(
                    "error_correction",
                    "LOW cannot carry a logo; choose MEDIUM, QUARTILE or HIGH (HIGH holds the largest logo)",
                ));
            }
            Ok(QrErrorCorrection::Low) => EcLevel::L,
            Ok(QrErrorCorrection::Medium) => EcLevel::M,
            Ok(QrErrorCorrection::Quartile) => EcLevel::Q,
            Ok(QrErrorCorrection::High) => EcLevel::H,
            Err(_) => {
                return Err(Error::invalid(
                    "error_correction",
                    "is not a known level; choose LOW, MEDIUM, QUARTILE or HIGH",
                ));
            }
        };
        let foreground = Rgb::parse(&request.foreground_color, Rgb::BLACK, "foreground_color")?;
        let background = Rgb::parse(&request.background_color, Rgb::WHITE, "background_color")?;
        if foreground.luminance() >= background.luminance() {
            return Err(Error::invalid(
                "foreground_color",
                format!(
                    "{} is not darker than the background {}; many scanners cannot read light-on-dark codes, so \
                     choose a dark foreground on a light background",
                    foreground.hex(),
                    background.hex()
                ),
            ));
        }
        let ratio = contrast(foreground, background);
        if ratio < MIN_CONTRAST {
            return Err(Error::invalid(
                "foreground_color",
                format!(
                    "{} on {} has a contrast of {ratio:.1}:1, too little to scan reliably; choose colours with at \
                     least {MIN_CONTRAST}:1 (a darker foreground or a lighter background)",
                    foreground.hex(),
                    background.hex()
                ),
            ));
        }
        let quiet_zone = match request.quiet_zone_modules {
            None => DEFAULT_QUIET_ZONE,
            Some(zone) => u32::try_from(zone).ok().filter(|zone| QUIET_ZONE.contains(zone)).ok_or_else(|| {
                Error::invalid(
                    "quiet_zone_modules",
                    format!(
                        "{zone} is out of range; choose {} to {} modules (4 is the standard)",
                        QUIET_ZONE.start(),
                        QUIET_ZONE.end()
                    ),
                )
            })?,
        };
        let format = match QrImageFormat::try_from(request.format) {
            Ok(QrImageFormat::Unspecified | QrImageFormat::Png) => Format::Png,
            Ok(QrImageFormat::Svg) => Format::Svg,
            Err(_) => return Err(Error::invalid("format", "is not a known format; choose PNG or SVG")),
        };
        Ok(Self {
            data: request.data,
            size_px,
            level,
            foreground,
            background,
            quiet_zone,
            logo: has_logo.then_some(request.logo),
            format,
        })
    }
}

/// The proto's name of a level.
pub fn level_to_proto(level: EcLevel) -> QrErrorCorrection {
    match level {
        EcLevel::L => QrErrorCorrection::Low,
        EcLevel::M => QrErrorCorrection::Medium,
        EcLevel::Q => QrErrorCorrection::Quartile,
        EcLevel::H => QrErrorCorrection::High,
    }
}

/// A level's name for people.
pub fn level_name(level: EcLevel) -> &'static str {
    match level {
        EcLevel::L => "LOW",
        EcLevel::M => "MEDIUM",
        EcLevel::Q => "QUARTILE",
        EcLevel::H => "HIGH",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contrast_matches_wcag_reference_values() {
        assert!((contrast(Rgb::BLACK, Rgb::WHITE) - 21.0).abs() < 1e-9);
        // #777777 on white is WCAG's well-known 4.48:1.
        assert!((contrast(Rgb([0x77; 3]), Rgb::WHITE) - 4.48).abs() < 0.01);
    }

    #[test]
    fn colours_parse_in_either_case_and_refuse_anything_else() {
        assert_eq!(Rgb::parse("#1A2b3C", Rgb::BLACK, "f").unwrap(), Rgb([0x1a, 0x2b, 0x3c]));
        assert_eq!(Rgb::parse("", Rgb::WHITE, "f").unwrap(), Rgb::WHITE);
        for bad in ["1a2b3c", "#1a2b3", "#1a2b3c0", "#gg0000", "red", "#ééé"] {
            assert!(Rgb::parse(bad, Rgb::BLACK, "f").is_err(), "{bad}");
        }
    }
}
