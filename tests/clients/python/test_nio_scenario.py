"""Real-client scenario tests for Wardline, driven by matrix-nio.

Every request goes through matrix-nio's ``AsyncClient`` exactly as a bot or
client built on nio would send it.  nio decides success/failure by validating
the response body against its JSON schemas, so each step asserts both the nio
response *type* and the HTTP status.

Assertions are deliberately strict: when the server is wrong, these tests must
fail.  Do not relax them to make a run green; fix the server.

Waiting is done with bounded sync loops (``User.sync_until``), never with a
fixed sleep used as the assertion.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import uuid
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest
from nio import (
    AsyncClient,
    AsyncClientConfig,
    ErrorResponse,
    InviteMemberEvent,
    JoinResponse,
    LoginError,
    LoginResponse,
    MessageDirection,
    ReceiptEvent,
    RegisterResponse,
    RoomCreateResponse,
    RoomGetEventError,
    RoomGetEventResponse,
    RoomGetStateEventError,
    RoomGetStateEventResponse,
    RoomInviteError,
    RoomInviteResponse,
    RoomLeaveResponse,
    RoomMemberEvent,
    RoomMessagesError,
    RoomMessagesResponse,
    RoomMessageText,
    RoomPreset,
    RoomSendResponse,
    RoomTypingResponse,
    SyncResponse,
    TypingNoticeEvent,
    UpdateReceiptMarkerResponse,
    UploadFilterResponse,
)
from nio.events.misc import BadEvent, UnknownBadEvent
from nio.responses import RegisterErrorResponse

SERVER_NAME = "localhost"
WAIT_S = 30.0  # upper bound for any "eventually visible via /sync" condition
LONG_POLL_MS = 1000  # /sync long-poll timeout used by the wait loops
SCENARIO_TIMEOUT_S = 600.0  # hard bound for a whole test

# No infinite retries inside nio: a dead server or a 429 must fail the test.
NIO_CONFIG = AsyncClientConfig(
    max_limit_exceeded=0,
    max_timeouts=0,
    request_timeout=30,
    store_sync_tokens=False,
    encryption_enabled=False,
)


# ---------------------------------------------------------------------------
# response helpers
# ---------------------------------------------------------------------------
def http_status(resp: Any) -> int | None:
    transport = getattr(resp, "transport_response", None)
    return getattr(transport, "status", None)


def describe(resp: Any) -> str:
    return f"{type(resp).__name__} (HTTP {http_status(resp)}): {resp!r}"[:2000]


def expect_ok(resp: Any, cls: type, what: str):
    """The request must have succeeded: nio success type *and* HTTP 200."""
    assert isinstance(resp, cls), f"{what}: expected {cls.__name__}, got {describe(resp)}"
    assert http_status(resp) == 200, f"{what}: expected HTTP 200, got {describe(resp)}"
    return resp


def expect_error(
    resp: Any,
    cls: type,
    what: str,
    statuses: set[int] | range,
    errcodes: set[str] | None = None,
):
    """The request must have failed with a proper Matrix error body."""
    assert isinstance(resp, cls) and isinstance(resp, ErrorResponse), (
        f"{what}: expected an error ({cls.__name__}), got {describe(resp)}"
    )
    status = http_status(resp)
    assert status in statuses, f"{what}: unexpected HTTP status, got {describe(resp)}"
    assert resp.status_code is not None and re.fullmatch(r"M_[A-Z0-9_]+", resp.status_code), (
        f"{what}: error body must carry a Matrix errcode, got {describe(resp)}"
    )
    if errcodes is not None:
        assert resp.status_code in errcodes, (
            f"{what}: expected errcode in {sorted(errcodes)}, got {describe(resp)}"
        )
    return resp


def brief(event: Any) -> tuple:
    """A short, printable summary of a timeline event."""
    src = getattr(event, "source", {}) or {}
    content = src.get("content", {}) or {}
    return (src.get("type"), src.get("sender"), content.get("body", content.get("membership")))


def run(coro_fn: Callable[[], Any]) -> None:
    asyncio.run(asyncio.wait_for(coro_fn(), SCENARIO_TIMEOUT_S))


# ---------------------------------------------------------------------------
# a logged-in user that records everything it receives over /sync
# ---------------------------------------------------------------------------
class User:
    def __init__(self, base_url: str, localpart: str, password: str | None = None):
        self.base_url = base_url
        self.localpart = localpart
        self.password = password
        self.user_id = f"@{localpart}:{SERVER_NAME}"
        self.client = AsyncClient(base_url, localpart, config=NIO_CONFIG)
        # Everything seen through /sync, in the order it was received.
        self.timeline: dict[str, list[Any]] = defaultdict(list)
        self.ephemeral: dict[str, list[Any]] = defaultdict(list)
        self.invited: set[str] = set()
        self.invite_state: dict[str, list[Any]] = {}
        self.left: set[str] = set()
        self.left_timeline: dict[str, list[Any]] = defaultdict(list)
        self.syncs = 0

    @classmethod
    def same_session(cls, other: User) -> User:
        """A second nio client on the same access token, with no sync token."""
        user = cls(other.base_url, other.localpart)
        user.client.restore_login(other.client.user_id, other.client.device_id, other.client.access_token)
        return user

    async def login(self) -> LoginResponse:
        assert self.password is not None
        resp = await self.client.login(self.password, device_name=f"nio-{self.localpart}")
        expect_ok(resp, LoginResponse, f"{self.localpart} login")
        assert resp.user_id == self.user_id, f"login returned user_id {resp.user_id!r}"
        assert isinstance(resp.access_token, str) and resp.access_token
        assert isinstance(resp.device_id, str) and resp.device_id
        return resp

    async def close(self) -> None:
        await self.client.close()

    # -- sync ------------------------------------------------------------
    async def sync_once(
        self, sync_filter: str | dict | None = None, timeout_ms: int = LONG_POLL_MS
    ) -> SyncResponse:
        since = self.client.next_batch
        resp = await self.client.sync(timeout=timeout_ms, sync_filter=sync_filter)
        expect_ok(resp, SyncResponse, f"{self.localpart} /sync (since={since!r})")
        assert isinstance(resp.next_batch, str) and resp.next_batch, "next_batch must be a non-empty string"
        self.syncs += 1
        self._record(resp)
        return resp

    def _record(self, resp: SyncResponse) -> None:
        for room_id, info in resp.rooms.join.items():
            for event in info.timeline.events:
                assert not isinstance(event, (BadEvent, UnknownBadEvent)), (
                    f"{self.localpart}: malformed timeline event in {room_id}: {event.source}"
                )
                self.timeline[room_id].append(event)
            self.ephemeral[room_id].extend(info.ephemeral)
        for room_id, info in resp.rooms.invite.items():
            self.invited.add(room_id)
            self.invite_state[room_id] = list(info.invite_state)
        for room_id, info in resp.rooms.leave.items():
            self.left.add(room_id)
            self.left_timeline[room_id].extend(info.timeline.events)

    async def sync_until(
        self,
        predicate: Callable[[], bool],
        what: str,
        sync_filter: str | dict | None = None,
        timeout_s: float = WAIT_S,
    ) -> None:
        """Sync (long-polling) until predicate() holds; fail after timeout_s."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not predicate():
            if loop.time() > deadline:
                pytest.fail(
                    f"{self.localpart}: not seen via /sync within {timeout_s:.0f}s "
                    f"({self.syncs} syncs): {what}",
                    pytrace=False,
                )
            await self.sync_once(sync_filter=sync_filter)

    # -- views over what was received --------------------------------------
    def messages(self, room_id: str) -> list[Any]:
        return [e for e in self.timeline[room_id] if e.source.get("type") == "m.room.message"]

    def seen_event_ids(self) -> set[str]:
        ids = set()
        for events in list(self.timeline.values()) + list(self.left_timeline.values()):
            ids.update(getattr(e, "event_id", None) for e in events)
        return ids

    def memberships(self, room_id: str) -> list[tuple[str, str]]:
        return [
            (e.state_key, e.membership) for e in self.timeline[room_id] if isinstance(e, RoomMemberEvent)
        ]

    # -- actions -----------------------------------------------------------
    async def send_text(self, room_id: str, body: str) -> tuple[str, str]:
        txn_id = f"txn-{uuid.uuid4().hex}"
        resp = await self.client.room_send(
            room_id, "m.room.message", {"msgtype": "m.text", "body": body}, tx_id=txn_id
        )
        expect_ok(resp, RoomSendResponse, f"{self.localpart} send {body!r}")
        assert resp.event_id.startswith("$"), f"event id {resp.event_id!r} must start with '$'"
        return resp.event_id, txn_id


