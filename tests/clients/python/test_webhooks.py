"""Reports to a hospital system's webhook, verified by the ``standardwebhooks`` library.

A local HTTP server plays the hospital system's receiver. The system (an integration account
made with the command line, as an operator would) sets its webhook through the integration API
and is given a ``whsec_`` secret once; an administrator queues test reports. Every delivery the
receiver gets, the first one refused and so retried included, is verified with
``standardwebhooks.Webhook(secret).verify`` (the reference implementation of the Standard
Webhooks specification, written by nobody here): the signature, the headers and the time. A
body changed by one byte, a changed timestamp or another secret fail verification.

Do not relax an assertion to make a run green; fix the server.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import WardlineServer, wardline_binary
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

WAIT_S = 30


@pytest.fixture(scope="module")
def wardline(tmp_path_factory: pytest.TempPathFactory):
    """A server that sends webhooks to loopback over plain HTTP (tests only), retrying after 1 s."""
    root = tmp_path_factory.mktemp("wardline-webhooks")
    server = WardlineServer(
        binary=wardline_binary(),
        data_dir=root / "data",
        log_path=root / "wardline.log",
        env={
            "WARDLINE_INTEGRATIONS__WEBHOOK_HOSTS": '["127.0.0.1"]',
            "WARDLINE_INTEGRATIONS__ALLOW_LOOPBACK_HTTP": "true",
            "WARDLINE_INTEGRATIONS__FIRST_RETRY_SECS": "1",
            # The administrator here signs in with a password alone.
            "WARDLINE_SECURITY__MFA_REQUIRED": "off",
        },
    )
    server.data_dir.mkdir()
    server.start()
    try:
        server.add_user("boss", admin=True)
        yield server
    finally:
        server.stop()


class Receiver:
    """Records every POST (headers, raw body); answers 503 to the first ``refuse``, then 204."""

    def __init__(self, refuse: int) -> None:
        self.received: "queue.Queue[tuple[dict[str, str], bytes]]" = queue.Queue()
        received = self.received
        left = [refuse]
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received.put(({k.lower(): v for k, v in self.headers.items()}, body))
                with lock:
                    refused = left[0] > 0
                    left[0] -= 1
                self.send_response(503 if refused else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hooks/wardline"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def next(self) -> tuple[dict[str, str], bytes]:
        return self.received.get(timeout=WAIT_S)

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


def cli(wardline: WardlineServer, *args: str) -> str:
    proc = subprocess.run(
        [str(wardline.binary), *args, "--data-dir", str(wardline.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
    )
    assert proc.returncode == 0, f"wardline {' '.join(args)}: {proc.stdout}{proc.stderr}"
    return proc.stdout


def integration_key(wardline: WardlineServer, integration: str) -> str:
    """An integration account with the scope webhook.manage, and a key for it (command line)."""
    cli(
        wardline,
        "integration", "add", integration,
        "--name", "Nurse call, main site", "--kind", "nurse call", "--scope", "webhook.manage",
    )
    out = cli(wardline, "integration", "key", "add", integration, "--label", "webhooks")
    keys = [line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("key:")]
    assert len(keys) == 1 and keys[0].startswith("wlk_"), out
    return keys[0]


def admin_token(wardline: WardlineServer) -> str:
    status, body = call(
        wardline.base_url,
        "POST",
        "/_matrix/client/v3/login",
        body={
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": "boss"},
            "password": wardline.passwords["boss"],
        },
    )
    assert status == 200, body
    return body["access_token"]


def test_every_delivery_verifies_with_the_reference_library_retries_included(wardline):
    receiver = Receiver(refuse=1)
    try:
        key = integration_key(wardline, "nursecall")
        status, hook = call(
            wardline.base_url, "PUT", "/_wardline/integration/v1/webhook", key, {"url": receiver.url}
        )
        assert status == 200, hook
        secret = hook["secret"]
        assert secret.startswith("whsec_") and hook["url"] == receiver.url, hook
        status, shown = call(wardline.base_url, "GET", "/_wardline/integration/v1/webhook", key)
        assert status == 200 and shown == {"url": receiver.url}, shown

        boss = admin_token(wardline)
        for _ in range(3):
            status, body = call(
                wardline.base_url, "POST", "/_wardline/admin/v1/integrations/nursecall/test_webhook", boss, {}
            )
            assert status == 202, body

        # Three reports; the first delivery is refused, so one of them comes twice.
        deliveries = [receiver.next() for _ in range(4)]
        verifier = Webhook(secret)
        ids = []
        for headers, body in deliveries:
            assert headers["content-type"] == "application/json", headers
            payload = verifier.verify(body, headers)
            assert payload["type"] == "webhook.test" and payload["integration"] == "nursecall", payload
            assert isinstance(payload["at"], int), payload
            assert headers["webhook-id"].startswith("msg_"), headers
            assert headers["webhook-signature"].startswith("v1,"), headers
            ids.append(headers["webhook-id"])
        assert len(set(ids)) == 3, ids
        refused_id = ids[0]
        assert ids.count(refused_id) == 2, f"the refused report is resent under its id: {ids}"

        # Tampering of any kind fails verification.
        headers, body = deliveries[-1]
        tampered = body.replace(b"nursecall", b"nursecalm")
        assert tampered != body
        with pytest.raises(WebhookVerificationError):
            verifier.verify(tampered, headers)
        with pytest.raises(WebhookVerificationError):
            verifier.verify(body, {**headers, "webhook-id": headers["webhook-id"] + "x"})
        with pytest.raises(WebhookVerificationError):
            verifier.verify(body, {**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) - 1)})
        with pytest.raises(WebhookVerificationError):
            Webhook("whsec_" + "A" * 43 + "=").verify(body, headers)

        # A new secret replaces the old at once: what is sent next verifies with it alone.
        status, again = call(
            wardline.base_url, "PUT", "/_wardline/integration/v1/webhook", key, {"url": receiver.url}
        )
        assert status == 200 and again["secret"] != secret, again
        status, body = call(
            wardline.base_url, "POST", "/_wardline/admin/v1/integrations/nursecall/test_webhook", boss, {}
        )
        assert status == 202, body
        headers, body = receiver.next()
        assert Webhook(again["secret"]).verify(body, headers)["type"] == "webhook.test"
        with pytest.raises(WebhookVerificationError):
            verifier.verify(body, headers)

        # The administrators' view: every report sent, the refused one after two attempts.
        status, listed = call(
            wardline.base_url, "GET", "/_wardline/admin/v1/integration_outbox?integration=nursecall", boss
        )
        assert status == 200, listed
        reports = listed["reports"]
        assert len(reports) == 4, listed
        by_id = {r["report_id"]: r for r in reports}
        assert by_id[refused_id]["attempts"] == 2, by_id[refused_id]
        # The last delivery may still be being recorded; those before it are sent.
        assert all(r["outcome"] == "sent" for r in reports[1:]), reports
        assert secret not in json.dumps(listed) and again["secret"] not in json.dumps(listed)
    finally:
        receiver.close()


def test_a_webhook_outside_the_listed_hosts_is_refused(wardline):
    key = integration_key(wardline, "firepanel")
    for url in ("https://10.0.0.5/hooks", "http://192.0.2.7/hooks", "https://localhost.evil.example/x"):
        status, body = call(wardline.base_url, "PUT", "/_wardline/integration/v1/webhook", key, {"url": url})
        assert status == 400 and body["errcode"] == "ORG.WARDLINE.HOST_NOT_ALLOWED", (url, body)
    status, body = call(wardline.base_url, "GET", "/_wardline/integration/v1/webhook", key)
    assert status == 200 and body == {"url": None}, body
