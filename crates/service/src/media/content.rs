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

/// How an image format is made safe to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cleaning {
    /// Decoded and re-encoded in the same format, without its metadata.
    Reencode(ImageFormat),
    /// Decoded and re-encoded as PNG (formats browsers do not show, like TIFF).
    ToPng(ImageFormat),
    /// Not decodable here: refused (its metadata could not be removed).
    Refuse,
}

/// Every image type the content sniffer recognises, and what is done with it. An image type
/// missing here is refused too ([`cleaning`]); the test below keeps this list complete.
const IMAGE_TYPES: [(&str, Cleaning); 16] = [
    ("image/jpeg", Cleaning::Reencode(ImageFormat::Jpeg)),
    ("image/png", Cleaning::Reencode(ImageFormat::Png)),
    ("image/gif", Cleaning::Reencode(ImageFormat::Gif)),
    ("image/webp", Cleaning::Reencode(ImageFormat::WebP)),
    ("image/tiff", Cleaning::ToPng(ImageFormat::Tiff)),
    ("image/bmp", Cleaning::ToPng(ImageFormat::Bmp)),
    ("image/vnd.microsoft.icon", Cleaning::ToPng(ImageFormat::Ico)),
    ("image/heif", Cleaning::Refuse),
    ("image/avif", Cleaning::Refuse),
    ("image/jxl", Cleaning::Refuse),
    ("image/jp2", Cleaning::Refuse),
    ("image/x-canon-cr2", Cleaning::Refuse),
    ("image/vnd.ms-photo", Cleaning::Refuse),
    ("image/vnd.adobe.photoshop", Cleaning::Refuse),
    ("image/openraster", Cleaning::Refuse),
    ("image/vnd.djvu", Cleaning::Refuse),
];