async def login_all(server, *names: str) -> list[User]:
    users = [User(server.base_url, n, server.passwords[n]) for n in names]
    for user in users:
        await user.login()
    return users


async def paginate(
    user: User,
    room_id: str,
    start: str | None,
    direction: MessageDirection,
    limit: int,
    max_pages: int = 200,
) -> tuple[list[Any], RoomMessagesResponse | RoomMessagesError]:
    """Follow `end` tokens until the server omits `end` (history exhausted).

    Returns all events (in response order) and the last response.  An error
    response stops the walk and is returned for the caller to judge.
    """
    events: list[Any] = []
    token = start
    for _ in range(max_pages):
        resp = await user.client.room_messages(room_id, start=token, limit=limit, direction=direction)
        if isinstance(resp, RoomMessagesError):
            return events, resp
        expect_ok(resp, RoomMessagesResponse, f"{user.localpart} /messages dir={direction.value} from={token!r}")
        assert len(resp.chunk) <= limit, f"/messages returned {len(resp.chunk)} events for limit={limit}"
        for event in resp.chunk:
            assert not isinstance(event, (BadEvent, UnknownBadEvent)), f"malformed event: {event.source}"
        events.extend(resp.chunk)
        if resp.end is None:
            return events, resp
        assert resp.end != token, f"/messages returned end == from ({token!r}): pagination makes no progress"
        token = resp.end
    pytest.fail(f"/messages not exhausted after {max_pages} pages of {limit}", pytrace=False)


