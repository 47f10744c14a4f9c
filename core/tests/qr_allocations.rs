//! A logo that would need a lot of memory is refused before that memory is asked for. Its own
//! test binary, since it counts every allocation the process makes.

use std::{
    alloc::{GlobalAlloc, Layout, System},
    io::Cursor,
    sync::{
        Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use assistchat_core::qr::{
    build,
    logo::{Logo, MAX_LOGO_ALLOC},
    spec::{QrSpec, Rgb},
};
use assistchat_proto::v1::BuildQrRequest;
use image::{DynamicImage, GrayImage, ImageBuffer, ImageFormat, Rgba};

/// The system allocator, keeping the bytes in use and their high-water mark.
struct Counting;

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = IN_USE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The tests run on threads of one process and the counters are the process's: one test
/// measures at a time, or one would reset the other's high-water mark mid-measure.
static MEASURING: Mutex<()> = Mutex::new(());

/// The most memory refusing a logo may take on top of what is already in use.
const SMALL: usize = 1024 * 1024;

fn encode(image: DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut bytes = Cursor::new(Vec::new());
    image.write_to(&mut bytes, format).unwrap();
    bytes.into_inner()
}

#[test]
fn refusing_a_huge_logo_allocates_little() {
    let _alone = MEASURING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut small_png = encode(DynamicImage::ImageLuma8(GrayImage::new(8, 8)), ImageFormat::Png);
    small_png[16..24].copy_from_slice(&[0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0]); // 100000 × 100000
    let crc = crc32fast::hash(&small_png[12..29]);
    small_png[29..33].copy_from_slice(&crc.to_be_bytes());
    let cases = [
        (
            "a 20000 × 20000 black PNG (1.6 GB as RGBA)",
            encode(DynamicImage::ImageLuma8(GrayImage::new(20_000, 20_000)), ImageFormat::Png),
        ),
        ("a PNG header claiming 100000 × 100000", small_png),
        ("a JPEG of 8000 × 8000", encode(DynamicImage::ImageLuma8(GrayImage::new(8000, 8000)), ImageFormat::Jpeg)),
    ];
    for (name, logo) in cases {
        assert!(logo.len() <= 2 * 1024 * 1024, "{name} fits the upload limit: {} bytes", logo.len());
        let spec = QrSpec::from_request(BuildQrRequest { data: "a".into(), logo, ..Default::default() }).unwrap();
        let before = IN_USE.load(Ordering::Relaxed);
        PEAK.store(before, Ordering::Relaxed);
        let refused = build(&spec).expect_err(name);
        let extra = PEAK.load(Ordering::Relaxed).saturating_sub(before);
        assert!(refused.to_string().contains("logo"), "{name}: {refused}");
        assert!(extra < SMALL, "{name} took {extra} bytes to refuse");
        println!("{name}: refused with {extra} bytes allocated at most");
    }
}

/// The largest logo accepted in the colour type that costs the most: 4096 × 2048 pixels at 16
/// bits per RGBA channel, a disc on a transparent ground (so it compresses under 2 MiB).
fn largest_accepted_logo() -> Vec<u8> {
    let (width, height) = (4096u32, 2048u32);
    let logo = ImageBuffer::from_fn(width, height, |x, y| {
        let (dx, dy) = (i64::from(x) - 2048, i64::from(y) - 1024);
        if dx * dx + dy * dy < 900 * 900 { Rgba([0u16, 40_000, 65_535, 65_535]) } else { Rgba([0, 0, 0, 0]) }
    });
    encode(DynamicImage::ImageRgba16(logo), ImageFormat::Png)
}

#[test]
fn decoding_the_largest_accepted_logo_stays_within_its_memory_bound() {
    let _alone = MEASURING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let logo = largest_accepted_logo();
    assert!(logo.len() <= 2 * 1024 * 1024, "the logo fits the upload limit: {} bytes", logo.len());
    let before = IN_USE.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let decoded = Logo::decode(&logo, Rgb([255, 255, 255])).expect("the largest accepted logo decodes");
    let extra = PEAK.load(Ordering::Relaxed).saturating_sub(before);
    assert_eq!(decoded.image.dimensions(), (4096, 2048));
    assert_eq!(decoded.image.get_pixel(2048, 1024).0, [0, 156, 255], "the disc is flattened as drawn");
    assert_eq!(decoded.image.get_pixel(0, 0).0, [255, 255, 255], "transparency shows the background");
    let bound = usize::try_from(MAX_LOGO_ALLOC).unwrap();
    println!(
        "decoding a 4096 × 2048 RGBA16 PNG ({} KiB) took at most {} MiB (bound {} MiB)",
        logo.len() / 1024,
        extra / (1024 * 1024),
        bound / (1024 * 1024)
    );
    assert!(extra <= bound, "decoding took {extra} bytes at its peak, over the bound of {bound}");
}
