//! Just enough of a Matrix client, over the standard client-server endpoints only.

use serde_json::{Value, json};

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The connection failed.
    #[error("http: {0}")]
    Http(#[from] reqwest::Error),
    /// The server answered an error.
    #[error("{status}: {body}")]
    Status {
        /// HTTP status.
        status: u16,
        /// Body.
        body: String,
    },
}

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct Session {
    http: reqwest::Client,
    base: String,
    token: String,
    /// `@user:server`.
    pub user_id: String,
}

/// Percent-encodes a path segment.
#[must_use]
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn json_or_error(resp: reqwest::Response) -> Result<Value, ClientError> {
    let status = resp.status().as_u16();
    let text = resp.text().await?;
    if !(200..300).contains(&status) {
        return Err(ClientError::Status { status, body: text });
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Signs in with a password.
pub async fn login(http: &reqwest::Client, base: &str, user: &str, password: &str) -> Result<Session, ClientError> {
    let resp = http
        .post(format!("{base}/_matrix/client/v3/login"))
        .json(&json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}, "password": password}))
        .send()
        .await?;
    let body = json_or_error(resp).await?;
    Ok(Session {
        http: http.clone(),
        base: base.to_owned(),
        token: body["access_token"].as_str().unwrap_or_default().to_owned(),
        user_id: body["user_id"].as_str().unwrap_or_default().to_owned(),
    })
}

/// Signs an administrator in, enrolling a second factor (TOTP) if the server asks for one
/// before letting them use the admin API (the clock must still be real time).
///
/// # Errors
/// The sign-in or the enrolment failed.
pub async fn admin_login(
    http: &reqwest::Client,
    base: &str,
    user: &str,
    password: &str,
) -> Result<Session, ClientError> {
    let admin = login(http, base, user, password).await?;
    if let Err(ClientError::Status { status: 403, body }) = admin.get("/_wardline/admin/v1/escalation_policies").await
        && body.contains("mfa_enrolment_required")
    {
        let e = admin.post("/_wardline/client/v1/mfa/totp", &json!({})).await?;
        let secret = e["secret"].as_str().and_then(wardline_service::totp::base32_decode).unwrap_or_default();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let code = wardline_service::totp::code(&secret, now / wardline_service::totp::STEP_SECONDS);
        admin.post("/_wardline/client/v1/mfa/totp/confirm", &json!({"code": code})).await?;
    }
    Ok(admin)
}

impl Session {
    /// A session for a bearer token issued some other way (a hospital system's API key).
    #[must_use]
    pub fn with_token(http: &reqwest::Client, base: &str, token: &str, user_id: &str) -> Self {
        Self { http: http.clone(), base: base.to_owned(), token: token.to_owned(), user_id: user_id.to_owned() }
    }

