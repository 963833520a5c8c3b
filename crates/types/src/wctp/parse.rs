//! Reading a WCTP operation: the document is parsed with `roxmltree` under the limits of the
//! module, then walked as the DTD declares the operations Wardline takes (element order,
//! required attributes, enumerated values). Attributes the DTD does not declare are ignored
//! (some senders add IHE's); elements it does not allow where they stand are refused.

use roxmltree::{Document, Node, ParsingOptions};

use super::{
    Confirmation, DeliveryPriority, MAX_BYTES, MAX_DEPTH, MAX_NODES, McrChoice, NOT_VALID, Operation, Payload,
    SubmitRequest, UNPARSABLE, VERSION_ERROR, WctpError,
};

/// The `wctpVersion`s taken: 1.3 and the earlier 1.x revisions, whose `SubmitRequest` has the
/// same shape (compared without regard to case).
const VERSIONS: [&str; 3] = ["wctp-dtd-v1r3", "wctp-dtd-v1r2", "wctp-dtd-v1r1"];

fn invalid(text: impl Into<String>) -> WctpError {
    WctpError::new(NOT_VALID, text)
}

/// Reads one WCTP document.
///
/// # Errors
/// `301` for what cannot be parsed (not UTF-8, too large, not XML, entity declarations); `303`
/// for another `wctpVersion`; `302` for a document whose structure breaks the DTD.
pub fn parse(bytes: &[u8]) -> Result<Operation, WctpError> {
    if bytes.len() > MAX_BYTES {
        return Err(WctpError::new(UNPARSABLE, format!("the document is larger than {MAX_BYTES} bytes")));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| WctpError::new(UNPARSABLE, "the document is not UTF-8"))?;
    // No entity is ever expanded: a document that declares one is not read at all.
    if text.contains("<!ENTITY") {
        return Err(WctpError::new(UNPARSABLE, "entity declarations are not accepted"));
    }
    // WCTP has no namespaces: a document declaring one is not read (resolving many nested
    // declarations costs far more than the document's size).
    if text.contains("xmlns") {
        return Err(WctpError::new(UNPARSABLE, "namespace declarations (xmlns) are not accepted"));
    }
    if depth(text) > MAX_DEPTH {
        return Err(WctpError::new(UNPARSABLE, format!("elements are nested more than {MAX_DEPTH} deep")));
    }
    let options = ParsingOptions { allow_dtd: true, nodes_limit: MAX_NODES, ..ParsingOptions::default() };
    let doc = Document::parse_with_options(text, options)
        .map_err(|e| WctpError::new(UNPARSABLE, format!("the document is not well-formed XML: {e}")))?;
    let root = doc.root_element();
    if name(root) != "wctp-Operation" {
        return Err(invalid("the root element must be wctp-Operation"));
    }
    let version = required(root, "wctpVersion")?;
    if !VERSIONS.iter().any(|v| v.eq_ignore_ascii_case(version.trim())) {
        return Err(WctpError::new(VERSION_ERROR, "wctpVersion must be wctp-dtd-v1r3"));
    }
    let [op] = elements(root)?[..] else {
        return Err(invalid("wctp-Operation holds exactly one operation"));
    };
    match name(op) {
        "wctp-SubmitRequest" => Ok(Operation::Submit(Box::new(submit(op)?))),
        "wctp-VersionQuery" => {
            if !elements(op)?.is_empty() {
                return Err(invalid("wctp-VersionQuery is empty"));
            }
            Ok(Operation::VersionQuery { inquirer: required(op, "inquirer")?.to_owned() })
        }
        "wctp-Confirmation" => confirmation(op).map(Operation::Confirmation),
        other => Ok(Operation::Other(other.to_owned())),
    }
}

/// How deep elements nest in `text`, found by one cheap pass before any parsing: start tags
/// (outside comments, CDATA, processing instructions and declarations, with their attributes'
/// quoted values skipped) count one deeper until their end tag. It can only over-count for
/// text the parser would refuse anyway.
fn depth(text: &str) -> usize {
    let b = text.as_bytes();
    let skip_to = |from: usize, end: &[u8]| -> usize {
        b.get(from..)
            .and_then(|rest| rest.windows(end.len()).position(|w| w == end))
            .map_or(b.len(), |at| from + at + end.len())
    };
    let (mut i, mut depth, mut deepest) = (0, 0usize, 0usize);
    while i < b.len() {
        if b.get(i) != Some(&b'<') {
            i += 1;
            continue;
        }
        let rest = b.get(i..).unwrap_or_default();
        if rest.starts_with(b"<!--") {
            i = skip_to(i + 4, b"-->");
        } else if rest.starts_with(b"<![CDATA[") {
            i = skip_to(i + 9, b"]]>");
        } else if rest.starts_with(b"<?") {
            i = skip_to(i + 2, b"?>");
        } else if rest.starts_with(b"<!") {
            i = skip_to(i + 2, b">");
        } else if rest.starts_with(b"</") {
            depth = depth.saturating_sub(1);
            i = skip_to(i + 2, b">");
        } else {
            depth += 1;
            deepest = deepest.max(depth);
            // To the tag's end, over quoted values (which may hold `>` and `/`).
            let mut j = i + 1;
            let mut quote = None;
            let mut last = 0u8;
            while let Some(&c) = b.get(j) {
                match quote {
                    Some(q) if c == q => quote = None,
                    Some(_) => {}
                    None if c == b'"' || c == b'\'' => quote = Some(c),
                    None if c == b'>' => break,
                    None => {}
                }
                if quote.is_none() && !c.is_ascii_whitespace() {
                    last = c;
                }
                j += 1;
            }
            if last == b'/' {
                depth = depth.saturating_sub(1);
            }
            i = j + 1;
        }
    }
    deepest
}

