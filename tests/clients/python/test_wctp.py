"""Paging over WCTP 1.3 with documents built and checked by ``lxml``.

A paging system (an integration bound to a WCTP sender id with the command line, as an operator
would) pages a nurse by username and by a mapped recipient id. Every document it sends is built
with ``lxml`` and **validated against the WCTP 1.3 DTD subset in ``wctp/wctp-v1r3-subset.dtd``
before it is sent**; every answer Wardline gives and every report it pushes to the paging
system's listener (``wctp-StatusInfo`` DELIVERED and READ, ``wctp-MessageReply`` with the chosen
``ReplyChoice``) is validated against the same DTD. The listener confirms each report with a
``wctp-Confirmation`` built with ``lxml`` and validated likewise. The DTD is written by hand for
this test (its header names its source); lxml (libxml2) does the validating.

Do not relax an assertion to make a run green; fix the server.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import WardlineServer, wardline_binary
from lxml import etree

WAIT_S = 30
DTD = etree.DTD(str(Path(__file__).parent / "wctp" / "wctp-v1r3-subset.dtd"))
PARSER = etree.XMLParser(load_dtd=False, no_network=True, resolve_entities=False)
VERSION = "wctp-dtd-v1r3"


def valid(doc: bytes) -> etree._Element:
    """Parses a WCTP document and checks it against the DTD subset."""
    root = etree.fromstring(doc, PARSER)
    assert DTD.validate(root), f"not valid against the WCTP 1.3 DTD: {DTD.error_log.filter_from_errors()}\n{doc!r}"
    return root


def document(operation: etree._Element) -> bytes:
    """A ``wctp-Operation`` holding ``operation``, checked against the DTD before it is sent."""
    root = etree.Element("wctp-Operation", wctpVersion=VERSION)
    root.append(operation)
    doc = etree.tostring(
        root,
        xml_declaration=True,
        encoding="UTF-8",
        doctype=f'<!DOCTYPE wctp-Operation SYSTEM "http://dtd.wctp.org/{VERSION}.dtd">',
    )
    valid(doc)
    return doc


def submit(
    sender: str,
    code: str | None,
    message_id: str,
    recipient: str,
    text: str,
    choices: list[tuple[str, str | None]] | None = None,
    priority: str = "HIGH",
) -> bytes:
    """A ``wctp-SubmitRequest``: alphanumeric text, or an MCR with ``choices`` (send, reply)."""
    req = etree.Element("wctp-SubmitRequest")
    header = etree.SubElement(req, "wctp-SubmitHeader", submitTimestamp="2026-12-01T10:00:00")
    originator = etree.SubElement(header, "wctp-Originator", senderID=sender)
    if code is not None:
        originator.set("securityCode", code)
    etree.SubElement(
        header,
        "wctp-MessageControl",
        messageID=message_id,
        notifyWhenDelivered="true",
        notifyWhenRead="true",
        deliveryPriority=priority,
    )
    etree.SubElement(header, "wctp-Recipient", recipientID=recipient)
    payload = etree.SubElement(req, "wctp-Payload")
    if choices:
        mcr = etree.SubElement(payload, "wctp-MCR")
        etree.SubElement(mcr, "wctp-MessageText").text = text
        for send, reply in choices:
            if reply is None:
                etree.SubElement(mcr, "wctp-Choice").text = send
            else:
                pair = etree.SubElement(mcr, "wctp-ChoicePair")
                etree.SubElement(pair, "wctp-SendChoice").text = send
                etree.SubElement(pair, "wctp-ReplyChoice").text = reply
    else:
        etree.SubElement(payload, "wctp-Alphanumeric").text = text
    return document(req)


def confirmation(code: int = 200) -> bytes:
    conf = etree.Element("wctp-Confirmation")
    etree.SubElement(conf, "wctp-Success", successCode=str(code), successText="Received").text = "Received"
    return document(conf)


class Listener:
    """The paging system's listener: records every posted operation, confirms it."""

    def __init__(self) -> None:
        self.received: "queue.Queue[bytes]" = queue.Queue()
        received = self.received
        answer = confirmation()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received.put(body)
                self.send_response(200)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/wctp"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def next(self) -> etree._Element:
        return valid(self.received.get(timeout=WAIT_S))

    def close(self) -> None:
        self.httpd.shutdown()


