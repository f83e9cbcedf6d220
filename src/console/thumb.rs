//! Image thumbnails for the console: decoded from the plaintext in memory, cached in memory
//! only (keyed by bucket, key and ETag), never written anywhere — the store must not hold an
//! unencrypted rendition of an encrypted image.

use bytes::Bytes;
use std::io::Cursor;
use std::time::Duration;

/// Longest edge of a thumbnail, in pixels.
pub const EDGE: u32 = 160;

/// Larger sources are not thumbnailed: decoding them would cost too much memory per request.
pub const MAX_SOURCE: i64 = 32 * 1024 * 1024;

/// Decoder limits against decompression bombs (a tiny file claiming huge dimensions): an
/// image over MAX_PIXELS is refused from its header, before anything is decoded, and no
/// decode may allocate more than MAX_ALLOC (a 16-bit or many-channel image of allowed size).
pub const MAX_PIXELS: u64 = 4096 * 4096;
const MAX_DIMENSION: u32 = 16_384;
const MAX_ALLOC: u64 = 64 * 1024 * 1024;

/// Decodes running at once, gateway-wide. With MAX_ALLOC each (plus the fetched source, at
/// most MAX_SOURCE) this bounds thumbnail memory to a few hundred MiB however many requests
/// arrive; the rest wait their turn.
pub const MAX_DECODES: usize = 2;

static DECODES: std::sync::LazyLock<tokio::sync::Semaphore> =
    std::sync::LazyLock::new(|| tokio::sync::Semaphore::new(MAX_DECODES));

/// Waits for one of the MAX_DECODES decode slots; hold it from fetching the source until the
/// thumbnail is encoded.
pub async fn decode_slot() -> tokio::sync::SemaphorePermit<'static> {
    DECODES
        .acquire()
        .await
        .expect("the decode semaphore is never closed")
}

/// Why no thumbnail was made.
#[derive(Debug)]
pub enum Refused {
    /// Over MAX_PIXELS or MAX_ALLOC: not decoded.
    TooLarge(String),
    /// Not an image the decoder reads.
    Unreadable(String),
}

pub type Cache = moka::sync::Cache<(String, String, String), Bytes>;

pub fn cache() -> Cache {
    moka::sync::Cache::builder()
        .weigher(|_, v: &Bytes| v.len().try_into().unwrap_or(u32::MAX))
        .max_capacity(32 * 1024 * 1024)
        .time_to_live(Duration::from_secs(3600))
        .build()
}

/// Whether the console should try to render a thumbnail for this object.
pub fn is_image(content_type: Option<&str>, key: &str) -> bool {
    if content_type.is_some_and(|t| t.starts_with("image/") && !t.contains("svg")) {
        return true;
    }
    let lower = key.to_ascii_lowercase();
    [".png", ".jpg", ".jpeg", ".gif", ".webp"]
        .iter()
        .any(|e| lower.ends_with(e))
}

/// A PNG no larger than EDGE×EDGE, or why not. CPU-bound: call from a blocking thread,
/// holding a [`decode_slot`].
pub fn render(source: &[u8]) -> Result<Vec<u8>, Refused> {
    let reader = || {
        image::ImageReader::new(Cursor::new(source))
            .with_guessed_format()
            .map_err(|e| Refused::Unreadable(e.to_string()))
    };
    // The header alone says how big the decoded image would be.
    let (w, h) = reader()?
        .into_dimensions()
        .map_err(|e| Refused::Unreadable(e.to_string()))?;
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(Refused::TooLarge(format!(
            "{w}x{h} pixels is over the thumbnail limit of {MAX_PIXELS} pixels"
        )));
    }
    let mut reader = reader()?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(l) => Refused::TooLarge(l.to_string()),
        e => Refused::Unreadable(e.to_string()),
    })?;
    // Small pictures stay as they are: scaling up only blurs them.
    let small = if img.width() <= EDGE && img.height() <= EDGE {
        img
    } else {
        img.thumbnail(EDGE, EDGE)
    };
    let mut out = Vec::new();
    small
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .map_err(|e| Refused::Unreadable(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    }

    #[test]
    fn shrinks_to_the_edge_keeping_aspect() {
        let t = render(&png(640, 320)).unwrap();
        let img = image::load_from_memory(&t).unwrap();
        assert_eq!((img.width(), img.height()), (EDGE, EDGE / 2));
    }

    #[test]
    fn small_images_are_not_enlarged() {
        let t = render(&png(64, 48)).unwrap();
        let img = image::load_from_memory(&t).unwrap();
        assert_eq!((img.width(), img.height()), (64, 48));
    }

    #[test]
    fn garbage_and_bombs_are_errors_not_panics() {
        assert!(render(b"not an image at all").is_err());
        // A PNG header claiming 100000 x 100000 pixels.
        let mut bomb = png(1, 1);
        bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        // The edited header fails its CRC: refused as unreadable. With a valid CRC the same
        // dimensions are refused as too large (`huge_dimensions_are_refused_before_decoding`).
        assert!(render(&bomb).is_err());
    }

    /// A real 8000x8000 PNG compresses to a few hundred KB but would decode to 192 MB: it
    /// is refused from its header.
    #[test]
    fn huge_dimensions_are_refused_before_decoding() {
        let img = image::GrayImage::new(8000, 8000);
        let mut src = Vec::new();
        image::DynamicImage::ImageLuma8(img)
            .write_to(&mut Cursor::new(&mut src), image::ImageFormat::Png)
            .unwrap();
        assert!(src.len() < 1024 * 1024, "{}", src.len());
        match render(&src) {
            Err(Refused::TooLarge(m)) => assert!(m.contains("8000x8000"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn at_most_max_decodes_run_at_once() {
        let held: Vec<_> = futures::future::join_all((0..MAX_DECODES).map(|_| decode_slot())).await;
        assert!(
            DECODES.try_acquire().is_err(),
            "a decode beyond the limit got a slot"
        );
        drop(held);
        assert!(DECODES.try_acquire().is_ok());
    }

    #[test]
    fn knows_images() {
        assert!(is_image(Some("image/png"), "x"));
        assert!(is_image(None, "a/B.JPG"));
        assert!(!is_image(Some("image/svg+xml"), "x.svg"));
        assert!(!is_image(Some("text/plain"), "x.txt"));
    }
}
