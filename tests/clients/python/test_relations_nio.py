"""Replies, reactions, edits and deletions through matrix-nio.

Every request goes through matrix-nio's ``AsyncClient``: ``room_send`` for the reply (with the
rich-reply fallback fields older clients still send), the reaction and the edit, ``room_redact``
for the deletion, ``room_get_event`` and ``room_get_event_relations`` (nio's own
``/relations`` iterator) to read them back the way the spec says.  Do not relax an assertion to
make a run green; fix the server.
"""

from __future__ import annotations

import asyncio
import uuid

from nio import (
    AsyncClient,
    JoinResponse,
    RoomCreateResponse,
    RoomGetEventResponse,
    RoomRedactResponse,
    RoomSendError,
    RoomSendResponse,
)
from nio.api import RelationshipType

TIMEOUT_S = 120


async def client(wardline, name: str) -> AsyncClient:
    return await wardline.nio_login(name, f"nio-{name}", encryption_enabled=False)


async def send(c: AsyncClient, room_id: str, kind: str, content: dict) -> str:
    resp = await c.room_send(room_id, kind, content, tx_id=str(uuid.uuid4()))
    assert isinstance(resp, RoomSendResponse), resp
    return resp.event_id


async def relations(c: AsyncClient, room_id: str, event_id: str, **kwargs) -> list:
    return [e async for e in c.room_get_event_relations(room_id, event_id, **kwargs)]


def test_reply_react_edit_and_delete_with_nio(wardline):
    async def scenario():
        alice, bob = [await client(wardline, n) for n in ("alice", "bob")]
        try:
            room = await alice.room_create(invite=[bob.user_id], name="Ward 7 handover")
            assert isinstance(room, RoomCreateResponse), room
            room_id = room.room_id
            joined = await bob.join(room_id)
            assert isinstance(joined, JoinResponse), joined

            original = await send(
                alice, room_id, "m.room.message", {"msgtype": "m.text", "body": "Bed 4: NEWS2 score 5"}
            )

            # A reply, with the rich-reply fallback older clients put in body and formatted_body.
            reply = await send(
                bob,
                room_id,
                "m.room.message",
                {
                    "msgtype": "m.text",
                    "body": f"> <{alice.user_id}> Bed 4: NEWS2 score 5\n\nOn my way",
                    "format": "org.matrix.custom.html",
                    "formatted_body": (
                        f'<mx-reply><blockquote><a href="https://matrix.to/#/{room_id}/{original}">In reply to</a> '
                        f'<a href="https://matrix.to/#/{alice.user_id}">{alice.user_id}</a><br>Bed 4: NEWS2 score 5'
                        "</blockquote></mx-reply>On my way"
                    ),
                    "m.relates_to": {"m.in_reply_to": {"event_id": original}},
                },
            )
            got = await bob.room_get_event(room_id, reply)
            assert isinstance(got, RoomGetEventResponse), got
            assert got.event.source["content"]["m.relates_to"]["m.in_reply_to"]["event_id"] == original

            # A reaction, and the same one again (refused, as the spec says).
            thumbs = {"m.relates_to": {"rel_type": "m.annotation", "event_id": original, "key": "👍"}}
            reaction = await send(bob, room_id, "m.reaction", thumbs)
            again = await bob.room_send(room_id, "m.reaction", thumbs, tx_id=str(uuid.uuid4()))
            assert isinstance(again, RoomSendError), again
            assert again.status_code == "M_DUPLICATE_ANNOTATION", again

            # An edit by the sender; one by someone else is refused.
            edit_content = {
                "msgtype": "m.text",
                "body": "* Bed 4: NEWS2 score 6",
                "m.new_content": {"msgtype": "m.text", "body": "Bed 4: NEWS2 score 6"},
                "m.relates_to": {"rel_type": "m.replace", "event_id": original},
            }
            edit = await send(alice, room_id, "m.room.message", edit_content)
            forged = await bob.room_send(room_id, "m.room.message", edit_content, tx_id=str(uuid.uuid4()))
            assert isinstance(forged, RoomSendError), forged
            assert forged.status_code == "M_INVALID_PARAM", forged

            # Reading back: the original keeps its content and bundles the whole latest edit.
            got = await bob.room_get_event(room_id, original)
            assert isinstance(got, RoomGetEventResponse), got
            source = got.event.source
            assert source["content"]["body"] == "Bed 4: NEWS2 score 5", source
            replace = source["unsigned"]["m.relations"]["m.replace"]
            assert replace["event_id"] == edit, source
            assert replace["sender"] == alice.user_id
            assert replace["content"]["m.new_content"]["body"] == "Bed 4: NEWS2 score 6"
            assert "m.annotation" not in source["unsigned"]["m.relations"], "reactions are not bundled"

            # /relations through nio's own iterator: everything, then by type.
            children = await relations(bob, room_id, original)
            assert [e.event_id for e in children] == [edit, reaction], children
            reactions = await relations(
                bob, room_id, original, rel_type=RelationshipType.annotation, event_type="m.reaction"
            )
            assert [e.source["content"]["m.relates_to"]["key"] for e in reactions] == ["👍"]
            edits = await relations(bob, room_id, original, rel_type=RelationshipType.replacement, limit=1)
            assert [e.event_id for e in edits] == [edit]

            # Deleting the reaction takes it out of /relations; bob may then react again.
            redacted = await bob.room_redact(room_id, reaction, reason="wrong message")
            assert isinstance(redacted, RoomRedactResponse), redacted
            assert await relations(bob, room_id, original, rel_type=RelationshipType.annotation) == []
            await send(bob, room_id, "m.reaction", thumbs)

            # Deleting the original: empty content, and no edit bundled any more.
            redacted = await alice.room_redact(room_id, original, reason="wrong patient")
            assert isinstance(redacted, RoomRedactResponse), redacted
            got = await bob.room_get_event(room_id, original)
            assert isinstance(got, RoomGetEventResponse), got
            assert got.event.source["content"] == {}
            assert "m.replace" not in got.event.source["unsigned"].get("m.relations", {})
        finally:
            for c in (alice, bob):
                await c.close()

    asyncio.run(asyncio.wait_for(scenario(), TIMEOUT_S))
