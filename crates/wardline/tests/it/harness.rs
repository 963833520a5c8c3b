//! Starting servers and talking to them.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

/// The password of every user made by [`Server::user`].
pub const PASSWORD: &str = "correct horse battery staple";

/// A running server.
pub struct Server {
    child: Option<Child>,
    pub base: String,
    pub data_dir: PathBuf,
    _dir: Option<tempfile::TempDir>,
    pub stdout_lines: Vec<String>,
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_wardline")
}

/// Runs a `wardline` command against a data directory; returns (status ok, stdout, stderr).
pub fn cli(data_dir: &Path, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let (code, out, err) = cli_code(data_dir, args, stdin);
    (code == Some(0), out, err)
}

/// Runs a command as [`cli`] does; returns its exit status (`None`: killed by a signal).
pub fn cli_code(data_dir: &Path, args: &[&str], stdin: Option<&str>) -> (Option<i32>, String, String) {
    let mut child = Command::new(bin())
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run wardline");
    if let (Some(mut input), Some(text)) = (child.stdin.take(), stdin) {
        input.write_all(text.as_bytes()).expect("write stdin");
    }
    let out = child.wait_with_output().expect("wait for wardline");
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

impl Server {
    /// A fresh server in a new temporary directory.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let data_dir = dir.path().join("data");
        let mut s = Self::start_in(&data_dir, &[]);
        s._dir = Some(dir);
        s
    }

    /// A fresh server with extra environment settings.
    pub fn start_with_env(env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let data_dir = dir.path().join("data");
        let mut s = Self::start_in(&data_dir, env);
        s._dir = Some(dir);
        s
    }

    /// A server on an existing data directory.
    pub fn start_in(data_dir: &Path, env: &[(&str, &str)]) -> Self {
        Self::start_in_with_stderr(data_dir, env, Stdio::inherit())
    }

    /// A server on an existing data directory, its standard error (the log) going to `stderr`.
    pub fn start_in_with_stderr(data_dir: &Path, env: &[(&str, &str)], stderr: Stdio) -> Self {
        let mut cmd = Command::new(bin());
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env("WARDLINE_RATE_LIMITS__ENABLED", "false")
            .env("WARDLINE_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(stderr);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start wardline");
        let stdout = child.stdout.take().expect("stdout");
        let mut reader = BufReader::new(stdout);
        let mut lines = Vec::new();
        let base = loop {
            let mut line = String::new();
            if reader.read_line(&mut line).expect("read stdout") == 0 {
                panic!("wardline exited before listening: {lines:?}");
            }
            lines.push(line.trim().to_owned());
            if let Some(url) = line.trim().strip_prefix("wardline listening on ") {
                break url.to_owned();
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in reader.lines() {});
        Self { child: Some(child), base, data_dir: data_dir.to_owned(), _dir: None, stdout_lines: lines }
    }

    /// A fresh server whose log (standard error, at `WARDLINE_LOG=info`) goes to the returned
    /// file.
    pub fn start_with_log(env: &[(&str, &str)]) -> (Self, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let data_dir = dir.path().join("data");
        let log = dir.path().join("server.log");
        let stderr = Stdio::from(std::fs::File::create(&log).expect("log file"));
        // Later settings win: the log level given here overrides the harness's `warn`.
        let env: Vec<(&str, &str)> = [("WARDLINE_LOG", "info")].into_iter().chain(env.iter().copied()).collect();
        let mut s = Self::start_in_with_stderr(&data_dir, &env, stderr);
        s._dir = Some(dir);
        (s, log)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// `kill -9`.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().expect("kill");
            c.wait().expect("wait");
        }
    }

    /// SIGTERM, then wait for exit; returns whether it exited successfully.
    pub fn terminate(&mut self) -> bool {
        let Some(mut c) = self.child.take() else { return false };
        Command::new("kill").arg("-TERM").arg(c.id().to_string()).status().expect("kill -TERM");
        for _ in 0..200 {
            if let Ok(Some(status)) = c.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = c.kill();
        false
    }

    /// Takes the data directory's temp dir out, so it outlives this server.
    pub fn keep_dir(&mut self) -> Option<tempfile::TempDir> {
        self._dir.take()
    }

    /// Adds a user with the CLI; returns a logged-in client.
    pub async fn user(&self, name: &str) -> Client {
        let password = PASSWORD.to_owned();
        let (ok, out, err) = cli(
            &self.data_dir,
            &["user", "add", name, "--display-name", &format!("Dr {name}")],
            Some(&format!("{password}\n")),
        );
        assert!(ok, "user add failed: {out} {err}");
        self.login(name, &password).await
    }

    /// A client that presents a hospital system's API key as its bearer token.
    pub fn system(&self, key: &str) -> Client {
        let mut c = self.client();
        c.token = Some(key.to_owned());
        c
    }

    pub fn client(&self) -> Client {
        Client {
            http: reqwest::Client::new(),
            base: self.base.clone(),
            token: None,
            user_id: String::new(),
            device_id: String::new(),
        }
    }

    pub async fn login(&self, name: &str, password: &str) -> Client {
        let mut c = self.client();
        let (status, body) = c
            .post("/_matrix/client/v3/login", json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": name}, "password": password}))
            .await;
        assert_eq!(status, 200, "login failed: {body}");
        c.token = body["access_token"].as_str().map(ToOwned::to_owned);
        c.user_id = body["user_id"].as_str().unwrap_or_default().to_owned();
        c.device_id = body["device_id"].as_str().unwrap_or_default().to_owned();
        c
    }
}

/// The current TOTP code (offset by `steps`) for a base32 secret.
pub fn totp_code(secret: &str, steps: i64) -> String {
    let key = wardline_service::totp::base32_decode(secret).expect("base32 secret");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let step = (now / wardline_service::totp::STEP_SECONDS) as i64 + steps;
    wardline_service::totp::code(&key, step as u64)
}

impl Client {
    /// Sets up TOTP for this user; returns the secret.
    pub async fn enrol_totp(&self) -> String {
        let (st, e) = self.post("/_wardline/client/v1/mfa/totp", json!({})).await;
        assert_eq!(st, 200, "{e}");
        let secret = e["secret"].as_str().unwrap().to_owned();
        let (st, c) = self.post("/_wardline/client/v1/mfa/totp/confirm", json!({"code": totp_code(&secret, 0)})).await;
        assert_eq!(st, 200, "{c}");
        secret
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A Matrix client over reqwest.
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub token: Option<String>,
    pub user_id: String,
    pub device_id: String,
}

pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Client {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// Any method with a JSON body (`DELETE` with `auth`, for instance).
    pub async fn send_json(&self, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
        self.send(method, path, Some(body)).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::PUT, path, Some(body)).await
    }

    pub async fn delete_path(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::DELETE, path, None).await
    }

    /// Uploads a file (`POST /_matrix/media/v3/upload`); returns (status, body).
    pub async fn upload(&self, bytes: Vec<u8>, content_type: &str, filename: &str) -> (u16, Value) {
        let mut req = self
            .http
            .post(format!("{}/_matrix/media/v3/upload?filename={}", self.base, enc(filename)))
            .header("content-type", content_type)
            .body(bytes);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("upload");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// A GET whose body is bytes; returns (status, headers, body).
    pub async fn get_raw(&self, path: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
        let mut req = self.http.get(format!("{}{}", self.base, path));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        (status, headers, resp.bytes().await.expect("body").to_vec())
    }

    /// Creates a room; returns its id.
    pub async fn create_room(&self, body: Value) -> String {
        let (s, b) = self.post("/_matrix/client/v3/createRoom", body).await;
        assert_eq!(s, 200, "createRoom: {b}");
        b["room_id"].as_str().expect("room_id").to_owned()
    }

    /// Creates "Ward 7" with `others` invited and joined; returns its id.
    pub async fn room_with(&self, others: &[&Client]) -> String {
        let invite: Vec<&str> = others.iter().map(|c| c.user_id.as_str()).collect();
        let room = self.create_room(json!({"name": "Ward 7", "invite": invite})).await;
        for c in others {
            c.join(&room).await;
        }
        room
    }

    pub async fn join(&self, room: &str) {
        let (s, b) = self.post(&format!("/_matrix/client/v3/rooms/{}/join", enc(room)), json!({})).await;
        assert_eq!(s, 200, "join: {b}");
    }

    pub async fn invite(&self, room: &str, user: &str) -> (u16, Value) {
        self.post(&format!("/_matrix/client/v3/rooms/{}/invite", enc(room)), json!({"user_id": user})).await
    }

    /// Sends an event of any type in transaction `txn`; returns (status, body).
    pub async fn send_event(&self, room: &str, kind: &str, txn: &str, content: Value) -> (u16, Value) {
        self.put(&format!("/_matrix/client/v3/rooms/{}/send/{kind}/{}", enc(room), enc(txn)), content).await
    }

    /// Sends an event that must be accepted; returns its id.
    pub async fn sent_event(&self, room: &str, kind: &str, txn: &str, content: Value) -> String {
        let (st, body) = self.send_event(room, kind, txn, content).await;
        assert_eq!(st, 200, "{kind}: {body}");
        body["event_id"].as_str().unwrap().to_owned()
    }

    /// Sends a text message; returns (status, body).
    pub async fn send_text(&self, room: &str, txn: &str, body: &str) -> (u16, Value) {
        self.put(
            &format!("/_matrix/client/v3/rooms/{}/send/m.room.message/{}", enc(room), enc(txn)),
            json!({"msgtype": "m.text", "body": body}),
        )
        .await
    }

    pub async fn sync(&self, since: Option<&str>, timeout_ms: u64, filter: Option<&str>) -> Value {
        let mut path = format!("/_matrix/client/v3/sync?timeout={timeout_ms}");
        if let Some(s) = since {
            path.push_str(&format!("&since={}", enc(s)));
        }
        if let Some(f) = filter {
            path.push_str(&format!("&filter={}", enc(f)));
        }
        let (s, b) = self.get(&path).await;
        assert_eq!(s, 200, "sync: {b}");
        b
    }
}

/// Starts `c`'s long-poll from `since`, waits until the server's log (a server started with
/// `wardline_service::sync=debug`, writing to `log`) shows it waiting, runs `act`, and returns
/// what the long-poll answered. Only this long-poll may wait meanwhile.
pub async fn long_poll_around<F, Fut>(log: &Path, c: &Client, since: &str, act: F) -> Value
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let waits = || std::fs::read_to_string(log).unwrap_or_default().matches("sync long-poll waiting").count();
    let before = waits();
    let poller = c.clone();
    let from = since.to_owned();
    let poll = tokio::spawn(async move { poller.sync(Some(&from), 30_000, None).await });
    let mut tries = 0;
    while waits() == before {
        tries += 1;
        assert!(tries < 600 && !poll.is_finished(), "the long-poll never waited");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!poll.is_finished(), "the long-poll answered before anything happened");
    act().await;
    poll.await.expect("long-poll")
}

/// Bodies of `m.room.message` events in a room's sync timeline.
pub fn timeline_bodies(sync: &Value, room: &str) -> Vec<String> {
    sync["rooms"]["join"][room]["timeline"]["events"]
        .as_array()
        .map(|events| {
            events
                .iter()
                .filter(|e| e["type"] == "m.room.message")
                .filter_map(|e| e["content"]["body"].as_str().map(ToOwned::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Every administration endpoint, as (method, path), with `@ada:localhost` as the user and `X` as
/// the device: fifteen calls.
pub fn admin_calls_on_ada() -> Vec<(&'static str, String)> {
    const A: &str = "/_wardline/admin/v1";
    vec![
        ("GET", format!("{A}/users")),
        ("POST", format!("{A}/users")),
        ("GET", format!("{A}/users/@ada:localhost")),
        ("PUT", format!("{A}/users/@ada:localhost")),
        ("POST", format!("{A}/users/@ada:localhost/deactivate")),
        ("POST", format!("{A}/users/@ada:localhost/reactivate")),
        ("POST", format!("{A}/users/@ada:localhost/reset_password")),
        ("POST", format!("{A}/users/@ada:localhost/unlock")),
        ("POST", format!("{A}/users/@ada:localhost/logout")),
        ("GET", format!("{A}/users/@ada:localhost/devices")),
        ("DELETE", format!("{A}/users/@ada:localhost/devices/X")),
        ("GET", format!("{A}/lockouts")),
        ("GET", format!("{A}/settings")),
        ("PUT", format!("{A}/settings")),
        ("DELETE", format!("{A}/users/@ada:localhost/mfa")),
    ]
}

/// What fills the path parameters of a route from `wardline_api::route_table()`.
#[derive(Debug, Clone)]
pub struct PathValues {
    pub room: String,
    pub event: String,
    pub user: String,
    pub device: String,
    pub txn: String,
}

impl PathValues {
    /// A plausible value for the parameter `name` (an unknown one gets `x` and its name).
    pub fn plausible(&self, name: &str) -> String {
        match name {
            "roomId" | "room_id" | "roomIdOrAlias" => self.room.clone(),
            "eventId" | "event_id" => self.event.clone(),
            "userId" | "user_id" => self.user.clone(),
            "eventType" | "type" => "m.room.message".to_owned(),
            "serverName" => "localhost".to_owned(),
            "mediaId" => "abcdefghij".to_owned(),
            "receiptType" => "m.read".to_owned(),
            "filterId" => "1".to_owned(),
            "deviceId" | "device_id" => self.device.clone(),
            "tag" => "u.work".to_owned(),
            "txnId" => self.txn.clone(),
            "stateKey" => String::new(),
            "fileName" => "a.png".to_owned(),
            other => format!("x{other}"),
        }
    }
}

/// The names of a route path's parameters (`{name}`), in order.
pub fn path_params(path: &str) -> Vec<&str> {
    path.split('/').filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).collect()
}

/// `path` with its parameters replaced, in order, by `values` (percent-encoded).
pub fn fill_path(path: &str, values: &[String]) -> String {
    let mut out = path.to_owned();
    for (name, value) in path_params(path).iter().zip(values) {
        out = out.replacen(&format!("{{{name}}}"), &enc(value), 1);
    }
    out
}

/// `path` with plausible values for its parameters.
pub fn plausible_path(path: &str, values: &PathValues) -> String {
    let filled: Vec<String> = path_params(path).iter().map(|n| values.plausible(n)).collect();
    fill_path(path, &filled)
}

/// `GET path` until `done` says the answer is as expected (at most 30 s); panics naming `what`
/// with the last answer otherwise.
pub async fn get_until(c: &Client, path: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..600 {
        let (st, v) = c.get(path).await;
        assert_eq!(st, 200, "{v}");
        if done(&v) {
            return v;
        }
        last = v;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{path} never {what}: {last}");
}
