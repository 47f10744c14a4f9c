//! Laying a symbol out on whole pixels, with room for a logo, and drawing it as a raster (for
//! PNG and for the read-back check) or as SVG with the very same geometry.

use std::fmt::Write as _;

use base64::Engine as _;
use image::RgbImage;
use qrcode::EcLevel;

use super::spec::Rgb;

/// The share of the symbol's area a logo (with its padding) may cover at each level: what the
/// level can lose, with margin, since the finder, timing and format areas must stay whole.
pub fn logo_share(level: EcLevel) -> f64 {
    match level {
        EcLevel::L => 0.0,
        EcLevel::M => 0.07,
        EcLevel::Q => 0.14,
        EcLevel::H => 0.20,
    }
}

/// Modules kept clear of the logo along each edge of the symbol: the finder patterns with their
/// separators, the format information and the timing patterns all lie within them.
const EDGE_KEPT: u32 = 9;

/// A symbol: its modules, row by row, `true` where dark.
pub struct Symbol {
    /// Modules per side.
    pub width: u32,
    /// `width * width` modules.
    pub dark: Vec<bool>,
}

/// A rectangle on the image, in pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rect {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width.
    pub w: u32,
    /// Height.
    pub h: u32,
}

/// Where everything goes on the image.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// Image width and height.
    pub size: u32,
    /// Modules per side of the symbol.
    pub width: u32,
    /// Pixels per module.
    pub module_px: u32,
    /// Pixel offset of the symbol's top-left corner (the quiet zone, widened by what is left
    /// over from whole-pixel modules).
    pub origin: u32,
    /// The modules left blank for the logo, as a rectangle in modules.
    pub hole: Option<Rect>,
    /// Where the logo itself is drawn, inside the hole and its padding, in pixels.
    pub logo: Option<Rect>,
}

/// Why a layout is impossible.
#[derive(Debug, PartialEq, Eq)]
pub enum LayoutError {
    /// Modules would get less than 2 pixels; `min_size` is the smallest size that fits.
    TooSmall {
        /// The smallest image size with 2 pixels per module.
        min_size: u32,
    },
    /// The logo's proportions leave it too little room to show.
    LogoShape,
}

impl Layout {
    /// Lays out a symbol of `width` modules with `quiet_zone` modules around it on a `size`
    /// pixel square, leaving room for a logo of `logo_aspect` (width over height), if any.
    pub fn new(
        size: u32,
        width: u32,
        quiet_zone: u32,
        level: EcLevel,
        logo_aspect: Option<f64>,
    ) -> Result<Self, LayoutError> {
        let span = width + 2 * quiet_zone;
        let module_px = size / span;
        if module_px < 2 {
            return Err(LayoutError::TooSmall { min_size: 2 * span });
        }
        let origin = (size - width * module_px) / 2;
        let mut layout = Self { size, width, module_px, origin, hole: None, logo: None };
        if let Some(aspect) = logo_aspect {
            let hole = hole(width, level, aspect).ok_or(LayoutError::LogoShape)?;
            layout.hole = Some(hole);
            layout.logo = Some(layout.logo_rect(hole, aspect));
        }
        Ok(layout)
    }

    /// Whether the module at (`x`, `y`) lies in the logo's hole.
    pub fn in_hole(&self, x: u32, y: u32) -> bool {
        self.hole.is_some_and(|hole| x >= hole.x && x < hole.x + hole.w && y >= hole.y && y < hole.y + hole.h)
    }

    /// The logo inside the hole: inset by half a module of padding, proportions kept, centred.
    fn logo_rect(&self, hole: Rect, aspect: f64) -> Rect {
        let pad = (self.module_px / 2).max(1);
        let (room_w, room_h) = (hole.w * self.module_px - 2 * pad, hole.h * self.module_px - 2 * pad);
        let mut w = room_w;
        let mut h = rounded(f64::from(w) / aspect).clamp(1, room_h);
        if f64::from(room_w) / aspect > f64::from(room_h) {
            h = room_h;
            w = rounded(f64::from(h) * aspect).clamp(1, room_w);
        }
        let hole_x = self.origin + hole.x * self.module_px;
        let hole_y = self.origin + hole.y * self.module_px;
        Rect { x: hole_x + (hole.w * self.module_px - w) / 2, y: hole_y + (hole.h * self.module_px - h) / 2, w, h }
    }
}

fn rounded(value: f64) -> u32 {
    // Pixel counts here are far below u32::MAX.
    value.round() as u32
}

