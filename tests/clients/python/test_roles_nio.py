"""Messaging a role from matrix-nio, a client that knows nothing of Wardline.

A nurse finds "med reg" in the user directory, creates a direct room inviting the role's own
Matrix user id, and sends a message; the registrar on shift (a holder, seated in the room by the
server) receives it through plain ``/sync`` and answers; the nurse's nio sees the answer from a
member whose per-room display name carries the role.  After the registrar hands the role over
(the command line sets the holders, as an operator would), the next message reaches the new
holder, who can read the history, and not the former one.

Do not relax an assertion to make a run green; fix the server.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid

from nio import (
    AsyncClient,
    JoinedMembersResponse,
    RoomCreateResponse,
    RoomMessageNotice,
    RoomMessageText,
    RoomMessagesResponse,
    RoomSendResponse,
    SyncResponse,
)

TIMEOUT_S = 60


def cli(wardline, *args: str) -> str:
    env = dict(os.environ)
    proc = subprocess.run(
        [str(wardline.binary), *args, "--data-dir", str(wardline.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 0, f"wardline {' '.join(args)}: {proc.stdout}{proc.stderr}"
    return proc.stdout


async def client(wardline, name: str) -> AsyncClient:
    return await wardline.nio_login(name, f"nio-roles-{name}")


async def wait_for_text(c: AsyncClient, room_id: str, body: str) -> RoomMessageText:
    """Syncs until a text message with `body` arrives in `room_id`, joining it if invited."""
    deadline = asyncio.get_running_loop().time() + TIMEOUT_S
    while asyncio.get_running_loop().time() < deadline:
        resp = await c.sync(timeout=5000)
        assert isinstance(resp, SyncResponse), resp
        if room_id in resp.rooms.invite:
            await c.join(room_id)
        room = resp.rooms.join.get(room_id)
        for event in room.timeline.events if room else []:
            if isinstance(event, RoomMessageText) and event.body == body:
                return event
    raise AssertionError(f"{c.user_id} never received {body!r} in {room_id}")


async def send(c: AsyncClient, room_id: str, body: str) -> str:
    sent = await c.room_send(room_id, "m.room.message", {"msgtype": "m.text", "body": body}, tx_id=str(uuid.uuid4()))
    assert isinstance(sent, RoomSendResponse), sent
    return sent.event_id


def test_a_stock_matrix_client_messages_a_role_and_its_holder_answers(wardline):
    for name in ("nurse", "shah", "jones"):
        wardline.add_user(name, display_name=name.capitalize())
    cli(
        wardline,
        "role", "add", "med-reg", "--name", "Medical Registrar On-call",
        "--department", "Medicine", "--bleep", "2345",
        "--eligible-user", "shah", "--eligible-user", "jones",
    )
    cli(wardline, "role", "holders", "set", "med-reg", "shah")

    async def scenario() -> None:
        nurse = await client(wardline, "nurse")
        shah = await client(wardline, "shah")
        jones = await client(wardline, "jones")
        try:
            for c in (nurse, shah, jones):
                await c.sync(timeout=0)
            role_id = "@role.med-reg:" + nurse.user_id.split(":", 1)[1]
            # The nurse finds the role in the directory, as she would a colleague.
            found = await nurse.get_profile(role_id)
            assert getattr(found, "displayname", None) == "Medical Registrar On-call", found
            search = await nurse.send(
                "POST",
                "/_matrix/client/v3/user_directory/search",
                '{"search_term": "med reg"}',
                headers={"Authorization": f"Bearer {nurse.access_token}", "Content-Type": "application/json"},
            )
            results = (await search.json())["results"]
            assert role_id in [r["user_id"] for r in results], results

            created = await nurse.room_create(invite=[role_id], is_direct=True)
            assert isinstance(created, RoomCreateResponse), created
            room_id = created.room_id
            members = await nurse.joined_members(room_id)
            assert isinstance(members, JoinedMembersResponse), members
            names = {m.user_id: m.display_name for m in members.members}
            assert names.get(role_id) == "Medical Registrar On-call", names
            assert names.get(shah.user_id) == "Shah (Medical Registrar On-call)", names

            await send(nurse, room_id, "Bed 4: BP 80/40, please review")
            got = await wait_for_text(shah, room_id, "Bed 4: BP 80/40, please review")
            assert got.sender == nurse.user_id
            await send(shah, room_id, "Coming now")
            answer = await wait_for_text(nurse, room_id, "Coming now")
            assert answer.sender == shah.user_id
            assert answer.source["content"]["org.wardline.as_role"]["id"] == "med-reg", answer.source
            assert nurse.rooms[room_id].user_name(shah.user_id) == "Shah (Medical Registrar On-call)"

            # End of shift: the role goes to Jones, who gets the room with its history.
            cli(wardline, "role", "holders", "set", "med-reg", "jones")
            await send(nurse, room_id, "Bed 4 now 75/40")
            await wait_for_text(jones, room_id, "Bed 4 now 75/40")
            history = await jones.room_messages(room_id, start=jones.next_batch, limit=50)
            assert isinstance(history, RoomMessagesResponse), history
            bodies = [e.body for e in history.chunk if isinstance(e, RoomMessageText)]
            assert "Bed 4: BP 80/40, please review" in bodies, bodies
            # Shah no longer receives the conversation.
            resp = await shah.sync(timeout=2000)
            assert isinstance(resp, SyncResponse), resp
            assert room_id in resp.rooms.leave, "the former holder left the room"
            later = [
                e.body
                for e in resp.rooms.leave[room_id].timeline.events
                if isinstance(e, (RoomMessageText, RoomMessageNotice))
            ]
            assert "Bed 4 now 75/40" not in later, later
        finally:
            for c in (nurse, shah, jones):
                await c.close()

    asyncio.run(scenario())
