//! The logo upload: told from its content, checked from its header before any pixel is
//! allocated, decoded under explicit limits, and flattened onto the code's background.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage, imageops::FilterType};

use super::spec::Rgb;
use crate::error::{Error, Result};

/// The largest logo file accepted.
pub const MAX_LOGO_BYTES: usize = 2 * 1024 * 1024;
/// The largest logo width and height accepted, in pixels.
pub const MAX_LOGO_SIDE: u32 = 4096;
/// The most memory the decoder may allocate: a 4096 × 4096 image at 16 bits per RGBA channel.
/// The decoder's own default allows far more.
pub const MAX_LOGO_ALLOC: u64 = MAX_LOGO_SIDE as u64 * MAX_LOGO_SIDE as u64 * 8;

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
        limits.max_alloc = Some(MAX_LOGO_ALLOC);
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
fn flatten(image: DynamicImage, background: Rgb) -> RgbImage {
    if !image.color().has_alpha() {
        return image.into_rgb8();
    }
    let rgba = image.into_rgba8();
    let (width, height) = rgba.dimensions();
    let mut flat = RgbImage::new(width, height);
    for (out, pixel) in flat.pixels_mut().zip(rgba.pixels()) {
        let alpha = u32::from(pixel[3]);
        for channel in 0..3 {
            let over = u32::from(pixel[channel]) * alpha + u32::from(background.0[channel]) * (255 - alpha);
            out[channel] = u8::try_from((over + 127) / 255).expect("a mean of bytes");
        }
    }
    flat
}

fn not_an_image() -> Error {
    Error::invalid("logo", "is not a PNG, JPEG or WebP image that can be read; upload one of those")
}

fn too_much_memory() -> Error {
    Error::invalid("logo", "needs too much memory to decode; upload a smaller image (at most 4096 × 4096 pixels)")
}
