"""An urgent message reaches matrix-nio, a client that knows nothing of Wardline.

A nurse sends "K+ 6.9 bed 4" as urgent (the ``org.wardline.priority`` block is plain content to
nio). The registrar's nio receives an ordinary text message whose body starts "[URGENT]", lists
the reactions that answer, and mentions him; he acknowledges with a 👍 reaction, the way any
Matrix app reacts. The nurse's status for the message then says he acknowledged it.

Do not relax an assertion to make a run green; fix the server.
"""

from __future__ import annotations

import asyncio
import uuid

from nio import (
    AsyncClient,
    RoomCreateResponse,
    RoomMessageText,
    RoomSendResponse,
    SyncResponse,
)

TIMEOUT_S = 60


async def client(wardline, name: str) -> AsyncClient:
    return await wardline.nio_login(name, f"nio-priority-{name}")


async def wait_for(c: AsyncClient, room_id: str, starts: str) -> RoomMessageText:
    """Syncs until a text message whose body starts with `starts` arrives, joining if invited."""
    deadline = asyncio.get_running_loop().time() + TIMEOUT_S
    while asyncio.get_running_loop().time() < deadline:
        resp = await c.sync(timeout=5000)
        assert isinstance(resp, SyncResponse), resp
        if room_id in resp.rooms.invite:
            await c.join(room_id)
        room = resp.rooms.join.get(room_id)
        for event in room.timeline.events if room else []:
            if isinstance(event, RoomMessageText) and event.body.startswith(starts):
                return event
    raise AssertionError(f"{c.user_id} never received {starts!r} in {room_id}")


def test_a_stock_matrix_client_receives_an_urgent_message_and_acknowledges_it(wardline):
    for name in ("nurse", "registrar"):
        wardline.add_user(name, display_name=name.capitalize())

    async def scenario() -> None:
        nurse = await client(wardline, "nurse")
        reg = await client(wardline, "registrar")
        try:
            await reg.sync(timeout=0)
            created = await nurse.room_create(invite=[reg.user_id], is_direct=True)
            assert isinstance(created, RoomCreateResponse), created
            room_id = created.room_id
            await wait_until_joined(reg, room_id)
            sent = await nurse.room_send(
                room_id,
                "m.room.message",
                {"msgtype": "m.text", "body": "K+ 6.9 bed 4", "org.wardline.priority": {"level": "urgent"}},
                tx_id=str(uuid.uuid4()),
            )
            assert isinstance(sent, RoomSendResponse), sent

            got = await wait_for(reg, room_id, "[URGENT]")
            assert got.event_id == sent.event_id
            assert got.body == "[URGENT] K+ 6.9 bed 4\n\nReact 1️⃣ Acknowledge · 2️⃣ Decline", got.body
            assert reg.user_id in got.source["content"]["m.mentions"]["user_ids"], got.source

            reacted = await reg.room_send(
                room_id,
                "m.reaction",
                {"m.relates_to": {"rel_type": "m.annotation", "event_id": got.event_id, "key": "👍"}},
                tx_id=str(uuid.uuid4()),
            )
            assert isinstance(reacted, RoomSendResponse), reacted

            resp = await nurse.send(
                "GET",
                f"/_wardline/client/v1/rooms/{room_id}/status/{sent.event_id}",
                headers={"Authorization": f"Bearer {nurse.access_token}"},
            )
            assert resp.status == 200, await resp.text()
            status = await resp.json()
            assert status["priority"] == "urgent", status
            [recipient] = status["recipients"]
            assert recipient["user_id"] == reg.user_id
            assert recipient["answer"]["option"] == "acknowledge", status
            assert recipient["answer"]["event_id"] == reacted.event_id, status
            assert status["counts"]["accepted"] == 1, status
        finally:
            await nurse.close()
            await reg.close()

    async def wait_until_joined(c: AsyncClient, room_id: str) -> None:
        deadline = asyncio.get_running_loop().time() + TIMEOUT_S
        while asyncio.get_running_loop().time() < deadline:
            resp = await c.sync(timeout=3000)
            assert isinstance(resp, SyncResponse), resp
            if room_id in resp.rooms.invite:
                await c.join(room_id)
            if room_id in resp.rooms.join:
                return
        raise AssertionError(f"{c.user_id} never joined {room_id}")

    asyncio.run(scenario())
