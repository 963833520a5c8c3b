"""Filing a conversation to the patient's record, checked with a FHIR library nobody here wrote
(``fhir.resources`` 6.5, FHIR R4 4.0.1).

Wardline runs against the FHIR test server (``tests/fhir-server``, Medplum's FHIR router in
memory). A clinician ties a conversation to a patient and files three messages (one a reply,
one an image) and the transcript over HTTP, as a client would. Then every request Wardline sent
the record (``/_test/requests``) is read back: each transaction Bundle, each Communication and
the DocumentReference must parse as FHIR R4, and each entry must be a conditional update whose
URL names the resource's own identifier, percent-encoded.

Do not relax an assertion to make a run green; fix the server.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from conftest import REPO_ROOT, WardlineServer, wardline_binary
from fhir.resources.bundle import Bundle
from fhir.resources.communication import Communication
from fhir.resources.documentreference import DocumentReference

WAIT_S = 30
FHIR_DIR = REPO_ROOT / "tests" / "fhir-server"


def _http(method: str, url: str, body=None, token: str | None = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


@pytest.fixture(scope="module")
def fhir():
    """The FHIR test server; yields its origin."""
    if not (FHIR_DIR / "node_modules" / "@medplum" / "fhir-router").is_dir():
        pytest.fail(f"the test FHIR server's packages are missing: run `npm ci` in {FHIR_DIR}", pytrace=False)
    proc = subprocess.Popen(
        ["node", "server.mjs", "--port", "0"], cwd=FHIR_DIR, stdout=subprocess.PIPE, text=True
    )
    try:
        port = json.loads(proc.stdout.readline())["port"]
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def wardline(tmp_path_factory: pytest.TempPathFactory, fhir):
    root = tmp_path_factory.mktemp("wardline-filing")
    server = WardlineServer(
        binary=wardline_binary(),
        data_dir=root / "data",
        log_path=root / "wardline.log",
        env={"WARDLINE_EPR__BASE_URL": f"{fhir}/fhir/R4", "WARDLINE_SECURITY__MFA_REQUIRED": "off"},
    )
    server.data_dir.mkdir()
    server.start()
    try:
        for name in ("alice", "bob"):
            server.add_user(name, display_name=name.capitalize())
        yield server
    finally:
        server.stop()


def _login(server: WardlineServer, name: str) -> str:
    status, body = _http(
        "POST",
        f"{server.base_url}/_matrix/client/v3/login",
        {"type": "m.login.password", "identifier": {"type": "m.id.user", "user": name},
         "password": server.passwords[name]},
    )
    assert status == 200, body
    return body["access_token"]


def _png() -> bytes:
    from PIL import Image
    import io

    out = io.BytesIO()
    Image.new("RGB", (4, 3), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def test_what_wardline_files_is_valid_fhir_r4(wardline, fhir):
    status, _ = _http("POST", f"{fhir}/_test/seed", [
        {"resourceType": "Patient", "id": "pat-1",
         "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919"}],
         "name": [{"use": "official", "family": "Smith", "given": ["John"]}], "birthDate": "1970-01-31"},
    ])
    assert status == 200
    base = wardline.base_url
    alice, bob = _login(wardline, "alice"), _login(wardline, "bob")
    status, room = _http("POST", f"{base}/_matrix/client/v3/createRoom",
                         {"name": "Ward 7", "invite": ["@bob:localhost"]}, alice)
    assert status == 200, room
    room_id = urllib.parse.quote(room["room_id"], safe="")
    status, _ = _http("POST", f"{base}/_matrix/client/v3/rooms/{room_id}/join", {}, bob)
    assert status == 200
    status, tie = _http("PUT", f"{base}/_wardline/client/v1/rooms/{room_id}/patient", {"patient": "pat-1"}, alice)
    assert status == 200, tie

    def send(token: str, txn: str, content: dict) -> str:
        status, body = _http("PUT", f"{base}/_matrix/client/v3/rooms/{room_id}/send/m.room.message/{txn}",
                             content, token)
        assert status == 200, body
        return body["event_id"]

    m1 = send(alice, "t1", {"msgtype": "m.text", "body": "K+ 6.8, please review",
                            "org.wardline.priority": {"level": "urgent"}})
    m2 = send(bob, "t2", {"msgtype": "m.text", "body": "On my way",
                          "m.relates_to": {"m.in_reply_to": {"event_id": m1}}})
    png = _png()
    req = urllib.request.Request(f"{base}/_matrix/media/v3/upload?filename=wound.png", data=png, method="POST")
    req.add_header("content-type", "image/png")
    req.add_header("authorization", f"Bearer {alice}")
    with urllib.request.urlopen(req, timeout=30) as resp:
        uri = json.loads(resp.read())["content_uri"]
    m3 = send(alice, "t3", {"msgtype": "m.image", "body": "wound.png", "url": uri,
                            "info": {"mimetype": "image/png", "size": len(png), "w": 4, "h": 3}})

    _http("DELETE", f"{fhir}/_test/requests")
    status, filed = _http("POST", f"{base}/_wardline/client/v1/rooms/{room_id}/filings",
                          {"event_ids": [m1, m2, m3], "transcript": True}, alice)
    assert status == 202, filed
    deadline = time.monotonic() + WAIT_S
    while True:
        status, listing = _http("GET", f"{base}/_wardline/client/v1/rooms/{room_id}/filings", None, alice)
        assert status == 200, listing
        mine = [f for f in listing["filings"] if f["filing_id"] == filed["filing_id"]]
        if mine and mine[0]["state"] != "pending":
            break
        assert time.monotonic() < deadline, listing
        time.sleep(0.2)
    assert mine[0]["state"] == "filed", mine

    status, requests = _http("GET", f"{fhir}/_test/requests")
    assert status == 200
    bundles = [r["body"] for r in requests if r["method"] == "POST" and r["url"].rstrip("/").endswith("/fhir/R4")]
    assert len(bundles) == 2, "one Bundle of messages, one of the transcript"
    communications, documents = [], []
    for raw in bundles:
        bundle = Bundle.parse_obj(raw)  # raises on anything that is not valid FHIR R4
        assert bundle.type == "transaction"
        assert len(bundle.entry) <= 8
        for entry, raw_entry in zip(bundle.entry, raw["entry"]):
            kind = raw_entry["resource"]["resourceType"]
            if kind == "Communication":
                resource = Communication.parse_obj(raw_entry["resource"])
                communications.append(resource)
            else:
                assert kind == "DocumentReference", kind
                resource = DocumentReference.parse_obj(raw_entry["resource"])
                documents.append(resource)
            ident = resource.identifier[0]
            assert entry.request.method == "PUT"
            expected = f"{kind}?identifier=" + urllib.parse.quote(f"{ident.system}|{ident.value}", safe="-._~")
            assert entry.request.url == expected, (entry.request.url, expected)
            assert "+" not in entry.request.url and "|" not in entry.request.url

    by_id = {c.identifier[0].value: c for c in communications}
    assert set(by_id) == {m1, m2, m3}
    assert all(c.identifier[0].system == "urn:wardline:localhost:event" for c in communications)
    assert by_id[m1].status == "completed" and by_id[m1].priority == "urgent"
    assert by_id[m1].subject.reference == "Patient/pat-1"
    assert by_id[m1].payload[0].contentString == "K+ 6.8, please review"
    assert by_id[m1].sender.identifier.value == "@alice:localhost"
    assert [r.identifier.value for r in by_id[m1].recipient] == ["@bob:localhost"]
    assert by_id[m2].inResponseTo[0].identifier.value == m1
    # The file as Wardline keeps it (it strips images' metadata on upload), inline.
    media_id = uri.removeprefix("mxc://localhost/")
    req = urllib.request.Request(f"{base}/_matrix/client/v1/media/download/localhost/{media_id}")
    req.add_header("authorization", f"Bearer {alice}")
    with urllib.request.urlopen(req, timeout=30) as resp:
        kept = resp.read()
    attachment = by_id[m3].payload[0].contentAttachment
    assert attachment.contentType == "image/png" and attachment.size == len(kept)
    assert base64.b64decode(attachment.data) == kept and kept.startswith(b"\x89PNG")

    [doc] = documents
    assert doc.status == "current" and doc.type.text == "Clinical messaging transcript"
    assert doc.identifier[0].system == "urn:wardline:localhost:transcript"
    text = base64.b64decode(doc.content[0].attachment.data).decode("utf-8")
    assert "About: SMITH, John — NHS 943 476 5919" in text
    assert "K+ 6.8, please review" in text
