use super::write::{ResponseHeader, Status, failure, message_reply, status_info, success, version_response};
use super::*;

const MCR: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE wctp-Operation SYSTEM "http://dtd.wctp.org/wctp-dtd-v1r3.dtd">
<wctp-Operation wctpVersion="wctp-dtd-v1r3">
  <wctp-SubmitRequest>
    <wctp-SubmitHeader submitTimestamp="2026-12-01T10:15:00">
      <wctp-Originator senderID="nursecall" securityCode="wlk_secret"/>
      <wctp-MessageControl messageID="M-1" transactionID="T-9" notifyWhenDelivered="true" notifyWhenRead="true" deliveryPriority="HIGH"/>
      <wctp-Recipient recipientID="4711"/>
    </wctp-SubmitHeader>
    <wctp-Payload>
      <wctp-MCR>
        <wctp-MessageText>Bed 12 call &amp; assist</wctp-MessageText>
        <wctp-Choice>Accept</wctp-Choice>
        <wctp-ChoicePair><wctp-SendChoice>Busy</wctp-SendChoice><wctp-ReplyChoice>2</wctp-ReplyChoice></wctp-ChoicePair>
      </wctp-MCR>
    </wctp-Payload>
  </wctp-SubmitRequest>
</wctp-Operation>"#;

fn submit(xml: &str) -> SubmitRequest {
    match parse(xml.as_bytes()) {
        Ok(Operation::Submit(s)) => *s,
        other => panic!("not a submit: {other:?}"),
    }
}

#[test]
fn a_multiple_choice_page_is_read_with_its_defaults() {
    let s = submit(MCR);
    assert_eq!((s.sender_id.as_str(), s.message_id.as_str(), s.recipient_id.as_str()), ("nursecall", "M-1", "4711"));
    assert_eq!(s.security_code.as_deref(), Some("wlk_secret"));
    assert!(!format!("{s:?}").contains("wlk_secret"), "the security code is not in Debug output");
    assert_eq!(s.priority, DeliveryPriority::High);
    assert!(s.allow_response && s.notify_delivered && s.notify_read && !s.notify_queued);
    assert_eq!(s.transaction_id.as_deref(), Some("T-9"));
    let Payload::Mcr { text, choices } = s.payload else { panic!("an MCR") };
    assert_eq!(text, "Bed 12 call & assist");
    assert_eq!(choices[0], McrChoice { send: "Accept".into(), reply: None });
    assert_eq!(choices[0].reply_text(), "Accept");
    assert_eq!(choices[1].reply_text(), "2");
    // Defaults of the DTD.
    let plain = MCR.replace(
        " transactionID=\"T-9\" notifyWhenDelivered=\"true\" notifyWhenRead=\"true\" deliveryPriority=\"HIGH\"",
        "",
    );
    let s = submit(&plain);
    assert_eq!(s.priority, DeliveryPriority::Normal);
    assert!(s.allow_response && !s.notify_delivered && !s.notify_read);
}

