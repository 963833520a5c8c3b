//! Files shared in conversations: the `mxc://` URIs messages carry and the rules for the
//! message types that carry them (`m.image`, `m.file`, `m.audio`, `m.video`).

use serde_json::Value;

/// Message types whose content points at an uploaded file.
pub const FILE_MSGTYPES: [&str; 4] = ["m.image", "m.file", "m.audio", "m.video"];

/// A `mxc://server/id` URI, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxcRef {
    /// The server the file lives on.
    pub server: String,
    /// Its id there.
    pub media_id: String,
}

impl MxcRef {
    /// Parses `mxc://server/id`; `None` for anything else (including ids with `/`).
    #[must_use]
    pub fn parse(uri: &str) -> Option<Self> {
        let rest = uri.strip_prefix("mxc://")?;
        let (server, media_id) = rest.split_once('/')?;
        let valid_id = !media_id.is_empty()
            && media_id.len() <= 255
            && media_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        (!server.is_empty() && valid_id).then(|| Self { server: server.to_owned(), media_id: media_id.to_owned() })
    }
}

/// Every `mxc://` URI an event content refers to: the file (`url`), its thumbnail
/// (`info.thumbnail_url`), and the encrypted-attachment forms (`file.url`,
/// `info.thumbnail_file.url`). Duplicates are removed.
#[must_use]
pub fn referenced(content: &Value) -> Vec<MxcRef> {
    let candidates = [
        content.get("url"),
        content.pointer("/info/thumbnail_url"),
        content.pointer("/file/url"),
        content.pointer("/info/thumbnail_file/url"),
    ];
    let mut out: Vec<MxcRef> = Vec::new();
    for r in candidates.into_iter().flatten().filter_map(Value::as_str).filter_map(MxcRef::parse) {
        if !out.contains(&r) {
            out.push(r);
        }
    }
    out
}

/// Why a file message's content is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidFileMessage(pub String);

fn bad(msg: impl Into<String>) -> InvalidFileMessage {
    InvalidFileMessage(msg.into())
}

fn check_uint(info: &Value, field: &str) -> Result<(), InvalidFileMessage> {
    match info.get(field) {
        None => Ok(()),
        Some(v) if v.as_u64().is_some() => Ok(()),
        Some(_) => Err(bad(format!("info.{field} must be a non-negative integer"))),
    }
}

/// Checks the shape of an `m.room.message` content whose `msgtype` is one of
/// [`FILE_MSGTYPES`]: a `body`, the file as `url` (or `file` for an encrypted attachment), and an
/// `info` whose fields have the spec's types. Other contents pass unchecked.
pub fn validate_file_message(content: &Value) -> Result<(), InvalidFileMessage> {
    let Some(msgtype) = content.get("msgtype").and_then(Value::as_str) else { return Ok(()) };
    if !FILE_MSGTYPES.contains(&msgtype) {
        return Ok(());
    }
    if !content.get("body").is_some_and(Value::is_string) {
        return Err(bad(format!("{msgtype} needs a body")));
    }
    match (content.get("url"), content.get("file")) {
        (Some(url), None) => {
            if url.as_str().and_then(MxcRef::parse).is_none() {
                return Err(bad("url must be an mxc:// URI"));
            }
        }
        (None, Some(file)) => {
            if file.get("url").and_then(Value::as_str).and_then(MxcRef::parse).is_none() {
                return Err(bad("file.url must be an mxc:// URI"));
            }
        }
        _ => return Err(bad(format!("{msgtype} needs exactly one of url and file"))),
    }
    let Some(info) = content.get("info") else { return Ok(()) };
    if !info.is_object() {
        return Err(bad("info must be an object"));
    }
    if info.get("mimetype").is_some_and(|m| !m.is_string()) {
        return Err(bad("info.mimetype must be a string"));
    }
    for field in ["size", "w", "h", "duration"] {
        check_uint(info, field)?;
    }
    if let Some(t) = info.get("thumbnail_url")
        && t.as_str().and_then(MxcRef::parse).is_none()
    {
        return Err(bad("info.thumbnail_url must be an mxc:// URI"));
    }
    if let Some(t) = info.get("thumbnail_info") {
        if !t.is_object() {
            return Err(bad("info.thumbnail_info must be an object"));
        }
        for field in ["size", "w", "h"] {
            check_uint(t, field).map_err(|e| bad(e.0.replace("info.", "info.thumbnail_info.")))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn parses_mxc_uris() {
        assert_eq!(
            MxcRef::parse("mxc://ward.example/AbC_1-2"),
            Some(MxcRef { server: "ward.example".into(), media_id: "AbC_1-2".into() })
        );
        for bad in ["http://x/y", "mxc://", "mxc://x", "mxc://x/", "mxc:///id", "mxc://x/a/b", "mxc://x/a.b"] {
            assert_eq!(MxcRef::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn finds_every_reference_once() {
        let content = json!({
            "msgtype": "m.image", "body": "wound.jpg", "url": "mxc://h/a",
            "info": {"thumbnail_url": "mxc://h/t", "thumbnail_file": {"url": "mxc://h/a"}}
        });
        let ids: Vec<_> = referenced(&content).into_iter().map(|r| r.media_id).collect();
        assert_eq!(ids, vec!["a", "t"]);
        assert!(referenced(&json!({"msgtype": "m.text", "body": "mxc://h/a"})).is_empty());
    }

    #[test]
    fn validates_file_messages() {
        let ok = json!({"msgtype": "m.audio", "body": "voice note", "url": "mxc://h/a",
            "info": {"mimetype": "audio/ogg", "size": 1200, "duration": 4100}});
        assert_eq!(validate_file_message(&ok), Ok(()));
        assert_eq!(validate_file_message(&json!({"msgtype": "m.text", "body": "hi"})), Ok(()));
        let cases = [
            json!({"msgtype": "m.image", "url": "mxc://h/a"}),
            json!({"msgtype": "m.image", "body": "x", "url": "https://evil.example/a.jpg"}),
            json!({"msgtype": "m.file", "body": "x"}),
            json!({"msgtype": "m.video", "body": "x", "url": "mxc://h/a", "info": {"w": -3}}),
            json!({"msgtype": "m.audio", "body": "x", "url": "mxc://h/a", "info": {"duration": "4s"}}),
            json!({"msgtype": "m.image", "body": "x", "url": "mxc://h/a", "info": {"thumbnail_url": "x"}}),
            json!({"msgtype": "m.image", "body": "x", "url": "mxc://h/a", "info": {"thumbnail_info": {"h": 1.5}}}),
        ];
        for c in cases {
            assert!(validate_file_message(&c).is_err(), "{c}");
        }
    }
}
