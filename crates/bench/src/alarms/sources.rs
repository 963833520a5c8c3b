//! The hospital systems of the storm: a nurse-call system posting JSON alarms over HTTP, and
//! patient monitors' gateways sending HL7 v2 PCD-04 `ORU^R40` over MLLP connections that each
//! send one message at a time and wait for its acknowledgement, as gateways do.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::client::Session;

/// MLLP's frame: start block, then end block and carriage return.
const START: u8 = 0x0b;
const END: [u8; 2] = [0x1c, 0x0d];
/// The longest an acknowledgement may take before the gateway gives up on it.
const ACK_TIMEOUT: Duration = Duration::from_secs(30);

/// The source id of alarm `i`, and the mark its text carries so a responder's phone can tell
/// which alarm of the storm it shows.
#[must_use]
pub fn source_id(i: usize) -> String {
    format!("storm-{i}")
}

/// Alarm `i`'s ward name.
#[must_use]
pub fn ward_name(ward: usize) -> String {
    format!("Ward {ward}")
}

/// The text of alarm `i`: what the source says, with the storm's mark.
fn text(i: usize) -> String {
    format!("Call bell pressed (storm {i})")
}

/// Which alarm of the storm a message's body is about.
#[must_use]
pub fn storm_index(body: &str) -> Option<usize> {
    let rest = body.split("(storm ").nth(1)?;
    rest.split(')').next()?.parse().ok()
}

/// How one alarm was taken: when it was sent (Unix ms, and the instant) and how long the
/// acknowledgement took, or why it failed.
#[derive(Debug, Clone)]
pub struct Sent {
    /// Unix milliseconds when the bench started sending it.
    pub at_unix_ms: u64,
    /// The same moment.
    pub at: Instant,
    /// Time to the `202` or the `CA`, or the failure.
    pub ack: Result<Duration, String>,
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Posts alarm `i` as the nurse-call system (`system` holds its API key).
pub async fn post(system: &Session, i: usize, ward: usize) -> Sent {
    let body = json!({
        "source_id": source_id(i),
        "kind": "nurse_call",
        "priority": "high",
        "location": {"site": "Main", "ward": ward_name(ward), "room": "Bay 1", "bed": format!("{}", i % 30 + 1)},
        "text": text(i),
    });
    let (at_unix_ms, at) = (unix_ms(), Instant::now());
    let ack = match system.post("/_wardline/integration/v1/alarms", &body).await {
        Ok(v) if v["alarm_id"].is_string() => Ok(at.elapsed()),
        Ok(v) => Err(format!("no alarm id in {v}")),
        Err(e) => Err(e.to_string()),
    };
    Sent { at_unix_ms, at, ack }
}

/// Alarm `i` as a monitor gateway writes it: a PCD-04 Report Alert, `MSH-15 AL`/`MSH-16 NE`
/// (enhanced mode: the answer is `CA` once stored).
#[must_use]
pub fn r40(i: usize, ward: usize) -> String {
    format!(
        "MSH|^~\\&|STORM|MONITORS|WARDLINE|HOSP|20261201101500||ORU^R40^ORU_R40|STORM{i}|P|2.6|||AL|NE\r\
PID|||S{i}^^^HOSP^MR\r\
PV1||I|{ward}^Bay 2^{bed}^Main\r\
OBR|1||{source}^STORM|196616^MDC_EVT_ALARM^MDC\r\
OBX|1|ST|196670^MDC_EVT_HI^MDC|1.0.0.0.1|{text}||||||F\r\
OBX|2|ST|68481^MDC_ATTR_EVENT_PHASE^MDC|1.0.0.0.3|start||||||F\r\
OBX|3|ST|68484^MDC_ATTR_ALARM_PRIORITY^MDC|1.0.0.0.6|PH||||||F\r",
        ward = ward_name(ward),
        bed = i % 30 + 1,
        source = source_id(i),
        text = text(i),
    )
}

/// One monitor gateway's MLLP connection.
#[derive(Debug)]
pub struct Gateway {
    address: String,
    conn: Option<TcpStream>,
}

impl Gateway {
    /// A gateway that will connect to `address` when it first sends.
    #[must_use]
    pub fn new(address: &str) -> Self {
        Self { address: address.to_owned(), conn: None }
    }

