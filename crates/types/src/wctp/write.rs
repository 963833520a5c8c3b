//! Writing WCTP operations: the answers to what a sender posts (`wctp-Confirmation`,
//! `wctp-VersionResponse`) and the reports Wardline pushes to a paging system
//! (`wctp-StatusInfo`, `wctp-MessageReply`). Every value is escaped; characters XML 1.0 cannot
//! carry are dropped. Each document names the 1.3 DTD (never fetched by anyone reading it).

use super::{SUCCESS, VERSION};

/// What starts every document.
fn operation(inner: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE wctp-Operation SYSTEM \
         \"http://dtd.wctp.org/wctp-dtd-v1r3.dtd\">\n<wctp-Operation wctpVersion=\"{VERSION}\">{inner}</wctp-Operation>\n"
    )
}

/// `s` escaped for an attribute value or text.
#[must_use]
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Line breaks in attribute values would be normalised away: kept as references.
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if (c as u32) < 0x20 || matches!(c, '\u{FFFE}' | '\u{FFFF}') => {}
            c => out.push(c),
        }
    }
    out
}

/// `wctp-Confirmation/wctp-Success`: the operation was received (and, for a page, stored).
#[must_use]
pub fn success(text: &str) -> String {
    let t = escape(text);
    operation(&format!(
        "<wctp-Confirmation><wctp-Success successCode=\"{SUCCESS}\" successText=\"{t}\">{t}</wctp-Success></wctp-Confirmation>"
    ))
}

/// `wctp-Confirmation/wctp-Failure`: refused, with the code and why.
#[must_use]
pub fn failure(code: u16, text: &str) -> String {
    let t = escape(text);
    operation(&format!(
        "<wctp-Confirmation><wctp-Failure errorCode=\"{code}\" errorText=\"{t}\">{t}</wctp-Failure></wctp-Confirmation>"
    ))
}

/// `wctp-VersionResponse`: Wardline (`responder`) supports the 1.3 DTD.
#[must_use]
pub fn version_response(responder: &str, inquirer: &str, now: &str) -> String {
    operation(&format!(
        "<wctp-VersionResponse responder=\"{}\" inquirer=\"{}\" dateTimeOfRsp=\"{}\">\
         <wctp-DTDSupport dtdName=\"{VERSION}\" supportType=\"Supported\"/></wctp-VersionResponse>",
        escape(responder),
        escape(inquirer),
        escape(now)
    ))
}

/// The `wctp-ResponseHeader` of a report about one page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHeader<'a> {
    /// The page's `messageID` (`responseToMessageID`).
    pub response_to: &'a str,
    /// When this report was written (WCTP timestamp).
    pub now: &'a str,
    /// The page's `submitTimestamp`, if it had one.
    pub responding_to: Option<&'a str>,
    /// Wardline's sender id (this report's originator).
    pub sender_id: &'a str,
    /// This report's own id.
    pub message_id: &'a str,
    /// The page's `transactionID`, carried back.
    pub transaction_id: Option<&'a str>,
    /// Who the report goes to: the page's sender.
    pub recipient_id: &'a str,
    /// The page's recipient, on whose behalf Wardline reports.
    pub on_behalf_of: &'a str,
}

impl ResponseHeader<'_> {
    fn write(&self) -> String {
        let mut attrs =
            format!(" responseToMessageID=\"{}\" responseTimestamp=\"{}\"", escape(self.response_to), escape(self.now));
        if let Some(t) = self.responding_to {
            attrs.push_str(&format!(" respondingToTimestamp=\"{}\"", escape(t)));
        }
        attrs.push_str(&format!(" onBehalfOfRecipientID=\"{}\"", escape(self.on_behalf_of)));
        let transaction = self.transaction_id.map(|t| format!(" transactionID=\"{}\"", escape(t))).unwrap_or_default();
        format!(
            "<wctp-ResponseHeader{attrs}><wctp-Originator senderID=\"{}\"/>\
             <wctp-MessageControl messageID=\"{}\"{transaction} allowResponse=\"false\"/>\
             <wctp-Recipient recipientID=\"{}\"/></wctp-ResponseHeader>",
            escape(self.sender_id),
            escape(self.message_id),
            escape(self.recipient_id)
        )
    }
}

/// What a `wctp-StatusInfo` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status<'a> {
    /// `wctp-Notification@type`: `QUEUED`, `DELIVERED` or `READ`.
    Notification(&'static str),
    /// `wctp-Failure`: the page could not be delivered.
    Failure {
        /// The error code.
        code: u16,
        /// Why.
        text: &'a str,
    },
}

/// `wctp-StatusInfo`: what became of a page.
#[must_use]
pub fn status_info(header: &ResponseHeader<'_>, status: Status<'_>) -> String {
    let what = match status {
        Status::Notification(kind) => format!("<wctp-Notification type=\"{}\"/>", escape(kind)),
        Status::Failure { code, text } => {
            let t = escape(text);
            format!("<wctp-Failure errorCode=\"{code}\" errorText=\"{t}\">{t}</wctp-Failure>")
        }
    };
    operation(&format!("<wctp-StatusInfo>{}{what}</wctp-StatusInfo>", header.write()))
}

/// `wctp-MessageReply`: an answer to a page, `text` (the chosen reply of a multiple-choice page
/// when `mcr`).
#[must_use]
pub fn message_reply(header: &ResponseHeader<'_>, text: &str, mcr: bool) -> String {
    operation(&format!(
        "<wctp-MessageReply MCRMessageReply=\"{mcr}\">{}<wctp-Payload><wctp-Alphanumeric>{}</wctp-Alphanumeric>\
         </wctp-Payload></wctp-MessageReply>",
        header.write(),
        escape(text)
    ))
}