/// The largest centred rectangle of whole modules, odd on each side so it centres exactly, with
/// the logo's proportions, covering at most the level's share, and clear of the edges' function
/// patterns. `None` when that leaves less than 3 modules on a side.
fn hole(width: u32, level: EcLevel, aspect: f64) -> Option<Rect> {
    let room = f64::from(width.saturating_sub(2 * EDGE_KEPT));
    let area = logo_share(level) * f64::from(width * width);
    let (mut w, mut h) = ((area * aspect).sqrt(), (area / aspect).sqrt());
    if w > room {
        (w, h) = (room, room / aspect);
    }
    if h > room {
        (w, h) = (room * aspect, room);
    }
    let odd_floor = |value: f64| {
        let whole = value.floor() as u32;
        if whole % 2 == 1 { whole } else { whole.saturating_sub(1) }
    };
    let (w, h) = (odd_floor(w), odd_floor(h));
    (w >= 3 && h >= 3).then(|| Rect { x: (width - w) / 2, y: (width - h) / 2, w, h })
}

/// An image of the code, in pixels.
pub struct Raster {
    /// The colour of dark modules.
    pub foreground: Rgb,
    /// The colour of everything else.
    pub background: Rgb,
    /// The pixels.
    pixels: Pixels,
}

/// The pixels of a [`Raster`].
enum Pixels {
    /// Only the two colours: one bit per pixel, set where dark, rows packed from the high bit.
    TwoTone {
        /// The packed rows.
        bits: Vec<u8>,
        /// Bytes per row.
        stride: usize,
    },
    /// Full colour, with a logo.
    Rgb(RgbImage),
}

impl Raster {
    /// Draws `symbol` as `layout` says, with `logo` (already at the layout's logo size), if any.
    pub fn draw(symbol: &Symbol, layout: &Layout, foreground: Rgb, background: Rgb, logo: Option<&RgbImage>) -> Self {
        let pixels = match logo {
            None => two_tone(symbol, layout),
            Some(logo) => with_logo(symbol, layout, foreground, background, logo),
        };
        Self { foreground, background, pixels }
    }

    /// Width and height in pixels.
    pub fn size(&self) -> u32 {
        match &self.pixels {
            Pixels::TwoTone { stride, bits } => u32::try_from(bits.len() / stride).expect("a checked size"),
            Pixels::Rgb(image) => image.width(),
        }
    }

    /// The luma of the pixel at (`x`, `y`), as a greyscale camera sees it.
    pub fn luma_at(&self, x: u32, y: u32) -> u8 {
        match &self.pixels {
            Pixels::TwoTone { bits, stride } => {
                let dark = bits[y as usize * stride + x as usize / 8] & (0x80 >> (x % 8)) != 0;
                if dark { self.foreground.luma() } else { self.background.luma() }
            }
            Pixels::Rgb(image) => Rgb(image.get_pixel(x, y).0).luma(),
        }
    }

    /// The luma halfway between the two colours: darker reads as a dark module.
    pub fn threshold(&self) -> u8 {
        let (dark, light) = (u16::from(self.foreground.luma()), u16::from(self.background.luma()));
        u8::try_from((dark + light).div_ceil(2)).expect("a mean of bytes")
    }

    /// The image as a PNG: two-tone images as a 1-bit palette image, the rest as 8-bit RGB.
    pub fn png(&self) -> Vec<u8> {
        match &self.pixels {
            Pixels::TwoTone { bits, .. } => {
                let size = self.size();
                encode_png(size, size, bits, |encoder| {
                    encoder.set_color(png::ColorType::Indexed);
                    encoder.set_depth(png::BitDepth::One);
                    encoder.set_palette([self.background.0, self.foreground.0].concat());
                })
            }
            Pixels::Rgb(image) => rgb_png(image),
        }
    }
}

fn two_tone(symbol: &Symbol, layout: &Layout) -> Pixels {
    let size = layout.size as usize;
    let stride = size.div_ceil(8);
    let mut bits = vec![0u8; stride * size];
    let module_px = layout.module_px as usize;
    let origin = layout.origin as usize;
    for my in 0..symbol.width as usize {
        // Every pixel row of a module row is the same: draw the first, copy it to the rest.
        let first = (origin + my * module_px) * stride;
        let row = &mut bits[first..first + stride];
        for mx in (0..symbol.width as usize).filter(|mx| symbol.dark[my * symbol.width as usize + mx]) {
            let start = origin + mx * module_px;
            for x in start..start + module_px {
                row[x / 8] |= 0x80 >> (x % 8);
            }
        }
        for copy in 1..module_px {
            bits.copy_within(first..first + stride, first + copy * stride);
        }
    }
    Pixels::TwoTone { bits, stride }
}