    /// `POST {path}` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        let resp = self.http.post(format!("{}{path}", self.base)).bearer_auth(&self.token).json(body).send().await?;
        json_or_error(resp).await
    }

    /// `PUT {path}` with a JSON body.
    pub async fn put(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        let resp = self.http.put(format!("{}{path}", self.base)).bearer_auth(&self.token).json(body).send().await?;
        json_or_error(resp).await
    }

    /// `GET {path}`.
    pub async fn get(&self, path: &str) -> Result<Value, ClientError> {
        let resp = self.http.get(format!("{}{path}", self.base)).bearer_auth(&self.token).send().await?;
        json_or_error(resp).await
    }

    /// Sends a message event; returns its event id.
    pub async fn send_message(&self, room: &str, txn: &str, content: &Value) -> Result<String, ClientError> {
        let path = format!("/_matrix/client/v3/rooms/{}/send/m.room.message/{}", enc(room), enc(txn));
        let body = self.put(&path, content).await?;
        Ok(body["event_id"].as_str().unwrap_or_default().to_owned())
    }

    /// Creates a private room inviting `invite`; returns its id.
    pub async fn create_room(&self, invite: &[String]) -> Result<String, ClientError> {
        let body =
            self.post("/_matrix/client/v3/createRoom", &json!({"preset": "private_chat", "invite": invite})).await?;
        Ok(body["room_id"].as_str().unwrap_or_default().to_owned())
    }

    /// Joins a room.
    pub async fn join(&self, room: &str) -> Result<(), ClientError> {
        self.post(&format!("/_matrix/client/v3/rooms/{}/join", enc(room)), &json!({})).await.map(|_| ())
    }

    /// Sends a message event.
    pub async fn send(&self, room: &str, txn: &str, content: &Value) -> Result<(), ClientError> {
        let url = format!("{}/_matrix/client/v3/rooms/{}/send/m.room.message/{}", self.base, enc(room), enc(txn));
        let resp = self.http.put(url).bearer_auth(&self.token).json(content).send().await?;
        json_or_error(resp).await.map(|_| ())
    }

    /// Uploads a filter (`POST /user/{userId}/filter`); returns its id.
    pub async fn upload_filter(&self, filter: &Value) -> Result<String, ClientError> {
        let body = self.post(&format!("/_matrix/client/v3/user/{}/filter", enc(&self.user_id)), filter).await?;
        Ok(body["filter_id"].as_str().unwrap_or_default().to_owned())
    }

    /// A read receipt (`m.read`) for an event of the main timeline, as a client with threads
    /// on sends it.
    pub async fn read_receipt(&self, room: &str, event: &str) -> Result<(), ClientError> {
        let path = format!("/_matrix/client/v3/rooms/{}/receipt/m.read/{}", enc(room), enc(event));
        self.post(&path, &json!({"thread_id": "main"})).await.map(|_| ())
    }

    /// Starts (with how long it lasts) or stops a typing notification.
    pub async fn typing(&self, room: &str, typing_for_ms: Option<u64>) -> Result<(), ClientError> {
        let url = format!("{}/_matrix/client/v3/rooms/{}/typing/{}", self.base, enc(room), enc(&self.user_id));
        let body = match typing_for_ms {
            Some(ms) => json!({"typing": true, "timeout": ms}),
            None => json!({"typing": false}),
        };
        let resp = self.http.put(url).bearer_auth(&self.token).json(&body).send().await?;
        json_or_error(resp).await.map(|_| ())
    }

    /// One page of `/messages` backwards from `from`.
    pub async fn messages_before(
        &self,
        room: &str,
        from: &str,
        limit: usize,
        filter: &str,
    ) -> Result<Value, ClientError> {
        let url = format!(
            "{}/_matrix/client/v3/rooms/{}/messages?dir=b&from={}&limit={limit}&filter={}",
            self.base,
            enc(room),
            enc(from),
            enc(filter)
        );
        let resp = self.http.get(url).bearer_auth(&self.token).send().await?;
        json_or_error(resp).await
    }

    /// The events missing before a limited timeline, oldest first, as Element fills the gap: pages
    /// of `/messages` back from `from` (at most `max_pages`) until an event `had` says this client
    /// already had. Returns them and the pages fetched.
    pub async fn gap_before(
        &self,
        room: &str,
        from: &str,
        max_pages: usize,
        mut had: impl FnMut(&Value) -> bool,
    ) -> (Vec<Value>, u64) {
        let (mut missing, mut pages) = (Vec::new(), 0);
        let mut from = from.to_owned();
        for _ in 0..max_pages {
            let page = crate::profile::ELEMENT_PAGE;
            let Ok(page) = self.messages_before(room, &from, page, crate::profile::ELEMENT_MESSAGES_FILTER).await
            else {
                break;
            };
            pages += 1;
            let chunk = page["chunk"].as_array().cloned().unwrap_or_default();
            let mut closed = chunk.is_empty();
            for e in chunk {
                if had(&e) {
                    closed = true;
                    break;
                }
                missing.push(e);
            }
            match page["end"].as_str() {
                Some(end) if !closed => end.clone_into(&mut from),
                _ => break,
            }
        }
        missing.reverse();
        (missing, pages)
    }

    /// One `POST /search`, continuing from `next_batch` if given.
    pub async fn search(&self, body: &Value, next_batch: Option<&str>) -> Result<Value, ClientError> {
        match next_batch {
            Some(t) => self.post(&format!("/_matrix/client/v3/search?next_batch={}", enc(t)), body).await,
            None => self.post("/_matrix/client/v3/search", body).await,
        }
    }

    /// One `/sync`.
    pub async fn sync(&self, since: Option<&str>, timeout_ms: u64, filter: &str) -> Result<Value, ClientError> {
        let mut url = format!("{}/_matrix/client/v3/sync?timeout={timeout_ms}&filter={}", self.base, enc(filter));
        if let Some(s) = since {
            url.push_str(&format!("&since={}", enc(s)));
        }
        let resp = self.http.get(url).bearer_auth(&self.token).send().await?;
        json_or_error(resp).await
    }
}
