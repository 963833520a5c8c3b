"""Web Push as a browser receives it, checked with libraries independent of the server.

A local HTTP server plays the browser's push service. The test makes a subscription the way a
browser does (a P-256 key pair and a 16-byte auth secret, with ``cryptography``), registers it
as an MSC4174 ``webpush`` pusher, and has a colleague send an urgent message. The push service
then receives the server's POST: the test verifies its VAPID token (RFC 8292: ES256 signature
by the key the server publishes, ``aud``, ``exp``), DECRYPTS the body with ``http_ece`` (RFC
8188/8291), and checks the payload carries ids and counts but no message text.

Do not relax an assertion to make a run green; fix the server.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import threading
import time
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
import pytest
from conftest import DEFAULT_USERS, WardlineServer, wardline_binary
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

TEXT = "K+ 6.9 bed 4 Mr Smith"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


@pytest.fixture(scope="module")
def wardline(tmp_path_factory: pytest.TempPathFactory):
    """A server that allows Web Push to a push service on loopback over plain HTTP (tests only)."""
    root = tmp_path_factory.mktemp("wardline-webpush")
    server = WardlineServer(
        binary=wardline_binary(),
        data_dir=root / "data",
        log_path=root / "wardline.log",
        env={
            "WARDLINE_PUSH__WEBPUSH_HOSTS": '["127.0.0.1"]',
            "WARDLINE_PUSH__ALLOW_LOOPBACK_HTTP": "true",
        },
    )
    server.data_dir.mkdir()
    server.start()
    try:
        for name in DEFAULT_USERS:
            server.add_user(name, display_name=name.capitalize())
        yield server
    finally:
        server.stop()


class PushService:
    """Records every POST (path, headers, body) and answers 201 Created."""

    def __init__(self) -> None:
        self.received: "queue.Queue[tuple[str, dict[str, str], bytes]]" = queue.Queue()
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received.put((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()


def call(base: str, method: str, path: str, token: str | None = None, body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def login(wardline, name: str) -> str:
    status, body = call(
        wardline.base_url,
        "POST",
        "/_matrix/client/v3/login",
        body={
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": name},
            "password": wardline.passwords[name],
        },
    )
    assert status == 200, body
    return body["access_token"]


def verify_vapid(authorization: str, published: str, origin: str) -> dict:
    """Checks the VAPID header (RFC 8292) with `cryptography`; returns its claims."""
    assert authorization.startswith("vapid "), authorization
    params = dict(p.strip().split("=", 1) for p in authorization[len("vapid ") :].split(","))
    assert params["k"] == published, "signed with the key the server publishes"
    header_b64, claims_b64, sig_b64 = params["t"].split(".")
    assert json.loads(unb64url(header_b64)) == {"typ": "JWT", "alg": "ES256"}
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(published))
    sig = unb64url(sig_b64)
    assert len(sig) == 64, "JWS ES256: r || s"
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    key.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    claims = json.loads(unb64url(claims_b64))
    assert claims["aud"] == origin, claims
    now = time.time()
    assert now < claims["exp"] <= now + 24 * 3600 + 60, claims
    assert claims["sub"].startswith(("mailto:", "https:")), claims
    return claims


def test_a_browser_subscription_receives_an_encrypted_signed_push_without_the_text(wardline):
    service = PushService()
    try:
        alice = login(wardline, "alice")
        bob = login(wardline, "bob")

        status, caps = call(wardline.base_url, "GET", "/_matrix/client/v3/capabilities", alice)
        assert status == 200, caps
        webpush = caps["capabilities"]["m.webpush"]
        assert webpush["enabled"] is True, caps
        status, vapid = call(wardline.base_url, "GET", "/_wardline/client/v1/push/vapid", alice)
        assert status == 200, vapid
        published = vapid["public_key"]
        assert published == webpush["vapid"]
        assert len(unb64url(published)) == 65 and unb64url(published)[0] == 4

        # The browser's side of a subscription.
        private = ec.generate_private_key(ec.SECP256R1())
        p256dh = private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        auth = os.urandom(16)
        endpoint = f"http://127.0.0.1:{service.port}/push/{uuid.uuid4().hex}"
        status, body = call(
            wardline.base_url,
            "POST",
            "/_matrix/client/v3/pushers/set",
            alice,
            {
                "pushkey": b64url(p256dh),
                "kind": "webpush",
                "app_id": "org.wardline.web",
                "app_display_name": "Wardline",
                "device_display_name": "Test browser",
                "lang": "en-GB",
                "data": {"url": endpoint, "auth": b64url(auth)},
            },
        )
        assert status == 200, body
        status, listed = call(wardline.base_url, "GET", "/_matrix/client/v3/pushers", alice)
        assert status == 200 and listed["pushers"][0]["kind"] == "webpush", listed
        assert listed["pushers"][0]["data"] == {"url": endpoint, "auth": b64url(auth)}

        status, room = call(
            wardline.base_url,
            "POST",
            "/_matrix/client/v3/createRoom",
            bob,
            {"invite": [f"@alice:localhost"], "is_direct": True},
        )
        assert status == 200, room
        room_id = room["room_id"]
        status, body = call(wardline.base_url, "POST", f"/_matrix/client/v3/join/{room_id}", alice, {})
        assert status == 200, body
        status, sent = call(
            wardline.base_url,
            "PUT",
            f"/_matrix/client/v3/rooms/{room_id}/send/m.room.message/{uuid.uuid4().hex}",
            bob,
            {"msgtype": "m.text", "body": TEXT, "org.wardline.priority": {"level": "urgent"}},
        )
        assert status == 200, sent

        path, headers, body = service.received.get(timeout=30)
        assert endpoint.endswith(path)
        assert headers["content-encoding"] == "aes128gcm"
        assert headers["urgency"] == "high"
        assert int(headers["ttl"]) > 0
        verify_vapid(headers["authorization"], published, f"http://127.0.0.1:{service.port}")
        assert b"K+" not in body and b"Smith" not in body

        plain = http_ece.decrypt(body, private_key=private, auth_secret=auth, version="aes128gcm")
        payload = json.loads(plain)
        assert payload == {
            "room_id": room_id,
            "event_id": sent["event_id"],
            "prio": "high",
            "unread": 1,
            "level": "urgent",
        }, payload
        assert "K+" not in plain.decode() and "Bob" not in plain.decode()
        assert service.received.empty(), "one push for one message"
    finally:
        service.close()