fn name<'a>(n: Node<'a, '_>) -> &'a str {
    if n.tag_name().namespace().is_some() { "" } else { n.tag_name().name() }
}

/// The element children of `n`; text between them may only be white space.
fn elements<'a, 'i>(n: Node<'a, 'i>) -> Result<Vec<Node<'a, 'i>>, WctpError> {
    let mut out = Vec::new();
    for c in n.children() {
        if c.is_element() {
            out.push(c);
        } else if c.is_text() && !c.text().unwrap_or_default().trim().is_empty() {
            return Err(invalid(format!("{} holds elements only, not text", name(n))));
        }
    }
    Ok(out)
}

/// The text of an element that holds text only (`#PCDATA`).
fn text(n: Node<'_, '_>) -> Result<String, WctpError> {
    let mut out = String::new();
    for c in n.children() {
        if c.is_element() {
            return Err(invalid(format!("{} holds text only", name(n))));
        }
        if c.is_text() {
            out.push_str(c.text().unwrap_or_default());
        }
    }
    Ok(out)
}

fn required<'a>(n: Node<'a, '_>, attr: &str) -> Result<&'a str, WctpError> {
    let v = n.attribute(attr).ok_or_else(|| invalid(format!("{} needs the attribute {attr}", name(n))))?;
    id_checked(n, attr, v)
}

/// Longest id (senderID, recipientID, messageID, transactionID) or timestamp taken: they are
/// echoed in reports and kept with the page.
pub const MAX_ID_CHARS: usize = 128;

/// An id as taken: not blank, at most [`MAX_ID_CHARS`], no control or invisible characters.
fn id_checked<'a>(n: Node<'a, '_>, attr: &str, v: &'a str) -> Result<&'a str, WctpError> {
    let hidden = |c: char| {
        c.is_control()
            || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{FEFF}')
    };
    if v.trim().is_empty() || v.chars().count() > MAX_ID_CHARS || v.chars().any(hidden) {
        return Err(invalid(format!(
            "{}@{attr} is 1 to {MAX_ID_CHARS} characters without control or invisible characters",
            name(n)
        )));
    }
    Ok(v)
}

/// An optional id, checked as [`id_checked`] when given.
fn optional<'a>(n: Node<'a, '_>, attr: &str) -> Result<Option<&'a str>, WctpError> {
    n.attribute(attr).map(|v| id_checked(n, attr, v)).transpose()
}

/// A `( true | false )` attribute with its default.
fn flag(n: Node<'_, '_>, attr: &str, default: bool) -> Result<bool, WctpError> {
    match n.attribute(attr) {
        None => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(_) => Err(invalid(format!("{}@{attr} is true or false", name(n)))),
    }
}

/// Checks that `n` is the element `expected`.
fn expect<'a, 'i>(n: Option<&Node<'a, 'i>>, expected: &str, within: &str) -> Result<Node<'a, 'i>, WctpError> {
    match n {
        Some(n) if name(*n) == expected => Ok(*n),
        _ => Err(invalid(format!("{within} needs {expected} here"))),
    }
}

fn empty(n: Node<'_, '_>) -> Result<(), WctpError> {
    if n.children().any(|c| c.is_element() || (c.is_text() && !c.text().unwrap_or_default().trim().is_empty())) {
        return Err(invalid(format!("{} is empty", name(n))));
    }
    Ok(())
}

