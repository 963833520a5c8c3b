//! Push notifications: pushers (`/pushers`), and delivery to Matrix push gateways and to
//! browsers by Web Push (issue 14, "a phone that rings").
//!
//! - `pushers.rs`: [`PushService`], setting and listing pushers; `address.rs` the one check of
//!   where the server may send (SSRF), at setting and before each send;
//! - `delivery.rs`: the background task `run_push`, following the stream from a stored cursor,
//!   queueing a notification per pusher in the same write that moves the cursor, sending what
//!   is due with retries, and hastening an escalation when every push to a recipient failed;
//! - `gateway.rs` the Push Gateway API's request and answer; `webpush.rs` RFC 8291 encryption;
//!   `vapid.rs` the server's VAPID key (RFC 8292); `transport.rs` the HTTP client.
//!
//! **Invariant:** a push carries ids, counts and the priority, never a message's text, a name
//! or the conversation's name.

mod address;
mod delivery;
mod gateway;
mod pushers;
#[cfg(test)]
mod tests;
mod transport;
mod vapid;
mod webpush;

pub use address::NOTIFY_PATH;
pub use delivery::CURSOR;
pub use pushers::{MAX_PUSHERS, PushService, SetPusher};
pub use transport::{Answer, PushTransport};