# ---------------------------------------------------------------------------
# the scenario from the issue
# ---------------------------------------------------------------------------
def test_three_user_scenario(wardline):
    run(lambda: _three_user_scenario(wardline))


async def _three_user_scenario(server) -> None:
    alice, bob, carol = await login_all(server, "alice", "bob", "carol")
    everyone = (alice, bob, carol)
    try:
        # Initial syncs: nothing yet, but each user gets a sync token.
        for user in everyone:
            await user.sync_once()

        # --- room creation, invites, joins ---------------------------------
        resp = await alice.client.room_create(preset=RoomPreset.private_chat, name="Wardline scenario")
        expect_ok(resp, RoomCreateResponse, "alice createRoom")
        room_id = resp.room_id
        assert room_id.startswith("!"), f"room id {room_id!r} must start with '!'"
        await alice.sync_until(
            lambda: (alice.user_id, "join") in alice.memberships(room_id), "her own join in the new room"
        )
        mark = len(alice.timeline[room_id])

        for invitee in (bob, carol):
            resp = await alice.client.room_invite(room_id, invitee.user_id)
            expect_ok(resp, RoomInviteResponse, f"alice invites {invitee.localpart}")

        for invitee in (bob, carol):
            await invitee.sync_until(lambda u=invitee: room_id in u.invited, f"invite to {room_id}")
            assert any(
                isinstance(e, InviteMemberEvent) and e.state_key == invitee.user_id and e.membership == "invite"
                for e in invitee.invite_state[room_id]
            ), f"invite_state must contain the invite itself: {invitee.invite_state[room_id]}"
            resp = await invitee.client.join(room_id)
            expect_ok(resp, JoinResponse, f"{invitee.localpart} joins")
            assert resp.room_id == room_id

        await alice.sync_until(
            lambda: {(bob.user_id, "join"), (carol.user_id, "join")} <= set(alice.memberships(room_id)),
            "bob's and carol's joins",
        )
        for user in (bob, carol):
            await user.sync_until(lambda u=user: room_id in u.timeline, f"{room_id} in rooms.join")

        # The member events alice saw after creating the room, in order.
        after_create = [
            (e.state_key, e.membership) for e in alice.timeline[room_id][mark:] if isinstance(e, RoomMemberEvent)
        ]
        assert after_create == [
            (bob.user_id, "invite"),
            (carol.user_id, "invite"),
            (bob.user_id, "join"),
            (carol.user_id, "join"),
        ], f"alice's timeline memberships after creation: {after_create}"

        # --- message exchange: each message exactly once, in order ---------
        base = {u.localpart: len(u.messages(room_id)) for u in everyone}
        assert base == {"alice": 0, "bob": 0, "carol": 0}, f"unexpected messages before exchange: {base}"
        sent: list[tuple[User, str, str, str]] = []  # (sender, body, event_id, txn_id)

        # Lock-step: every user sees each message before the next is sent.
        for sender, body in [
            (alice, "a1: hello bob and carol"),
            (bob, "b1: hi alice"),
            (carol, "c1: hi both"),
            (alice, "a2: 👋 unicode ok? ünïcödé"),
            (carol, "c2: yes"),
            (bob, "b2: great"),
        ]:
            event_id, txn_id = await sender.send_text(room_id, body)
            sent.append((sender, body, event_id, txn_id))
            for user in everyone:
                await user.sync_until(
                    lambda u=user, eid=event_id: eid in {e.event_id for e in u.messages(room_id)},
                    f"message {body!r}",
                )

        # Burst: several messages land between two syncs.
        for sender, body in [
            (alice, "a3: burst one"),
            (bob, "b3: burst two"),
            (carol, "c3: burst three"),
            (alice, "a4: burst four"),
        ]:
            event_id, txn_id = await sender.send_text(room_id, body)
            sent.append((sender, body, event_id, txn_id))
        last_id = sent[-1][2]
        for user in everyone:
            await user.sync_until(
                lambda u=user: last_id in {e.event_id for e in u.messages(room_id)}, "the burst"
            )

        expected_ids = [s[2] for s in sent]
        assert len(set(expected_ids)) == len(expected_ids), "server returned duplicate event ids for sends"
        for user in everyone:
            got = user.messages(room_id)
            assert [e.event_id for e in got] == expected_ids, (
                f"{user.localpart} received messages {[getattr(e, 'body', e) for e in got]} "
                f"but expected exactly once each, in order: {[s[1] for s in sent]}"
            )
            for event, (sender, body, event_id, txn_id) in zip(got, sent):
                assert isinstance(event, RoomMessageText), f"not parsed as m.text: {event.source}"
                assert event.body == body and event.sender == sender.user_id, event.source
                assert isinstance(event.server_timestamp, int) and event.server_timestamp > 0
                txn_seen = event.source.get("unsigned", {}).get("transaction_id")
                if sender is user:
                    assert txn_seen == txn_id, (
                        f"{user.localpart}: own event must carry unsigned.transaction_id={txn_id!r}, "
                        f"got {event.source}"
                    )
                else:
                    assert txn_seen is None, f"{user.localpart}: foreign event leaks transaction_id: {event.source}"

        # --- read receipt: alice sees bob's m.read on her message ----------
        alice_last = sent[-1][2]  # "a4: burst four", sent by alice
        resp = await bob.client.update_receipt_marker(room_id, alice_last)
        expect_ok(resp, UpdateReceiptMarkerResponse, "bob sends m.read receipt")

        def bobs_receipt() -> list[Any]:
            return [
                r
                for e in alice.ephemeral[room_id]
                if isinstance(e, ReceiptEvent)
                for r in e.receipts
                if r.user_id == bob.user_id and r.event_id == alice_last and r.receipt_type == "m.read"
            ]

        await alice.sync_until(lambda: bool(bobs_receipt()), "bob's m.read receipt in ephemeral")
        receipt = bobs_receipt()[0]
        assert isinstance(receipt.timestamp, int) and receipt.timestamp > 0, receipt

        # --- typing ---------------------------------------------------------
        resp = await bob.client.room_typing(room_id, typing_state=True, timeout=30_000)
        expect_ok(resp, RoomTypingResponse, "bob starts typing")

        def typing_events(since: int = 0) -> list[TypingNoticeEvent]:
            return [e for e in alice.ephemeral[room_id][since:] if isinstance(e, TypingNoticeEvent)]

        await alice.sync_until(
            lambda: any(bob.user_id in e.users for e in typing_events()), "bob typing (m.typing)"
        )
        mark = len(alice.ephemeral[room_id])
        resp = await bob.client.room_typing(room_id, typing_state=False)
        expect_ok(resp, RoomTypingResponse, "bob stops typing")
        await alice.sync_until(
            lambda: any(bob.user_id not in e.users for e in typing_events(mark)),
            "bob no longer typing (m.typing without bob)",
        )

        # --- 200 messages, paginated back with /messages ---------------------
        pages = [f"page-{i:03d}" for i in range(200)]
        page_ids = []
        for body in pages:
            event_id, _ = await alice.send_text(room_id, body)
            page_ids.append(event_id)
        await bob.sync_until(lambda: page_ids[-1] in bob.seen_event_ids(), "page-199")

        events, last = await paginate(bob, room_id, bob.client.next_batch, MessageDirection.back, limit=30)
        expect_ok(last, RoomMessagesResponse, "bob /messages walk back from next_batch")
        all_ids = [e.event_id for e in events]
        dupes = {i for i in all_ids if all_ids.count(i) > 1}
        assert not dupes, f"/messages returned duplicate events: {dupes}"
        page_bodies = [e.body for e in events if isinstance(e, RoomMessageText) and e.body.startswith("page-")]
        assert page_bodies == pages[::-1], (
            f"expected page-199..page-000 in order, got {len(page_bodies)} pages: "
            f"{page_bodies[:5]} ... {page_bodies[-5:]}"
        )
        assert [e.event_id for e in events if e.event_id in set(page_ids)] == page_ids[::-1]
        other_msgs = [e.event_id for e in events if e.source.get("type") == "m.room.message" and e.event_id not in set(page_ids)]
        assert other_msgs == expected_ids[::-1], "the exchanged messages must also be in history, newest first"
        assert events[-1].source.get("type") == "m.room.create", (
            f"walking back to the start must end at m.room.create, ended at {events[-1].source}"
        )

        # --- stored filter: timeline limit 5 ----------------------------------
        resp = await alice.client.upload_filter(room={"timeline": {"limit": 5}})
        expect_ok(resp, UploadFilterResponse, "alice uploads filter")
        filter_id = resp.filter_id
        assert isinstance(filter_id, str) and filter_id, "filter_id must be a non-empty string"
        # Spec: servers tell filter ids from inline JSON filters by a leading '{'.
        assert not filter_id.startswith("{"), f"filter_id {filter_id!r} must not start with '{{'"

        fresh = User.same_session(alice)
        try:
            sync = await fresh.sync_once(sync_filter=filter_id)
            assert room_id in sync.rooms.join, "room missing from initial sync with stored filter"
            timeline = sync.rooms.join[room_id].timeline
            assert timeline.limited is True, "5 of 200+ events: timeline.limited must be true"
            assert [getattr(e, "body", None) for e in timeline.events] == pages[-5:], (
                f"stored filter limit=5: got {[e.source for e in timeline.events]}"
            )
            assert timeline.prev_batch, "a limited timeline must carry prev_batch"
            # prev_batch continues exactly where the timeline starts.
            resp = await fresh.client.room_messages(room_id, start=timeline.prev_batch, limit=3)
            expect_ok(resp, RoomMessagesResponse, "/messages from prev_batch")
            assert [getattr(e, "body", None) for e in resp.chunk] == ["page-194", "page-193", "page-192"], (
                [e.source for e in resp.chunk]
            )
        finally:
            await fresh.close()

        # --- inline filters --------------------------------------------------
        fresh = User.same_session(alice)
        try:
            sync = await fresh.sync_once(sync_filter={"room": {"timeline": {"limit": 2}}})
            timeline = sync.rooms.join[room_id].timeline
            assert timeline.limited is True
            assert [getattr(e, "body", None) for e in timeline.events] == pages[-2:], (
                [e.source for e in timeline.events]
            )
        finally:
            await fresh.close()

        # types / not_types / rooms.  (Only cases whose answer is unambiguous
        # in the spec: the newest events of the room are the 200 pages.)
        for sync_filter, check in [
            (
                {"room": {"timeline": {"limit": 4, "types": ["m.room.message"]}}},
                lambda tl: [getattr(e, "body", None) for e in tl.events] == pages[-4:],
            ),
            (
                {"room": {"timeline": {"limit": 10, "not_types": ["m.room.message"]}}},
                lambda tl: all(e.source.get("type") != "m.room.message" for e in tl.events),
            ),
        ]:
            fresh = User.same_session(alice)
            try:
                sync = await fresh.sync_once(sync_filter=sync_filter)
                assert room_id in sync.rooms.join, f"room missing from sync with filter {sync_filter}"
                timeline = sync.rooms.join[room_id].timeline
                assert check(timeline), f"filter {sync_filter} gave timeline {[e.source for e in timeline.events]}"
            finally:
                await fresh.close()

        fresh = User.same_session(alice)
        try:
            sync = await fresh.sync_once(sync_filter={"room": {"rooms": [f"!doesnotexist:{SERVER_NAME}"]}})
            assert room_id not in sync.rooms.join, "room filter must exclude rooms not listed in room.rooms"
        finally:
            await fresh.close()

        # --- carol leaves; later messages are invisible to her --------------
        before_leave_msg = sent[-1][2]  # a message carol legitimately saw
        carol_token_before_leave = carol.client.next_batch
        resp = await carol.client.room_leave(room_id)
        expect_ok(resp, RoomLeaveResponse, "carol leaves")
        await carol.sync_until(lambda: room_id in carol.left, f"{room_id} in carol's rooms.leave")
        assert any(
            isinstance(e, RoomMemberEvent) and e.state_key == carol.user_id and e.membership == "leave"
            for e in carol.left_timeline[room_id]
        ), f"carol's leave timeline must end with her leave: {[e.source for e in carol.left_timeline[room_id]]}"
        await alice.sync_until(lambda: (carol.user_id, "leave") in alice.memberships(room_id), "carol's leave")

        secret_body = "after-leave secret " + secrets.token_hex(8)
        secret_id, _ = await alice.send_text(room_id, secret_body)
        # Positive control: members do get it.
        await bob.sync_until(lambda: secret_id in bob.seen_event_ids(), "the after-leave message")
        await alice.sync_until(lambda: secret_id in alice.seen_event_ids(), "the after-leave message")

        # /sync: incremental sync after the message is stored must not carry it.
        for _ in range(2):
            sync = await carol.sync_once()
            assert room_id not in sync.rooms.join, "carol left: room must not be in rooms.join"
        assert secret_id not in carol.seen_event_ids(), "carol received the after-leave message via /sync"

        # /sync: fresh *initial* syncs (no since), with and without include_leave.
        fresh = User.same_session(carol)
        try:
            sync = await fresh.sync_once()
            assert room_id not in sync.rooms.join, "initial sync: left room must not be in rooms.join"
            assert secret_id not in fresh.seen_event_ids(), "initial sync leaked the after-leave message"
        finally:
            await fresh.close()
        fresh = User.same_session(carol)
        try:
            sync = await fresh.sync_once(sync_filter={"room": {"include_leave": True}})
            assert room_id not in sync.rooms.join, "initial sync: left room must not be in rooms.join"
            assert room_id in sync.rooms.leave, "initial sync with include_leave=true must list the left room"
            assert secret_id not in fresh.seen_event_ids(), "include_leave sync leaked the after-leave message"
        finally:
            await fresh.close()

        # /event: the after-leave event is not found for carol...
        resp = await carol.client.room_get_event(room_id, secret_id)
        # Spec: "404 The event was not found or you do not have permission to read this event."
        expect_error(resp, RoomGetEventError, "carol GET after-leave event", {404}, {"M_NOT_FOUND"})
        # ...while an event from before her leave still is (the endpoint works).
        resp = await carol.client.room_get_event(room_id, before_leave_msg)
        expect_ok(resp, RoomGetEventResponse, "carol GET pre-leave event")
        assert resp.event.event_id == before_leave_msg

        # /messages backwards from now: error, or history without the secret.
        events, last = await paginate(carol, room_id, carol.client.next_batch, MessageDirection.back, limit=50)
        if isinstance(last, RoomMessagesError):
            expect_error(last, RoomMessagesError, "carol /messages after leaving", {403}, {"M_FORBIDDEN"})
        leaked = [e.source for e in events if e.event_id == secret_id or getattr(e, "body", None) == secret_body]
        assert not leaked, f"carol paginated back to the after-leave message: {leaked}"

        # /messages forwards from her last pre-leave token: same rule.
        events, last = await paginate(carol, room_id, carol_token_before_leave, MessageDirection.front, limit=50)
        if isinstance(last, RoomMessagesError):
            expect_error(last, RoomMessagesError, "carol /messages forward after leaving", {403}, {"M_FORBIDDEN"})
        leaked = [e.source for e in events if e.event_id == secret_id or getattr(e, "body", None) == secret_body]
        assert not leaked, (
            f"carol paginated forward to the after-leave message: {leaked}; "
            f"last events she got: {[brief(e) for e in events][-4:]}"
        )
    finally:
        for user in everyone:
            await user.close()


