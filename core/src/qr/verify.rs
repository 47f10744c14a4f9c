//! The read-back check: decoding our own image, with rqrr (a port of the quirc scanner), before
//! anyone gets it.
//!
//! Two readings, by what can go wrong:
//! - every image is read module by module, at each module's centre, against the threshold
//!   halfway between the two colours, and decoded (format, unmasking, error correction, data):
//!   this catches a logo or colours that spoil modules, and any fault in encoding or drawing;
//! - an image whose finder patterns could be hard to find (a logo beside them, or a quiet zone
//!   under the standard's 4 modules) is also scanned whole, as a camera image: locate the code,
//!   fit its perspective, sample and decode. That costs about 10 ms, so plain codes, whose
//!   finder patterns are drawn exactly on a full quiet zone, skip it.

use super::render::{Layout, Raster};

/// Whether `raster`, drawn as `layout` says, reads back to exactly `data`; `scan_whole` adds the
/// full camera-style scan.
pub fn reads_back(raster: &Raster, layout: &Layout, data: &str, scan_whole: bool) -> bool {
    modules_read_back(raster, layout, data) && (!scan_whole || scans(raster, data))
}

/// Reads each module at its centre and decodes the grid.
fn modules_read_back(raster: &Raster, layout: &Layout, data: &str) -> bool {
    let threshold = raster.threshold();
    let centre = |module: usize| layout.origin + module as u32 * layout.module_px + layout.module_px / 2;
    let grid =
        rqrr::SimpleGrid::from_func(layout.width as usize, |x, y| raster.luma_at(centre(x), centre(y)) < threshold);
    decodes_to(&rqrr::Grid::new(grid), data)
}

/// Finds and decodes the code in the whole image, as a scanner does with a camera frame.
fn scans(raster: &Raster, data: &str) -> bool {
    let size = raster.size();
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(size as usize, size as usize, |x, y| {
        raster.luma_at(x as u32, y as u32)
    });
    image.detect_grids().iter().any(|grid| decodes_to(grid, data))
}

fn decodes_to<G: rqrr::BitGrid>(grid: &rqrr::Grid<G>, data: &str) -> bool {
    let mut decoded = Vec::with_capacity(data.len());
    grid.decode_to(&mut decoded).is_ok() && decoded == data.as_bytes()
}

#[cfg(test)]
mod tests {
    use qrcode::{EcLevel, QrCode};

    use super::*;
    use crate::qr::{render::Symbol, spec::Rgb};

    fn drawn(data: &str, spoil: impl Fn(usize) -> bool) -> (Raster, Layout) {
        let code = QrCode::with_error_correction_level(data, EcLevel::M).unwrap();
        let width = u32::try_from(code.width()).unwrap();
        let dark = code.to_colors().into_iter().enumerate().map(|(i, c)| (c == qrcode::Color::Dark) != spoil(i));
        let symbol = Symbol { width, dark: dark.collect() };
        let layout = Layout::new(600, width, 4, EcLevel::M, None).unwrap();
        (Raster::draw(&symbol, &layout, Rgb::BLACK, Rgb::WHITE, None), layout)
    }

    #[test]
    fn a_sound_code_reads_back_and_only_to_its_own_data() {
        let (raster, layout) = drawn("https://example.com/", |_| false);
        assert!(reads_back(&raster, &layout, "https://example.com/", false));
        assert!(reads_back(&raster, &layout, "https://example.com/", true));
        assert!(!reads_back(&raster, &layout, "https://example.com", true));
    }

    #[test]
    fn a_spoiled_code_is_refused() {
        // Flipping every third module is far beyond what any level corrects.
        let (raster, layout) = drawn("https://example.com/", |i| i % 3 == 0);
        assert!(!reads_back(&raster, &layout, "https://example.com/", false));
        assert!(!reads_back(&raster, &layout, "https://example.com/", true));
    }
}
