//! The logo upload: told from its content, checked from its header before any pixel is
//! allocated, decoded under explicit limits, and flattened onto the code's background.
//!
//! Memory: the header says how large the pixels will be in the decoder's colour type, and how
//! large their 8-bit RGBA copy for flattening would be; both together, with the decoder's own
//! workspace, must fit [`MAX_LOGO_ALLOC`] before anything is decoded, and the decoder is held
//! to what is left for it. Flattening then works in place, so no third buffer is made.

use std::io::Cursor;

use image::{ColorType, DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage, imageops::FilterType};

use super::spec::Rgb;
use crate::error::{Error, Result};

/// The largest logo file accepted.
pub const MAX_LOGO_BYTES: usize = 2 * 1024 * 1024;
/// The largest logo width and height accepted, in pixels.
pub const MAX_LOGO_SIDE: u32 = 4096;
/// The largest logo area accepted, in pixels: 4096 × 2048, or about 2896 × 2896. A logo covers
/// a fifth of a code at most, so far fewer of them ever show.
pub const MAX_LOGO_PIXELS: u64 = 8 * 1024 * 1024;
/// What a decoder may need beside the pixels: row buffers, the inflate window, tables.
const DECODER_WORKSPACE: u64 = 16 * 1024 * 1024;
/// The most memory decoding a logo may take at its peak, the conversion to 8-bit RGBA
/// included: the largest accepted logo at 16 bits per RGBA channel (8 bytes a pixel), its 8-bit
/// RGBA copy made while those are still held (4 bytes a pixel), and the decoder's workspace:
/// 112 MiB. The decoder's own default allows far more.
pub const MAX_LOGO_ALLOC: u64 = MAX_LOGO_PIXELS * (8 + 4) + DECODER_WORKSPACE;

/// The formats accepted.
const FORMATS: [ImageFormat; 3] = [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::WebP];

/// A decoded logo, flattened onto the background (so it is opaque) at its own size.
pub struct Logo {
    /// The pixels.
    pub image: RgbImage,
}

impl Logo {
    /// Decodes `bytes`, refusing anything that is not a PNG, JPEG or WebP of a sane size; the
    /// transparent parts of the logo show `background`.
    pub fn decode(bytes: &[u8], background: Rgb) -> Result<Self> {
        if bytes.len() > MAX_LOGO_BYTES {
            return Err(Error::invalid(
                "logo",
                format!(
                    "is {} KiB, over the limit of {} KiB; upload a smaller file",
                    bytes.len().div_ceil(1024),
                    MAX_LOGO_BYTES / 1024
                ),
            ));
        }
        let reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format().expect("reading memory cannot fail");
        let Some(format) = reader.format().filter(|format| FORMATS.contains(format)) else {
            return Err(not_an_image());
        };
        let mut limits = Limits::default();
        limits.max_image_width = Some(MAX_LOGO_SIDE);
        limits.max_image_height = Some(MAX_LOGO_SIDE);
        let mut decoder =
            ImageReader::with_format(Cursor::new(bytes), format).into_decoder().map_err(|_| not_an_image())?;
        // The header is all that has been read: refuse a pixel flood before allocating for it.
        let (width, height) = decoder.dimensions();
        if width > MAX_LOGO_SIDE || height > MAX_LOGO_SIDE {
            return Err(Error::invalid(
                "logo",
                format!(
                    "is {width} × {height} pixels, over the limit of {MAX_LOGO_SIDE} × {MAX_LOGO_SIDE}; upload a \
                     smaller image"
                ),
            ));
        }
        if width == 0 || height == 0 {
            return Err(not_an_image());
        }
        let pixels = u64::from(width) * u64::from(height);
        if pixels > MAX_LOGO_PIXELS {
            return Err(Error::invalid(
                "logo",
                format!(
                    "is {width} × {height} pixels, {:.1} million in all, over the limit of {:.1} million (such as \
                     4096 × 2048); upload a smaller image",
                    pixels as f64 / 1e6,
                    MAX_LOGO_PIXELS as f64 / 1e6
                ),
            ));
        }
        // The copy flattening needs, unless the decoder's pixels already are 8-bit RGB(A).
        let conversion =
            if matches!(decoder.color_type(), ColorType::Rgba8 | ColorType::Rgb8) { 0 } else { pixels * 4 };
        let decoder_budget = MAX_LOGO_ALLOC - conversion;
        if decoder.total_bytes() > decoder_budget {
            return Err(too_much_memory());
        }
        limits.max_alloc = Some(decoder_budget);
        decoder.set_limits(limits).map_err(|_| too_much_memory())?;
        let image = DynamicImage::from_decoder(decoder).map_err(|err| match err {
            image::ImageError::Limits(_) => too_much_memory(),
            _ => not_an_image(),
        })?;
        Ok(Self { image: flatten(image, background) })
    }

    /// Width over height.
    pub fn aspect(&self) -> f64 {
        f64::from(self.image.width()) / f64::from(self.image.height())
    }

    /// The logo resized to exactly `width` × `height`.
    pub fn resized(&self, width: u32, height: u32) -> RgbImage {
        if width <= self.image.width() && height <= self.image.height() {
            // Area averaging: fast for large reductions, and free of aliasing.
            image::imageops::thumbnail(&self.image, width, height)
        } else {
            image::imageops::resize(&self.image, width, height, FilterType::CatmullRom)
        }
    }
}

/// Composites the image over `background`, dropping alpha (and any metadata of the upload).
/// The RGBA bytes become RGB bytes in the same buffer: pixel `i` is read from bytes `4i..4i+4`
/// before its result goes to `3i..3i+3`, which no later pixel reads.
fn flatten(image: DynamicImage, background: Rgb) -> RgbImage {
    if !image.color().has_alpha() {
        return image.into_rgb8();
    }
    let rgba = image.into_rgba8();
    let (width, height) = rgba.dimensions();
    let mut bytes = rgba.into_raw();
    let pixels = bytes.len() / 4;
    for i in 0..pixels {
        let pixel = [bytes[4 * i], bytes[4 * i + 1], bytes[4 * i + 2], bytes[4 * i + 3]];
        let alpha = u32::from(pixel[3]);
        for channel in 0..3 {
            let over = u32::from(pixel[channel]) * alpha + u32::from(background.0[channel]) * (255 - alpha);
            bytes[3 * i + channel] = u8::try_from((over + 127) / 255).expect("a mean of bytes");
        }
    }
    bytes.truncate(pixels * 3);
    RgbImage::from_raw(width, height, bytes).expect("three bytes for every pixel")
}

fn not_an_image() -> Error {
    Error::invalid("logo", "is not a PNG, JPEG or WebP image that can be read; upload one of those")
}

fn too_much_memory() -> Error {
    Error::invalid(
        "logo",
        "needs too much memory to decode; upload a smaller image (such as 4096 × 2048 pixels at 8 bits a channel)",
    )
}