# ---------------------------------------------------------------------------
# refusals
# ---------------------------------------------------------------------------
def test_registration_is_refused(wardline):
    run(lambda: _registration_is_refused(wardline))


async def _registration_is_refused(server) -> None:
    password = "pw-" + secrets.token_urlsafe(12)
    eve = User(server.base_url, "eve", password)
    try:
        resp = await eve.client.register("eve", password, device_name="nio-eve")
        assert not isinstance(resp, RegisterResponse), f"registration must be disabled, got {describe(resp)}"
        expect_error(resp, RegisterErrorResponse, "POST /register", {403}, {"M_FORBIDDEN"})
        # And no account was created as a side effect.
        resp = await eve.client.login(password)
        expect_error(resp, LoginError, "login as never-registered eve", {403}, {"M_FORBIDDEN"})
    finally:
        await eve.close()


def test_invite_to_other_server_is_refused(wardline):
    run(lambda: _invite_to_other_server_is_refused(wardline))


async def _invite_to_other_server_is_refused(server) -> None:
    (dave,) = await login_all(server, "dave")
    try:
        resp = await dave.client.room_create(preset=RoomPreset.private_chat, name="no federation")
        expect_ok(resp, RoomCreateResponse, "dave createRoom")
        room_id = resp.room_id

        mallory = "@mallory:example.org"
        resp = await dave.client.room_invite(room_id, mallory)
        assert not isinstance(resp, RoomInviteResponse), f"invite to {mallory} must be refused, got {describe(resp)}"
        expect_error(resp, RoomInviteError, f"invite {mallory}", range(400, 600))

        # The refused invite left no trace in the room state...
        resp = await dave.client.room_get_state_event(room_id, "m.room.member", mallory)
        expect_error(resp, RoomGetStateEventError, "GET m.room.member/@mallory state", {404}, {"M_NOT_FOUND"})
        # ...which the state endpoint does report for real members.
        resp = await dave.client.room_get_state_event(room_id, "m.room.member", dave.user_id)
        expect_ok(resp, RoomGetStateEventResponse, "GET m.room.member/@dave state")
        assert resp.content.get("membership") == "join", resp.content

        # Nor in dave's timeline.
        await dave.sync_once()
        assert all(key != mallory for key, _ in dave.memberships(room_id)), dave.memberships(room_id)
    finally:
        await dave.close()