    /// Sends alarm `i` and waits for its acknowledgement: a `CA` is taken; anything else, no
    /// answer, or a broken connection is a failure (the connection is made anew next time).
    pub async fn send(&mut self, i: usize, ward: usize) -> Sent {
        let (at_unix_ms, at) = (unix_ms(), Instant::now());
        let ack = match tokio::time::timeout(ACK_TIMEOUT, self.exchange(&r40(i, ward))).await {
            Ok(Ok(code)) if code == "CA" => Ok(at.elapsed()),
            Ok(Ok(code)) => Err(format!("answered {code}")),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(format!("no answer within {} s", ACK_TIMEOUT.as_secs())),
        };
        if ack.is_err() {
            self.conn = None;
        }
        Sent { at_unix_ms, at, ack }
    }

    async fn exchange(&mut self, message: &str) -> Result<String, String> {
        if self.conn.is_none() {
            let c = TcpStream::connect(&self.address).await.map_err(|e| format!("connect: {e}"))?;
            c.set_nodelay(true).map_err(|e| e.to_string())?;
            self.conn = Some(c);
        }
        let Some(c) = self.conn.as_mut() else { return Err("no connection".into()) };
        let frame = [&[START][..], message.as_bytes(), &END[..]].concat();
        c.write_all(&frame).await.map_err(|e| format!("write: {e}"))?;
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        while !got.ends_with(&END) {
            let n = c.read(&mut buf).await.map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err("the connection closed".into());
            }
            got.extend_from_slice(buf.get(..n).unwrap_or_default());
        }
        let text = String::from_utf8_lossy(&got);
        let code = text
            .split(['\r', '\u{b}'])
            .find_map(|seg| seg.strip_prefix("MSA|"))
            .and_then(|rest| rest.split('|').next())
            .unwrap_or("none");
        Ok(code.to_owned())
    }
}

/// Sets up the two systems through the admin API: `storm-http` (an API key returned) and
/// `storm-hl7` (bound to `STORM|MONITORS` from loopback).
///
/// # Errors
/// The admin API refused.
pub async fn make_integrations(admin: &Session) -> Result<String, crate::client::ClientError> {
    const A: &str = "/_wardline/admin/v1/integrations";
    admin
        .post(
            A,
            &json!({"integration_id": "storm-http", "name": "Nurse call (storm)", "kind": "nurse call",
                    "scopes": ["alarms.write", "alarms.read"]}),
        )
        .await?;
    let key: Value = admin.post(&format!("{A}/storm-http/keys"), &json!({"label": "bench"})).await?;
    admin
        .post(
            A,
            &json!({"integration_id": "storm-hl7", "name": "Monitors (storm)", "kind": "monitoring",
                    "scopes": ["hl7.alarms"]}),
        )
        .await?;
    admin
        .put(
            &format!("{A}/storm-hl7/hl7"),
            &json!({"sending_application": "STORM", "sending_facility": "MONITORS",
                    "allowed_addresses": ["127.0.0.0/8"], "default_kind": "monitor"}),
        )
        .await?;
    Ok(key["key"].as_str().unwrap_or_default().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mark_reads_back_from_what_a_phone_shows() {
        assert_eq!(
            storm_index("Nurse call — Main, Ward 3, room Bay 1, bed 4: Call bell pressed (storm 417)"),
            Some(417)
        );
        assert_eq!(storm_index("* Monitor alarm — Ward 1: Call bell pressed (storm 2)"), Some(2));
        assert_eq!(storm_index("Accept"), None);
        let m = r40(7, 3);
        let parsed = wardline_types::hl7::Message::parse(&m).unwrap();
        assert_eq!(parsed.message_type().1, "R40");
        assert!(m.contains("PV1||I|Ward 3^Bay 2^8^Main"));
    }
}
