//! What a paging system hears about its page, in WCTP, queued with the status fact it reports
//! (`report.rs`) and posted by the outbox to the integration's reply URL:
//! - `wctp-StatusInfo` with `wctp-Notification type="DELIVERED"` at the first delivery to
//!   anyone, and `type="READ"` at the first read, each only if the page asked
//!   (`notifyWhenDelivered`, `notifyWhenRead`);
//! - `wctp-StatusInfo` with `wctp-Failure` the first time it is undeliverable (its escalation
//!   reached the failsafe, or nobody was there to act);
//! - `wctp-MessageReply` for each answer (accept, decline, or a choice that means neither) if
//!   the page allowed responses: the chosen choice's `wctp-ReplyChoice` (else its text), with
//!   `MCRMessageReply="true"` for a multiple-choice page.
//!
//! Never the page's text, nor who answered or what staff wrote besides the choice.

use rand::RngCore;
use wardline_store::{Alarm, NewReport, ReportChannel, StatusFact};
use wardline_types::Timestamp;
use wardline_types::wctp::{self, PROCESSING_ERROR, write};

use super::page::Page;

/// The `errorCode` of an undeliverable page's `wctp-Failure`: message processing (the 500
/// series), as IHE PCD's WCTP examples use for a message the gateway could not deliver.
const UNDELIVERABLE: u16 = PROCESSING_ERROR;

fn report_id() -> String {
    let mut b = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut b);
    format!("wl-{}", hex::encode(b))
}

/// The WCTP report each of `facts` (new facts about `alarm`, which came in as `page`) makes, if
/// any, given the facts `known` before them; `sender` is Wardline's sender id.
#[must_use]
pub fn wctp_reports(
    alarm: &Alarm,
    page: &Page,
    facts: &[StatusFact],
    known: &[StatusFact],
    sender: &str,
    now: Timestamp,
) -> Vec<Option<NewReport>> {
    let mut seen: Vec<&str> = known.iter().map(|k| k.kind.as_str()).collect();
    let stamp = wctp::timestamp(now);
    facts
        .iter()
        .map(|fact| {
            let first = !seen.contains(&fact.kind.as_str());
            seen.push(fact.kind.as_str());
            let id = report_id();
            let header = write::ResponseHeader {
                response_to: &page.message_id,
                now: &stamp,
                responding_to: page.submit_timestamp.as_deref(),
                sender_id: sender,
                message_id: &id,
                transaction_id: page.transaction_id.as_deref(),
                recipient_id: &page.sender_id,
                on_behalf_of: &page.recipient_id,
            };
            let payload = match fact.kind.as_str() {
                "delivered" if first && page.notify_delivered => {
                    write::status_info(&header, write::Status::Notification("DELIVERED"))
                }
                "read" if first && page.notify_read => write::status_info(&header, write::Status::Notification("READ")),
                "undeliverable" if first => write::status_info(
                    &header,
                    write::Status::Failure { code: UNDELIVERABLE, text: "the page could not be delivered to anyone" },
                ),
                "accepted" | "declined" | "answered" if page.allow_response => {
                    let detail: serde_json::Value = serde_json::from_str(&fact.detail).unwrap_or_default();
                    let option = detail.get("option").and_then(serde_json::Value::as_str).unwrap_or_default();
                    let (text, mcr) = page.reply_for(option)?;
                    write::message_reply(&header, &text, mcr)
                }
                _ => return None,
            };
            Some(NewReport {
                integration: alarm.integration.clone(),
                alarm: Some(alarm.id.clone()),
                channel: ReportChannel::Wctp,
                payload,
                created: now,
            })
        })
        .collect()
}