fn cleaning(content_type: &str) -> Cleaning {
    IMAGE_TYPES.iter().find(|(t, _)| *t == content_type).map_or(Cleaning::Refuse, |(_, c)| *c)
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
        // An image is an image whatever else it is declared as, and carries its metadata either
        // way: the bytes decide, and every image goes through the cleaning below.
        (_, Some(det)) if class(det) == "image" => det.clone(),
        (Some(d), _) => d.clone(),
        (None, Some(det)) => det.clone(),
        (None, None) => "application/octet-stream".into(),
    };
    if class(&content_type) != "image" {
        return Ok(Prepared { bytes, content_type, dimensions: None });
    }
    let (decode_as, encode_as) = match cleaning(&content_type) {
        Cleaning::Reencode(f) => (f, f),
        Cleaning::ToPng(f) => (f, ImageFormat::Png),
        Cleaning::Refuse if settings.keep_image_metadata => {
            return Ok(Prepared { bytes, content_type, dimensions: None });
        }
        Cleaning::Refuse => {
            return Err(ServiceError::forbidden(format!(
                "{content_type} images cannot be cleaned of their metadata; send JPEG, PNG, GIF, WebP, TIFF or BMP"
            )));
        }
    };
    let img = decode(&bytes, decode_as, settings.max_image_pixels)?;
    let dimensions = Some((img.width(), img.height()));
    if settings.keep_image_metadata {
        return Ok(Prepared { bytes, content_type, dimensions });
    }
    let content_type = if encode_as == decode_as { content_type } else { "image/png".to_owned() };
    Ok(Prepared { bytes: encode(&img, encode_as)?, content_type, dimensions })
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

    /// A marker standing for metadata (a GPS position, a patient's name in a comment).
    const SECRET: &[u8] = b"GPS 51.5072N 0.1276W Bed 4 J.Smith";

    fn encoded(format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        // Icons hold their images as RGBA.
        let img = if format == ImageFormat::Ico { DynamicImage::new_rgba8(3, 2) } else { DynamicImage::new_rgb8(3, 2) };
        img.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    /// A 2×2 grey TIFF whose `Artist` and `ImageDescription` tags carry the secret.
    fn tiff_with_tags() -> Vec<u8> {
        let entries: u16 = 11;
        let ifd_end = 8 + 2 + 12 * u32::from(entries) + 4;
        let text_at = ifd_end;
        let pixels_at = text_at + SECRET.len() as u32 + 1;
        let mut t = b"II*\0".to_vec();
        t.extend_from_slice(&8u32.to_le_bytes());
        t.extend_from_slice(&entries.to_le_bytes());
        let mut entry = |tag: u16, kind: u16, count: u32, value: u32| {
            t.extend_from_slice(&tag.to_le_bytes());
            t.extend_from_slice(&kind.to_le_bytes());
            t.extend_from_slice(&count.to_le_bytes());
            t.extend_from_slice(&value.to_le_bytes());
        };
        let secret_len = SECRET.len() as u32 + 1;
        entry(256, 3, 1, 2); // width
        entry(257, 3, 1, 2); // height
        entry(258, 3, 1, 8); // bits per sample
        entry(259, 3, 1, 1); // no compression
        entry(262, 3, 1, 1); // black is zero
        entry(270, 2, secret_len, text_at); // ImageDescription
        entry(273, 4, 1, pixels_at); // strip offsets
        entry(277, 3, 1, 1); // samples per pixel
        entry(278, 3, 1, 2); // rows per strip
        entry(279, 4, 1, 4); // strip byte counts
        entry(315, 2, secret_len, text_at); // Artist
        t.extend_from_slice(&0u32.to_le_bytes());
        t.extend_from_slice(SECRET);
        t.push(0);
        t.extend_from_slice(&[10, 80, 160, 240]);
        t
    }

    /// A file of each image type the sniffer recognises, carrying [`SECRET`].
    fn sample(mime: &str) -> Vec<u8> {
        let trailing = |mut b: Vec<u8>| {
            b.extend_from_slice(SECRET);
            b
        };
        let isobmff = |brand: &[u8; 4]| {
            let mut b = vec![0, 0, 0, 24];
            b.extend_from_slice(b"ftyp");
            b.extend_from_slice(brand);
            b.extend_from_slice(&[0, 0, 0, 0]);
            b.extend_from_slice(b"mif1");
            b.extend_from_slice(brand);
            trailing(b)
        };
        match mime {
            "image/jpeg" => {
                // An EXIF segment right after the start of image.
                let jpeg = encoded(ImageFormat::Jpeg);
                let mut exif = b"Exif\0\0".to_vec();
                exif.extend_from_slice(SECRET);
                let len = u16::try_from(exif.len() + 2).unwrap();
                let mut b = jpeg[..2].to_vec();
                b.extend_from_slice(&[0xFF, 0xE1]);
                b.extend_from_slice(&len.to_be_bytes());
                b.extend_from_slice(&exif);
                b.extend_from_slice(&jpeg[2..]);
                b
            }
            "image/png" => trailing(encoded(ImageFormat::Png)),
            "image/gif" => trailing(encoded(ImageFormat::Gif)),
            "image/webp" => trailing(encoded(ImageFormat::WebP)),
            "image/bmp" => trailing(encoded(ImageFormat::Bmp)),
            "image/vnd.microsoft.icon" => trailing(encoded(ImageFormat::Ico)),
            "image/tiff" => tiff_with_tags(),
            "image/heif" => isobmff(b"heic"),
            "image/avif" => isobmff(b"avif"),
            "image/jxl" => trailing(vec![0xFF, 0x0A, 0, 0]),
            "image/jp2" => trailing(vec![0, 0, 0, 0x0C, 0x6A, 0x50, 0x20, 0x20, 0x0D, 0x0A, 0x87, 0x0A, 0, 0]),
            "image/x-canon-cr2" => trailing(vec![0x49, 0x49, 0x2A, 0, 0x10, 0, 0, 0, 0x43, 0x52, 0x02, 0]),
            "image/vnd.ms-photo" => trailing(vec![0x49, 0x49, 0xBC, 0x01]),
            "image/vnd.adobe.photoshop" => trailing(b"8BPS\0\x01".to_vec()),
            "image/openraster" => {
                let mut b = vec![0x50, 0x4B, 0x03, 0x04];
                b.resize(30, 0);
                b.extend_from_slice(b"mimetypeimage/openraster");
                trailing(b)
            }
            "image/vnd.djvu" => trailing(b"AT&TFORM\0\0\0\x10DJVU".to_vec()),
            other => panic!("no sample for {other}"),
        }
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn every_image_type_is_cleaned_or_refused_whatever_it_is_declared_as() {
        let s = MediaSettings::default();
        for (mime, how) in IMAGE_TYPES {
            assert!(infer::is_mime_supported(mime), "{mime} is not a type the sniffer knows");
            let bytes = sample(mime);
            assert_eq!(infer::get(&bytes).map(|k| k.mime_type()), Some(mime), "sample of {mime}");
            assert!(contains(&bytes, SECRET), "sample of {mime} carries the secret");
            for declared in [None, Some("application/octet-stream"), Some("text/plain"), Some("image/png"), Some(mime)]
            {
                match (how, prepare(bytes.clone(), declared, &s)) {
                    (Cleaning::Refuse, Err(ServiceError::Forbidden(m))) => assert!(m.contains(mime), "{m}"),
                    (Cleaning::Refuse, other) => panic!("{mime} declared {declared:?} must be refused: {other:?}"),
                    (_, Ok(p)) => {
                        assert!(!contains(&p.bytes, SECRET), "{mime} declared {declared:?} kept its metadata");
                        let kept = image::load_from_memory(&p.bytes).unwrap();
                        assert_eq!(Some((kept.width(), kept.height())), p.dimensions);
                        let expected = if matches!(how, Cleaning::ToPng(_)) { "image/png" } else { mime };
                        assert_eq!(p.content_type, expected, "{mime} declared {declared:?}");
                    }
                    (_, Err(e)) => panic!("{mime} declared {declared:?} should be cleaned: {e}"),
                }
            }
        }
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