fn with_logo(symbol: &Symbol, layout: &Layout, foreground: Rgb, background: Rgb, logo: &RgbImage) -> Pixels {
    let mut image = RgbImage::from_pixel(layout.size, layout.size, image::Rgb(background.0));
    let module_px = layout.module_px;
    for my in 0..symbol.width {
        for mx in 0..symbol.width {
            if !symbol.dark[(my * symbol.width + mx) as usize] || layout.in_hole(mx, my) {
                continue;
            }
            let (x0, y0) = (layout.origin + mx * module_px, layout.origin + my * module_px);
            for y in y0..y0 + module_px {
                for x in x0..x0 + module_px {
                    image.put_pixel(x, y, image::Rgb(foreground.0));
                }
            }
        }
    }
    if let Some(at) = layout.logo {
        image::imageops::replace(&mut image, logo, i64::from(at.x), i64::from(at.y));
    }
    Pixels::Rgb(image)
}

/// An RGB image as a PNG.
pub fn rgb_png(image: &RgbImage) -> Vec<u8> {
    encode_png(image.width(), image.height(), image.as_raw(), |encoder| {
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
    })
}

/// Encodes `data` as a PNG with the colour type `setup` gives, compressed for speed.
fn encode_png(width: u32, height: u32, data: &[u8], setup: impl FnOnce(&mut png::Encoder<&mut Vec<u8>>)) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_compression(png::Compression::Fast);
    setup(&mut encoder);
    let mut writer = encoder.write_header().expect("writing to memory");
    writer.write_image_data(data).expect("the data matches the header");
    writer.finish().expect("writing to memory");
    out
}

/// The code as SVG, with the same geometry as the raster: each run of dark modules in a row is
/// one rectangle in the path, and the logo is embedded as a PNG.
pub fn svg(symbol: &Symbol, layout: &Layout, foreground: Rgb, background: Rgb, logo: Option<&RgbImage>) -> Vec<u8> {
    let (size, module_px) = (layout.size, layout.module_px);
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{size}\" height=\"{size}\" viewBox=\"0 0 {size} {size}\" \
         shape-rendering=\"crispEdges\"><rect width=\"{size}\" height=\"{size}\" fill=\"{}\"/><path fill=\"{}\" d=\"",
        background.hex(),
        foreground.hex()
    );
    for my in 0..symbol.width {
        let mut mx = 0;
        while mx < symbol.width {
            let is_dark = |x: u32| symbol.dark[(my * symbol.width + x) as usize] && !layout.in_hole(x, my);
            if !is_dark(mx) {
                mx += 1;
                continue;
            }
            let start = mx;
            while mx < symbol.width && is_dark(mx) {
                mx += 1;
            }
            let (x, y, w) =
                (layout.origin + start * module_px, layout.origin + my * module_px, (mx - start) * module_px);
            write!(out, "M{x} {y}h{w}v{module_px}h-{w}z").expect("writing to a string");
        }
    }
    out.push_str("\"/>");
    if let (Some(at), Some(logo)) = (layout.logo, logo) {
        let data = base64::engine::general_purpose::STANDARD.encode(rgb_png(logo));
        write!(
            out,
            "<image x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" href=\"data:image/png;base64,{data}\"/>",
            at.x, at.y, at.w, at.h
        )
        .expect("writing to a string");
    }
    out.push_str("</svg>\n");
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftover_pixels_widen_the_quiet_zone_evenly() {
        // 25 modules + 2 * 4 quiet = 33; 600 / 33 = 18 px per module, 150 px left over.
        let layout = Layout::new(600, 25, 4, EcLevel::M, None).unwrap();
        assert_eq!(layout.module_px, 18);
        assert_eq!(layout.origin, (600 - 25 * 18) / 2);
        assert_eq!(Layout::new(128, 177, 4, EcLevel::M, None).unwrap_err(), LayoutError::TooSmall { min_size: 370 });
    }

    #[test]
    fn the_logo_hole_respects_the_share_and_the_function_patterns() {
        for (width, level) in [(37, EcLevel::H), (57, EcLevel::Q), (101, EcLevel::M), (177, EcLevel::H)] {
            for aspect in [1.0, 2.5, 0.4] {
                let hole = hole(width, level, aspect).unwrap();
                assert!(f64::from(hole.w * hole.h) <= logo_share(level) * f64::from(width * width));
                assert!(hole.x >= EDGE_KEPT && hole.y >= EDGE_KEPT, "{hole:?}");
                assert!(hole.x + hole.w <= width - EDGE_KEPT && hole.y + hole.h <= width - EDGE_KEPT, "{hole:?}");
                assert_eq!(hole.w % 2, 1);
                assert_eq!(2 * hole.x + hole.w, width, "centred");
            }
        }
        assert_eq!(hole(37, EcLevel::H, 30.0), None, "a sliver of a logo has no room");
    }
}
