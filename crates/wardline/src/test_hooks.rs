//! A pause tests can put into the MLLP listener: `WARDLINE_TEST_HL7_HOLD=before_ack:<ms>` makes
//! it wait that long after a message is stored and before its acknowledgement is sent, so a
//! test can kill the server in between (`kill -9`) and check that the sender's resend is
//! answered from what was stored, and acted on once.
//!
//! It is for tests only: a server started with it says so loudly in its log, and the variable
//! is not a setting of [`wardline_service::Config`] (it is read only here, by `serve`).

use std::time::Duration;

/// The variable.
pub const VARIABLE: &str = "WARDLINE_TEST_HL7_HOLD";

/// Where the listener pauses, if anywhere.
#[derive(Debug, Clone, Default)]
pub struct Hold {
    before_ack: Option<Duration>,
}

impl Hold {
    /// The hold [`VARIABLE`] asks for (none if unset).
    ///
    /// # Errors
    /// The variable is set to something else than `before_ack:<ms>`.
    pub fn for_serve() -> Result<Self, String> {
        let Some(raw) = std::env::var_os(VARIABLE) else { return Ok(Self::default()) };
        let raw = raw.to_string_lossy();
        let ms = raw
            .strip_prefix("before_ack:")
            .and_then(|ms| ms.trim().parse::<u64>().ok())
            .ok_or_else(|| format!("{VARIABLE} is before_ack:<milliseconds>, not {raw:?}"))?;
        tracing::warn!(
            ms,
            "TEST HL7 HOLD: HL7 acknowledgements wait {ms} ms after each message is stored; never use {VARIABLE} in service"
        );
        Ok(Self { before_ack: Some(Duration::from_millis(ms)) })
    }

    /// Waits, if asked to, between storing a message and answering it.
    pub async fn before_ack(&self) {
        if let Some(d) = self.before_ack {
            tokio::time::sleep(d).await;
        }
    }
}
