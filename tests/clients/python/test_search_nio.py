"""Message search (``POST /search``) from matrix-nio.

matrix-nio has no search method, so the search goes through ``AsyncClient.send`` with the
path built by nio's own ``Api._build_path``, the way a nio bot reaches an endpoint nio lacks;
everything else (rooms, messages, edits, redactions) is nio's own API.  Results are parsed
into nio ``Event`` objects to check that nio understands what the server returns.

Do not relax an assertion to make a run green; fix the server.
"""

from __future__ import annotations

import asyncio
import json
import uuid

from nio import (
    AsyncClient,
    Event,
    JoinResponse,
    RoomCreateResponse,
    RoomMessageText,
    RoomRedactResponse,
    RoomSendResponse,
)
from nio.api import Api

TIMEOUT_S = 60


async def client(wardline, name: str) -> AsyncClient:
    return await wardline.nio_login(name, f"nio-search-{name}")


async def search(c: AsyncClient, term: str, next_batch: str | None = None, **criteria) -> tuple[int, dict]:
    query = {"next_batch": next_batch} if next_batch else None
    body = {"search_categories": {"room_events": {"search_term": term, **criteria}}}
    resp = await c.send(
        "POST",
        Api._build_path(["search"], query),
        Api.to_json(body),
        headers={"Authorization": f"Bearer {c.access_token}", "Content-Type": "application/json"},
    )
    return resp.status, json.loads(await resp.text())


async def send(c: AsyncClient, room_id: str, content: dict) -> str:
    sent = await c.room_send(room_id, "m.room.message", content, tx_id=str(uuid.uuid4()))
    assert isinstance(sent, RoomSendResponse), sent
    return sent.event_id


def text(body: str) -> dict:
    return {"msgtype": "m.text", "body": body}


def test_search_from_nio(wardline):
    async def scenario():
        alice, bob, carol = [await client(wardline, n) for n in ("alice", "bob", "carol")]
        try:
            ward = await alice.room_create(
                invite=[bob.user_id],
                name="Ward 7 nio search",
                initial_state=[
                    {"type": "m.room.history_visibility", "state_key": "", "content": {"history_visibility": "joined"}}
                ],
            )
            assert isinstance(ward, RoomCreateResponse), ward
            await send(alice, ward.room_id, text("nio: creatinine 180 said before Bob joined"))
            joined = await bob.join(ward.room_id)
            assert isinstance(joined, JoinResponse), joined
            ids = [await send(alice, ward.room_id, text(f"nio: creatinine {150 + i} bed {i}")) for i in range(7)]
            elsewhere = await carol.room_create(name="Ward 9 nio search")
            assert isinstance(elsewhere, RoomCreateResponse), elsewhere
            await send(carol, elsewhere.room_id, text("nio: creatinine 999 on another ward"))

            # Only what Bob may read, newest first, every page, each hit once.
            seen: list[str] = []
            next_batch = None
            while True:
                status, body = await search(
                    bob, "creat", next_batch, order_by="recent", filter={"limit": 3}
                )
                assert status == 200, body
                events = body["search_categories"]["room_events"]
                assert events["count"] == 7, events
                assert "creatinine" in events["highlights"], events
                for r in events["results"]:
                    parsed = Event.parse_event(r["result"])
                    assert isinstance(parsed, RoomMessageText), parsed
                    assert "before Bob joined" not in parsed.body and "another ward" not in parsed.body
                    seen.append(parsed.event_id)
                next_batch = events.get("next_batch")
                if not next_batch:
                    break
            assert seen == list(reversed(ids)), seen

            # An edit: found by the new text, as the original event; a redaction: gone.
            await send(
                alice,
                ward.room_id,
                {
                    "msgtype": "m.text",
                    "body": "* nio: creatinine 140 bed 0, improving",
                    "m.new_content": text("nio: creatinine 140 bed 0, improving"),
                    "m.relates_to": {"rel_type": "m.replace", "event_id": ids[0]},
                },
            )
            status, body = await search(bob, "improving")
            assert status == 200, body
            assert [r["result"]["event_id"] for r in body["search_categories"]["room_events"]["results"]] == [ids[0]]
            redacted = await alice.room_redact(ward.room_id, ids[1], reason="wrong patient")
            assert isinstance(redacted, RoomRedactResponse), redacted
            status, body = await search(bob, "creatinine")
            assert status == 200 and body["search_categories"]["room_events"]["count"] == 6, body

            # Query syntax is not: quotes and operators are plain words; an empty term is refused.
            for term in ['"', "NEAR(", "OR", "creatinine*", "bed:0"]:
                status, body = await search(bob, term)
                assert status == 200, (term, body)
            status, body = await search(bob, "  ")
            assert status == 400 and body["errcode"] == "M_INVALID_PARAM", body
        finally:
            for c in (alice, bob, carol):
                await c.close()

    asyncio.run(asyncio.wait_for(scenario(), TIMEOUT_S))
