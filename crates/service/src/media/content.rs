//! What an uploaded file really is, and making it safe to keep: the type read from the bytes,
//! images re-encoded without their metadata (EXIF, GPS position, camera, time), a pixel limit
//! against decompression bombs, and thumbnails.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

use crate::config::MediaSettings;
use crate::{ServiceError, ServiceResult};

/// An upload, checked and cleaned, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// The bytes to keep.
    pub bytes: Vec<u8>,
    /// The type to serve them as.
    pub content_type: String,
    /// Width and height, for images.
    pub dimensions: Option<(u32, u32)>,
}

/// The top-level types whose declared type must agree with the bytes.
const MEDIA_CLASSES: [&str; 3] = ["image", "audio", "video"];

/// Containers whose bytes are detected as video but may hold audio only.
const AUDIO_CONTAINERS: [&str; 3] = ["video/webm", "video/x-matroska", "video/mp4"];

/// The thumbnail sizes offered (the spec's suggestion): requests snap to one of these, so at
/// most five thumbnails are ever made per file.
const SIZES: [(u32, u32, bool); 5] =
    [(32, 32, true), (96, 96, true), (320, 240, false), (640, 480, false), (800, 600, false)];

fn essence(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

fn class(content_type: &str) -> &str {
    content_type.split('/').next().unwrap_or_default()
}

fn image_format(content_type: &str) -> Option<ImageFormat> {
    match content_type {
        "image/jpeg" => Some(ImageFormat::Jpeg),
        "image/png" => Some(ImageFormat::Png),
        "image/gif" => Some(ImageFormat::Gif),
        "image/webp" => Some(ImageFormat::WebP),
        _ => None,
    }
}

/// May this type be shown in the browser (inline) rather than saved as a download?
#[must_use]
pub fn is_inline(content_type: &str) -> bool {
    let t = essence(content_type);
    MEDIA_CLASSES.contains(&class(&t)) && t != "image/svg+xml"
}

fn decode(bytes: &[u8], format: ImageFormat, max_pixels: u64) -> ServiceResult<DynamicImage> {
    let mut reader = ImageReader::new(Cursor::new(bytes));
    reader.set_format(format);
    let mut limits = Limits::default();
    // Room for the decoded pixels (at most 8 bytes each) and some working space.
    limits.max_alloc = Some(max_pixels.saturating_mul(8).saturating_add(64 * 1024 * 1024));
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| ServiceError::forbidden(format!("unreadable image: {e}")))?;
    let (w, h) = decoder.dimensions();
    if u64::from(w) * u64::from(h) > max_pixels {
        return Err(ServiceError::TooLarge(format!(
            "the image is {w}×{h} pixels; at most {max_pixels} pixels are accepted"
        )));
    }
    let orientation = decoder.orientation().ok();
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| match e {
        image::ImageError::Limits(_) => ServiceError::TooLarge("the image is too large to decode".into()),
        e => ServiceError::forbidden(format!("unreadable image: {e}")),
    })?;
    // The orientation lives in the metadata about to be removed: turn the pixels instead.
    if let Some(o) = orientation {
        img.apply_orientation(o);
    }
    Ok(img)
}

fn encode(img: &DynamicImage, format: ImageFormat) -> ServiceResult<Vec<u8>> {
    let mut out = Cursor::new(Vec::new());
    let result = match format {
        ImageFormat::Jpeg => {
            let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90);
            img.to_rgb8().write_with_encoder(encoder)
        }
        ImageFormat::WebP => {
            img.to_rgba8().write_with_encoder(image::codecs::webp::WebPEncoder::new_lossless(&mut out))
        }
        other => img.write_to(&mut out, other),
    };
    result.map_err(|e| ServiceError::Internal(format!("re-encoding an image: {e}")))?;
    Ok(out.into_inner())
}

/// Checks an upload against its declared type and cleans it.
///
/// A file declared as an image, audio or video must be one (its bytes are read, the name and
/// declared type are not trusted): otherwise it is refused, since a browser or phone would
/// treat it as what it claims to be. Images are decoded (within `max_image_pixels`) and
/// re-encoded, which drops all metadata, unless the organisation keeps metadata.
pub fn prepare(bytes: Vec<u8>, declared: Option<&str>, settings: &MediaSettings) -> ServiceResult<Prepared> {
    let declared = declared.map(essence).filter(|d| !d.is_empty());
    let detected = infer::get(&bytes).map(|k| k.mime_type().to_owned());
    let content_type = match (&declared, &detected) {
        (Some(d), det) if MEDIA_CLASSES.contains(&class(d)) => match det {
            Some(det) if class(det) == class(d) => det.clone(),
            // WebM, Matroska and MP4 hold sound alone as well as film: a voice note recorded
            // by a browser is audio in a container the bytes call video.
            Some(det) if class(d) == "audio" && AUDIO_CONTAINERS.contains(&det.as_str()) => d.clone(),
            _ => return Err(ServiceError::forbidden(format!("the file's contents are not {d}"))),
        },
        // An image declared as something else is still an image, and still carries its metadata.
        (Some(_), Some(det)) if image_format(det).is_some() => det.clone(),
        (Some(d), _) => d.clone(),
        (None, Some(det)) => det.clone(),
        (None, None) => "application/octet-stream".into(),
    };
    if class(&content_type) != "image" {
        return Ok(Prepared { bytes, content_type, dimensions: None });
    }
    let Some(format) = image_format(&content_type) else {
        if settings.keep_image_metadata {
            return Ok(Prepared { bytes, content_type, dimensions: None });
        }
        return Err(ServiceError::forbidden(format!(
            "{content_type} images cannot be cleaned of their metadata; send JPEG, PNG, GIF or WebP"
        )));
    };
    let img = decode(&bytes, format, settings.max_image_pixels)?;
    let dimensions = Some((img.width(), img.height()));
    let bytes = if settings.keep_image_metadata { bytes } else { encode(&img, format)? };
    Ok(Prepared { bytes, content_type, dimensions })
}