@pytest.fixture(scope="module")
def wardline(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("wardline-wctp")
    server = WardlineServer(
        binary=wardline_binary(),
        data_dir=root / "data",
        log_path=root / "wardline.log",
        env={
            "WARDLINE_INTEGRATIONS__WEBHOOK_HOSTS": '["127.0.0.1"]',
            "WARDLINE_INTEGRATIONS__ALLOW_LOOPBACK_HTTP": "true",
            "WARDLINE_INTEGRATIONS__FIRST_RETRY_SECS": "1",
        },
    )
    server.data_dir.mkdir()
    server.start()
    try:
        server.add_user("nina", display_name="Nina")
        yield server
    finally:
        server.stop()


def cli(wardline: WardlineServer, *args: str) -> str:
    """Runs a command as the operator would, with the server's settings (its allowed hosts)."""
    proc = subprocess.run(
        [str(wardline.binary), *args, "--data-dir", str(wardline.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **wardline.env},
    )
    assert proc.returncode == 0, f"wardline {' '.join(args)}: {proc.stdout}{proc.stderr}"
    return proc.stdout


def post_wctp(wardline: WardlineServer, doc: bytes) -> etree._Element:
    """Posts a WCTP document; Wardline answers HTTP 200 and a valid ``wctp-Operation``."""
    req = urllib.request.Request(wardline.base_url + "/_wardline/integration/v1/wctp", data=doc, method="POST")
    req.add_header("Content-Type", "text/xml")
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/xml"), resp.headers
        return valid(resp.read())


def outcome(answer: etree._Element) -> tuple[str, str]:
    """("success" | "failure", code) of a ``wctp-Confirmation``."""
    (conf,) = answer
    assert conf.tag == "wctp-Confirmation", etree.tostring(answer)
    (result,) = conf
    if result.tag == "wctp-Success":
        return "success", result.get("successCode")
    return "failure", result.get("errorCode")


def call(wardline: WardlineServer, method: str, path: str, token: str, body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(wardline.base_url + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def login(wardline: WardlineServer, name: str) -> str:
    req = urllib.request.Request(
        wardline.base_url + "/_matrix/client/v3/login",
        data=json.dumps(
            {
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": name},
                "password": wardline.passwords[name],
            }
        ).encode(),
        method="POST",
    )
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())["access_token"]


def the_page(wardline: WardlineServer, token: str) -> tuple[str, dict]:
    """Syncs until the page from the integration is there; its room and event."""
    since = None
    for _ in range(60):
        path = "/_matrix/client/v3/sync?timeout=500" + (f"&since={urllib.parse.quote(since)}" if since else "")
        status, body = call(wardline, "GET", path, token)
        assert status == 200, body
        since = body["next_batch"]
        for room_id, room in body.get("rooms", {}).get("join", {}).items():
            for ev in room.get("timeline", {}).get("events", []):
                if ev["sender"] == "@integration.paging:localhost" and "org.wardline.ask" in ev["content"]:
                    return room_id, ev
    raise AssertionError("the page never reached the nurse")


def test_a_page_validated_against_the_dtd_is_answered_and_reported_in_wctp(wardline):
    listener = Listener()
    try:
        cli(wardline, "integration", "add", "paging", "--name", "Paging gateway", "--kind", "paging",
            "--scope", "wctp")
        out = cli(wardline, "integration", "key", "add", "paging")
        key = next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("key:"))
        cli(wardline, "integration", "wctp", "set", "paging", "--sender-id", "nc-gw", "--reply-url", listener.url)
        cli(wardline, "integration", "wctp", "recipient", "set", "paging", "4711", "--user", "@nina:localhost")
        shown = json.loads(cli(wardline, "integration", "wctp", "show", "paging"))
        assert shown["wctp"]["sender_id"] == "nc-gw" and shown["recipients"][0]["recipient_id"] == "4711", shown

        # The version Wardline speaks.
        query = document(etree.Element("wctp-VersionQuery", inquirer="nc-gw"))
        (answer,) = post_wctp(wardline, query)
        assert answer.tag == "wctp-VersionResponse"
        assert [d.get("dtdName") for d in answer.findall("wctp-DTDSupport")] == [VERSION]

        choices = [("Accept", "1"), ("Busy", None), ("Call me", "3")]
        page = submit("nc-gw", key, "P-1", "4711", "Bay 3 bed 12 needs help", choices)
        assert outcome(post_wctp(wardline, page)) == ("success", "200")
        assert outcome(post_wctp(wardline, page)) == ("success", "200"), "a repeat is answered as the first"
        other = submit("nc-gw", key, "P-1", "4711", "Bay 4 bed 2 fell", choices)
        assert outcome(post_wctp(wardline, other))[0] == "failure", "a messageID is one page"
        assert outcome(post_wctp(wardline, submit("nc-gw", key, "P-2", "no-such-pager", "x"))) == ("failure", "403")
        assert outcome(post_wctp(wardline, submit("nc-gw", "wlk_" + "a" * 12 + "_" + "b" * 43, "P-3", "nina", "x"))) == (
            "failure",
            "402",
        )
        assert outcome(post_wctp(wardline, submit("someone-else", key, "P-4", "nina", "x"))) == ("failure", "401")

        # Nina sees the page with its choices as buttons.
        token = login(wardline, "nina")
        room, event = the_page(wardline, token)
        options = event["content"]["org.wardline.ask"]["options"]
        assert [o["label"] for o in options] == ["Accept", "Busy", "Call me"], options
        assert event["content"]["org.wardline.priority"]["level"] == "urgent"

        delivered = listener.next()
        (info,) = delivered
        assert info.tag == "wctp-StatusInfo"
        assert info.find("wctp-Notification").get("type") == "DELIVERED"
        header = info.find("wctp-ResponseHeader")
        assert header.get("responseToMessageID") == "P-1" and header.get("onBehalfOfRecipientID") == "4711"
        assert header.find("wctp-Recipient").get("recipientID") == "nc-gw"

        status, body = call(
            wardline, "POST",
            f"/_matrix/client/v3/rooms/{urllib.parse.quote(room)}/receipt/m.read/{urllib.parse.quote(event['event_id'])}",
            token, {},
        )
        assert status == 200, body
        (read,) = listener.next()
        assert read.tag == "wctp-StatusInfo" and read.find("wctp-Notification").get("type") == "READ"

        # She answers "Call me": it goes back as its ReplyChoice.
        call_me = next(o for o in options if o["label"] == "Call me")
        answer_body = {
            "msgtype": "m.text",
            "body": "Call me",
            "m.relates_to": {"rel_type": "m.reference", "event_id": event["event_id"]},
            "org.wardline.response": {"option": call_me["id"]},
        }
        status, body = call(
            wardline, "PUT",
            f"/_matrix/client/v3/rooms/{urllib.parse.quote(room)}/send/m.room.message/answer-1",
            token, answer_body,
        )
        assert status == 200, body
        (reply,) = listener.next()
        assert reply.tag == "wctp-MessageReply" and reply.get("MCRMessageReply") == "true"
        assert reply.find("wctp-Payload/wctp-Alphanumeric").text == "3"
        assert reply.find("wctp-ResponseHeader").get("responseToMessageID") == "P-1"
    finally:
        listener.close()
