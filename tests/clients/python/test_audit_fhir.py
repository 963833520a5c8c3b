"""The audit export as FHIR R4, checked with a FHIR library nobody here wrote
(``fhir.resources`` 6.5, which implements FHIR R4 4.0.1)."""

from __future__ import annotations

import asyncio
import json
import subprocess

from fhir.resources.auditevent import AuditEvent
from fhir.resources.bundle import Bundle
from nio import AsyncClient, LoginResponse, RoomCreateResponse, RoomSendResponse


async def _activity(server) -> str:
    client = AsyncClient(server.base_url, "@alice:localhost")
    try:
        resp = await client.login(server.passwords["alice"])
        assert isinstance(resp, LoginResponse), resp
        room = await client.room_create(name="Ward 9")
        assert isinstance(room, RoomCreateResponse), room
        sent = await client.room_send(
            room.room_id, "m.room.message", {"msgtype": "m.text", "body": "sats 88% on air, bed 2"}
        )
        assert isinstance(sent, RoomSendResponse), sent
        await client.room_messages(room.room_id, start="", limit=10)
        bad = AsyncClient(server.base_url, "@bob:localhost")
        await bad.login("certainly not bob's password")
        await bad.close()
        await client.logout()
        return room.room_id
    finally:
        await client.close()


def test_fhir_export_is_valid_r4(wardline, tmp_path):
    room_id = asyncio.run(_activity(wardline))
    assert wardline.stop() == 0, "server must exit cleanly so its audit trail is complete"

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(wardline.binary), *args, "--data-dir", str(wardline.data_dir)],
            capture_output=True, text=True, timeout=60,
        )

    verify = cli("audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "audit trail intact" in verify.stdout

    out = tmp_path / "audit.json"
    export = cli("audit", "export", "--format", "fhir", "--output", str(out))
    assert export.returncode == 0, export.stderr
    raw = json.loads(out.read_text())
    bundle = Bundle.parse_obj(raw)  # raises on anything that is not valid FHIR R4
    assert bundle.type == "collection"
    events = [e.resource for e in bundle.entry]
    assert events and all(isinstance(e, AuditEvent) for e in events)
    by_action = {}
    for e in events:
        by_action.setdefault(e.subtype[0].code, []).append(e)
    for action in ("login", "login.failed", "room.create", "message.send", "room.read", "logout"):
        assert action in by_action, f"no {action} AuditEvent in {sorted(by_action)}"
    login = by_action["login"][0]
    assert login.agent[0].who.identifier.value == "@alice:localhost"
    assert login.agent[0].network.address == "127.0.0.1"
    assert login.outcome == "0"
    failed = by_action["login.failed"][0]
    assert failed.outcome == "4"
    sent = by_action["message.send"][0]
    assert sent.action == "C"
    assert any(ent.what.identifier.value == room_id for ent in sent.entity)
    assert "sats 88%" not in out.read_text(), "no message content in the audit export"