fn submit(op: Node<'_, '_>) -> Result<SubmitRequest, WctpError> {
    let parts = elements(op)?;
    if parts.len() != 2 {
        return Err(invalid("wctp-SubmitRequest is (wctp-SubmitHeader, wctp-Payload)"));
    }
    let header = expect(parts.first(), "wctp-SubmitHeader", "wctp-SubmitRequest")?;
    let payload = expect(parts.get(1), "wctp-Payload", "wctp-SubmitRequest")?;
    let h = elements(header)?;
    if h.len() != 3 {
        return Err(invalid("wctp-SubmitHeader is (wctp-Originator, wctp-MessageControl, wctp-Recipient)"));
    }
    let originator = expect(h.first(), "wctp-Originator", "wctp-SubmitHeader")?;
    let control = expect(h.get(1), "wctp-MessageControl", "wctp-SubmitHeader")?;
    let recipient = expect(h.get(2), "wctp-Recipient", "wctp-SubmitHeader")?;
    for n in [originator, control, recipient] {
        empty(n)?;
    }
    let priority = match control.attribute("deliveryPriority") {
        None | Some("NORMAL") => DeliveryPriority::Normal,
        Some("HIGH") => DeliveryPriority::High,
        Some("LOW") => DeliveryPriority::Low,
        Some(_) => return Err(invalid("wctp-MessageControl@deliveryPriority is HIGH, NORMAL or LOW")),
    };
    for f in ["preformatted", "allowTruncation"] {
        flag(control, f, false)?;
    }
    Ok(SubmitRequest {
        submit_timestamp: optional(header, "submitTimestamp")?.map(str::to_owned),
        sender_id: required(originator, "senderID")?.to_owned(),
        security_code: originator.attribute("securityCode").map(str::to_owned),
        security_code_at: originator.attribute_node("securityCode").map(|a| a.range_value()),
        message_id: required(control, "messageID")?.to_owned(),
        transaction_id: optional(control, "transactionID")?.map(str::to_owned),
        allow_response: flag(control, "allowResponse", true)?,
        notify_queued: flag(control, "notifyWhenQueued", false)?,
        notify_delivered: flag(control, "notifyWhenDelivered", false)?,
        notify_read: flag(control, "notifyWhenRead", false)?,
        priority,
        recipient_id: required(recipient, "recipientID")?.to_owned(),
        payload: read_payload(payload)?,
    })
}

fn read_payload(payload: Node<'_, '_>) -> Result<Payload, WctpError> {
    let [body] = elements(payload)?[..] else {
        return Err(invalid("wctp-Payload is one of wctp-MCR, wctp-Alphanumeric, wctp-TransparentData"));
    };
    match name(body) {
        "wctp-Alphanumeric" => Ok(Payload::Alphanumeric(text(body)?)),
        "wctp-TransparentData" => Ok(Payload::TransparentData),
        "wctp-MCR" => {
            let parts = elements(body)?;
            let message = expect(parts.first(), "wctp-MessageText", "wctp-MCR")?;
            let mut choices = Vec::new();
            for c in parts.iter().skip(1) {
                match name(*c) {
                    "wctp-Choice" => choices.push(McrChoice { send: text(*c)?, reply: None }),
                    "wctp-ChoicePair" => {
                        let pair = elements(*c)?;
                        let send = expect(pair.first(), "wctp-SendChoice", "wctp-ChoicePair")?;
                        let reply = match pair.get(1) {
                            None => None,
                            Some(r) => Some(text(expect(Some(r), "wctp-ReplyChoice", "wctp-ChoicePair")?)?),
                        };
                        if pair.len() > 2 {
                            return Err(invalid("wctp-ChoicePair is (wctp-SendChoice, wctp-ReplyChoice?)"));
                        }
                        choices.push(McrChoice { send: text(send)?, reply });
                    }
                    _ => return Err(invalid("wctp-MCR is (wctp-MessageText, (wctp-Choice | wctp-ChoicePair)+)")),
                }
            }
            if choices.is_empty() {
                return Err(invalid("wctp-MCR offers at least one choice"));
            }
            Ok(Payload::Mcr { text: text(message)?, choices })
        }
        _ => Err(invalid("wctp-Payload is one of wctp-MCR, wctp-Alphanumeric, wctp-TransparentData")),
    }
}

fn confirmation(op: Node<'_, '_>) -> Result<Confirmation, WctpError> {
    let [answer] = elements(op)?[..] else {
        return Err(invalid("wctp-Confirmation is (wctp-Failure | wctp-Success)"));
    };
    let (success, code) = match name(answer) {
        "wctp-Success" => (true, required(answer, "successCode")?),
        "wctp-Failure" => (false, required(answer, "errorCode")?),
        _ => return Err(invalid("wctp-Confirmation is (wctp-Failure | wctp-Success)")),
    };
    let said = answer.attribute(if success { "successText" } else { "errorText" }).map(str::to_owned);
    let body = text(answer)?;
    let text = said.or_else(|| Some(body.trim().to_owned()).filter(|t| !t.is_empty()));
    Ok(Confirmation { success, code: code.to_owned(), text })
}