/// The thumbnail size a request gets: the smallest offered size of that method that is at least
/// as large, else the largest.
#[must_use]
pub fn thumbnail_size(width: u32, height: u32, crop: bool) -> (u32, u32, bool) {
    let same: Vec<_> = SIZES.iter().copied().filter(|s| s.2 == crop).collect();
    same.iter()
        .copied()
        .find(|&(w, h, _)| w >= width && h >= height)
        .or_else(|| same.last().copied())
        .unwrap_or(SIZES[4])
}

/// A thumbnail of an image: exactly the size when cropping, within it (never enlarged) when
/// scaling. Returns the bytes and their type.
pub fn thumbnail(
    bytes: &[u8],
    content_type: &str,
    size: (u32, u32, bool),
    max_pixels: u64,
) -> ServiceResult<(Vec<u8>, &'static str)> {
    let format = image_format(content_type).ok_or_else(|| ServiceError::not_found("no thumbnail for this file"))?;
    let img = decode(bytes, format, max_pixels)?;
    let (w, h, crop) = size;
    let thumb = if crop {
        img.resize_to_fill(w, h, image::imageops::FilterType::Triangle)
    } else if img.width() <= w && img.height() <= h {
        img
    } else {
        img.thumbnail(w, h)
    };
    if matches!(format, ImageFormat::Png | ImageFormat::Gif) {
        Ok((encode(&thumb, ImageFormat::Png)?, "image/png"))
    } else {
        Ok((encode(&thumb, ImageFormat::Jpeg)?, "image/jpeg"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = DynamicImage::new_rgb8(w, h);
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn declared_media_types_must_match_the_bytes() {
        let s = MediaSettings::default();
        let html = b"<html><script>alert(1)</script></html>".to_vec();
        assert!(matches!(prepare(html.clone(), Some("image/png"), &s), Err(ServiceError::Forbidden(_))));
        assert!(matches!(prepare(png(4, 4), Some("audio/ogg"), &s), Err(ServiceError::Forbidden(_))));
        let p = prepare(png(4, 3), Some("image/jpeg"), &s).unwrap();
        assert_eq!((p.content_type.as_str(), p.dimensions), ("image/png", Some((4, 3))), "the bytes decide");
        // A WebM voice note: audio in a container whose bytes say video.
        let webm = [0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x86, 0x81, 0x01, 0x42, 0x82, 0x84, b'w', b'e', b'b', b'm'];
        let voice = prepare(webm.to_vec(), Some("audio/webm"), &s).unwrap();
        assert_eq!(voice.content_type, "audio/webm");
        assert!(matches!(prepare(webm.to_vec(), Some("image/png"), &s), Err(ServiceError::Forbidden(_))));
        let doc = prepare(html, Some("text/html; charset=utf-8"), &s).unwrap();
        assert_eq!(doc.content_type, "text/html");
        assert!(!is_inline(&doc.content_type) && is_inline("image/png") && !is_inline("image/svg+xml"));
        let disguised = prepare(png(5, 5), Some("application/octet-stream"), &s).unwrap();
        assert_eq!((disguised.content_type.as_str(), disguised.dimensions), ("image/png", Some((5, 5))));
    }

    #[test]
    fn pixel_limit_stops_decompression_bombs() {
        let s = MediaSettings { max_image_pixels: 10_000, ..MediaSettings::default() };
        assert!(matches!(prepare(png(200, 200), Some("image/png"), &s), Err(ServiceError::TooLarge(_))));
        assert!(prepare(png(100, 100), Some("image/png"), &s).is_ok());
    }

    #[test]
    fn thumbnails_snap_to_offered_sizes() {
        assert_eq!(thumbnail_size(96, 96, true), (96, 96, true));
        assert_eq!(thumbnail_size(50, 40, true), (96, 96, true));
        assert_eq!(thumbnail_size(300, 200, false), (320, 240, false));
        assert_eq!(thumbnail_size(4000, 4000, false), (800, 600, false));
        let (t, kind) = thumbnail(&png(1000, 800), "image/png", (96, 96, true), 1 << 30).unwrap();
        let img = image::load_from_memory(&t).unwrap();
        assert_eq!((img.width(), img.height(), kind), (96, 96, "image/png"));
        let (t, _) = thumbnail(&png(1000, 800), "image/png", (320, 240, false), 1 << 30).unwrap();
        let img = image::load_from_memory(&t).unwrap();
        assert_eq!((img.width(), img.height()), (300, 240));
    }
}
