"""A broadcast reaches matrix-nio, a client that knows nothing of Wardline, and it acknowledges.

The operator lets the manager broadcast (`wardline user broadcast manager`); the manager broadcasts to the Cardiology department
asking for acknowledgement. The nurse's nio finds itself in the broadcast's conversation without
accepting an invitation, receives an ordinary text message whose body lists the reaction that
acknowledges, cannot post a message of its own there (403), and acknowledges with a 👍 reaction.
The manager's report then counts the acknowledgement.

Do not relax an assertion to make a run green; fix the server.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid

from nio import AsyncClient, RoomMessageText, RoomSendError, RoomSendResponse, SyncResponse

TIMEOUT_S = 60


def cli(wardline, *args: str, stdin: str | None = None) -> str:
    """Runs a `wardline` command against the server's data directory, as an operator would."""
    env = dict(os.environ, WARDLINE_RATE_LIMITS__ENABLED="false")
    proc = subprocess.run(
        [str(wardline.binary), *args, "--data-dir", str(wardline.data_dir)],
        input=stdin, capture_output=True, text=True, timeout=60, env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout




async def call(c: AsyncClient, method: str, path: str, body=None):
    import json

    resp = await c.send(
        method,
        path,
        data=None if body is None else json.dumps(body),
        headers={"Authorization": f"Bearer {c.access_token}", "Content-Type": "application/json"},
    )
    return resp.status, await resp.json()


async def wait_for(c: AsyncClient, room_id: str, event_id: str) -> RoomMessageText:
    """Syncs until the message arrives in a room joined without an invitation."""
    deadline = asyncio.get_running_loop().time() + TIMEOUT_S
    while asyncio.get_running_loop().time() < deadline:
        resp = await c.sync(timeout=3000)
        assert isinstance(resp, SyncResponse), resp
        assert room_id not in resp.rooms.invite, "seated at once, never invited"
        room = resp.rooms.join.get(room_id)
        for event in room.timeline.events if room else []:
            if isinstance(event, RoomMessageText) and event.event_id == event_id:
                return event
    raise AssertionError(f"{c.user_id} never received {event_id} in {room_id}")


def test_a_stock_matrix_client_acknowledges_a_broadcast_with_a_reaction(wardline):
    wardline.add_user("manager", display_name="Manager")
    # The nurse is in Cardiology; the operator lets the manager broadcast.
    password = "Ward-" + uuid.uuid4().hex
    cli(wardline, "user", "add", "nurse", "--display-name", "Nurse", "--department", "Cardiology", stdin=password + "\n")
    wardline.passwords["nurse"] = password
    cli(wardline, "user", "broadcast", "manager")

    async def scenario() -> None:
        manager = await wardline.nio_login("manager", "nio-broadcast-manager")
        nurse = await wardline.nio_login("nurse", "nio-broadcast-nurse")
        try:
            await nurse.sync(timeout=0)
            st, sent = await call(
                manager,
                "POST",
                "/_wardline/client/v1/broadcasts",
                {
                    "audience": {"kind": "department", "department": "Cardiology"},
                    "title": "Fire drill",
                    "body": "Fire drill at 14:00",
                    "acknowledge": True,
                    "txn_id": str(uuid.uuid4()),
                },
            )
            assert st == 200 and sent["recipients"] == 1, sent
            room_id = sent["room_id"]

            got = await wait_for(nurse, room_id, sent["event_id"])
            assert got.body == "Fire drill at 14:00\n\nReact 1️⃣ Acknowledge", got.body

            refused = await nurse.room_send(
                room_id, "m.room.message", {"msgtype": "m.text", "body": "ok"}, tx_id=str(uuid.uuid4())
            )
            assert isinstance(refused, RoomSendError) and refused.status_code == "M_FORBIDDEN", refused

            reacted = await nurse.room_send(
                room_id,
                "m.reaction",
                {"m.relates_to": {"rel_type": "m.annotation", "event_id": got.event_id, "key": "👍"}},
                tx_id=str(uuid.uuid4()),
            )
            assert isinstance(reacted, RoomSendResponse), reacted

            st, report = await call(manager, "GET", f"/_wardline/client/v1/broadcasts/{room_id}")
            assert st == 200, report
            assert (report["recipients"], report["acknowledged"], report["not_acknowledged_total"]) == (1, 1, 0), report
        finally:
            await manager.close()
            await nurse.close()

    asyncio.run(scenario())