#[test]
fn what_breaks_the_structure_is_refused_with_its_code() {
    let code = |xml: &str| parse(xml.as_bytes()).err().map(|e| e.code);
    assert_eq!(code("not xml"), Some(UNPARSABLE));
    assert_eq!(code(&MCR.replace("wctp-dtd-v1r3", "wctp-dtd-v2r0")), Some(VERSION_ERROR));
    assert_eq!(code(&MCR.replace(" messageID=\"M-1\"", "")), Some(NOT_VALID), "messageID is required");
    assert_eq!(code(&MCR.replace("deliveryPriority=\"HIGH\"", "deliveryPriority=\"URGENT\"")), Some(NOT_VALID));
    assert_eq!(code(&MCR.replace("notifyWhenRead=\"true\"", "notifyWhenRead=\"yes\"")), Some(NOT_VALID));
    // Header parts out of order.
    let swapped = MCR.replace("<wctp-Recipient recipientID=\"4711\"/>", "").replace(
        "<wctp-Originator senderID=\"nursecall\" securityCode=\"wlk_secret\"/>",
        "<wctp-Recipient recipientID=\"4711\"/><wctp-Originator senderID=\"nursecall\"/>",
    );
    assert_eq!(code(&swapped), Some(NOT_VALID));
    assert_eq!(
        code(&MCR.replace("<wctp-Choice>Accept</wctp-Choice>", "<wctp-Choice>Accept<b/></wctp-Choice>")),
        Some(NOT_VALID)
    );
    let no_choice = MCR
        .replace("<wctp-Choice>Accept</wctp-Choice>", "")
        .replace("<wctp-ChoicePair><wctp-SendChoice>Busy</wctp-SendChoice><wctp-ReplyChoice>2</wctp-ReplyChoice></wctp-ChoicePair>", "");
    assert_eq!(code(&no_choice), Some(NOT_VALID));
    assert_eq!(code(&"x".repeat(MAX_BYTES + 1)), Some(UNPARSABLE));
    assert_eq!(parse(&[0xff, 0xfe, b'<']).err().map(|e| e.code), Some(UNPARSABLE), "not UTF-8");
    // Entities are never expanded: a billion laughs is not even parsed.
    let laughs = "<?xml version=\"1.0\"?><!DOCTYPE wctp-Operation [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]>\
                  <wctp-Operation wctpVersion=\"wctp-dtd-v1r3\"><wctp-VersionQuery inquirer=\"&b;\"/></wctp-Operation>";
    assert_eq!(code(laughs), Some(UNPARSABLE));
    let external = "<?xml version=\"1.0\"?><!DOCTYPE wctp-Operation SYSTEM \"file:///etc/passwd\">\
                  <wctp-Operation wctpVersion=\"wctp-dtd-v1r3\"><wctp-VersionQuery inquirer=\"x\"/></wctp-Operation>";
    assert_eq!(parse(external.as_bytes()), Ok(Operation::VersionQuery { inquirer: "x".into() }), "never fetched");
    let deep = format!("<wctp-Operation wctpVersion=\"wctp-dtd-v1r3\">{}</wctp-Operation>", "<a>".repeat(3000));
    assert_eq!(code(&deep), Some(UNPARSABLE));
}

#[test]
fn other_operations_are_named_and_confirmations_read() {
    let poll = "<wctp-Operation wctpVersion=\"wctp-dtd-v1r3\"><wctp-PollForMessages pollerID=\"p\"/></wctp-Operation>";
    assert_eq!(parse(poll.as_bytes()), Ok(Operation::Other("wctp-PollForMessages".into())));
    let ok = parse(success("Accepted").as_bytes()).unwrap();
    assert_eq!(
        ok,
        Operation::Confirmation(Confirmation { success: true, code: "200".into(), text: Some("Accepted".into()) })
    );
    let Operation::Confirmation(no) = parse(failure(403, "no such pager <4711>").as_bytes()).unwrap() else { panic!() };
    assert_eq!((no.success, no.code.as_str(), no.text.as_deref()), (false, "403", Some("no such pager <4711>")));
}

#[test]
fn what_is_written_reads_back() {
    let header = ResponseHeader {
        response_to: "M-1",
        now: "2026-12-01T10:16:00",
        responding_to: Some("2026-12-01T10:15:00"),
        sender_id: "wardline",
        message_id: "wl-1",
        transaction_id: Some("T-9"),
        recipient_id: "nursecall",
        on_behalf_of: "4711",
    };
    for doc in [
        status_info(&header, Status::Notification("DELIVERED")),
        status_info(&header, Status::Failure { code: 500, text: "nobody \"reached\"" }),
        message_reply(&header, "Busy & <late>", true),
        version_response("wardline", "nursecall", "2026-12-01T10:16:00"),
    ] {
        let options = roxmltree::ParsingOptions { allow_dtd: true, ..roxmltree::ParsingOptions::default() };
        let tree = roxmltree::Document::parse_with_options(&doc, options).unwrap_or_else(|e| panic!("{e}: {doc}"));
        assert_eq!(tree.root_element().attribute("wctpVersion"), Some(VERSION));
    }
    let reply = message_reply(&header, "Busy & <late>", true);
    assert!(reply.contains("MCRMessageReply=\"true\""), "{reply}");
    assert!(reply.contains("Busy &amp; &lt;late&gt;"), "{reply}");
    assert!(reply.contains("responseToMessageID=\"M-1\""), "{reply}");
    assert_eq!(write::escape("a\u{1}b\nc"), "ab&#10;c");
    assert_eq!(timestamp(Timestamp(1_764_584_100_123)), "2025-12-01T10:15:00");
}

#[test]
fn the_security_code_is_redacted_from_what_is_kept() {
    let s = submit(MCR);
    let kept = String::from_utf8(s.redacted(MCR.as_bytes())).unwrap();
    assert!(!kept.contains("wlk_secret"), "{kept}");
    assert!(kept.contains("securityCode=\"redacted\""), "{kept}");
    assert_eq!(kept, MCR.replace("wlk_secret", "redacted"), "nothing else changes");
    // Written with single quotes, escaped, or without one at all.
    let quoted = MCR.replace("securityCode=\"wlk_secret\"", "securityCode = 'wlk&#95;secret'");
    let kept = String::from_utf8(submit(&quoted).redacted(quoted.as_bytes())).unwrap();
    assert!(!kept.contains("wlk&#95;secret") && kept.contains("securityCode = 'redacted'"), "{kept}");
    let none = MCR.replace(" securityCode=\"wlk_secret\"", "");
    assert_eq!(submit(&none).redacted(none.as_bytes()), none.as_bytes());
}

#[test]
fn namespaces_and_deep_nesting_are_refused_before_parsing() {
    let code = |xml: &str| parse(xml.as_bytes()).err().map(|e| e.code);
    // The hostile document: many prefixes declared on the root, and elements nested deep, each
    // declaring one more (cubic to resolve).
    let mut hostile = String::from("<wctp-Operation wctpVersion=\"wctp-dtd-v1r3\"");
    for i in 0..1_700 {
        hostile.push_str(&format!(" xmlns:p{i}=\"u\""));
    }
    hostile.push('>');
    for i in 0..2_000 {
        hostile.push_str(&format!("<q{i}:e xmlns:q{i}=\"u\">"));
    }
    let hostile = hostile.get(..MAX_BYTES.min(hostile.len())).unwrap_or_default().to_owned();
    assert_eq!(code(&hostile), Some(UNPARSABLE));
    assert_eq!(code(&MCR.replace("<wctp-Operation ", "<wctp-Operation xmlns=\"urn:x\" ")), Some(UNPARSABLE));
    // Nesting beyond the depth, with no namespace at all.
    let deep = |n: usize| {
        format!(
            "<wctp-Operation wctpVersion=\"wctp-dtd-v1r3\"><wctp-VersionQuery inquirer=\"x\"/>{}{}</wctp-Operation>",
            "<a>".repeat(n),
            "</a>".repeat(n)
        )
    };
    assert_eq!(code(&deep(MAX_DEPTH)), Some(UNPARSABLE));
    assert_eq!(code(&deep(MAX_DEPTH - 2)), Some(NOT_VALID), "read, then refused for its structure");
    // Quoted `>` and `/>` in values, comments and empty elements do not hide depth.
    let hidden = format!(
        "<wctp-Operation wctpVersion=\"wctp-dtd-v1r3\">{}</wctp-Operation>",
        "<a v=\"/>\" w='>'><!-- <b> --><c/>".repeat(MAX_DEPTH)
    );
    assert_eq!(code(&hidden), Some(UNPARSABLE));
    // A real page is not that deep.
    assert!(parse(MCR.as_bytes()).is_ok());
}

#[test]
fn ids_are_short_and_visible_or_the_page_is_refused() {
    let code_of = |xml: String| match parse(xml.as_bytes()) {
        Err(e) => Some(e.code),
        Ok(_) => None,
    };
    assert_eq!(code_of(MCR.to_owned()), None);
    let long = "9".repeat(parse::MAX_ID_CHARS + 1);
    assert_eq!(code_of(MCR.replace("recipientID=\"4711\"", &format!("recipientID=\"{long}\""))), Some(NOT_VALID));
    assert_eq!(code_of(MCR.replace("recipientID=\"4711\"", "recipientID=\" \"")), Some(NOT_VALID));
    assert_eq!(code_of(MCR.replace("senderID=\"nursecall\"", "senderID=\"nurse&#x202E;call\"")), Some(NOT_VALID));
    assert_eq!(code_of(MCR.replace("transactionID=\"T-9\"", "transactionID=\"T&#x9;9\"")), Some(NOT_VALID));
    assert_eq!(code_of(MCR.replace("M-1", &"M".repeat(parse::MAX_ID_CHARS))), None, "at the limit");
}
