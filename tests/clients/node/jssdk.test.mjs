// Real-client test of the Wardline homeserver driven by matrix-js-sdk
// (the SDK behind Element Web), run with `node --test`.
//
// It starts the real `wardline` binary exactly as an operator would:
//   wardline serve --data-dir DIR --listen 127.0.0.1:0 --server-name localhost
// (WARDLINE_RATE_LIMITS__ENABLED=false), parses the port from the
// "wardline listening on http://127.0.0.1:PORT" stdout line, and creates users
// with `wardline user add NAME --data-dir DIR` (password on stdin).
//
// Binary: $WARDLINE_BIN, else ${CARGO_TARGET_DIR:-<repo>/target}/debug/wardline
// (built with `cargo build -p wardline` if missing).
//
// Run with:  node --test --test-force-exit --test-concurrency=1   (= `npm test`)
// --test-force-exit matters: matrix-js-sdk 37 never clears the local-timeout
// timer of an aborted /sync request (pollTimeout + 80 s), which would keep the
// process alive for ~110 s after stopClient().
//
// Assertions are strict on purpose: if the server is wrong, this must fail.
// Waits are bounded condition loops, never a fixed sleep used as an assertion.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { format } from "node:util";

import * as sdk from "matrix-js-sdk";
import { logger as sdkRootLogger } from "matrix-js-sdk/lib/logger.js";

import { SERVER_NAME, WardlineServer } from "../wardline-server.mjs";

const WAIT_MS = 30_000;

// matrix-js-sdk logs through console.*.  By default its output is buffered and
// shown only when a test fails (attached to the error); set
// WARDLINE_SDK_LOG=debug|info|warn|error to print it live at that level.
const SDK_LOG_LEVEL = process.env.WARDLINE_SDK_LOG ?? "info";
const sdkLog = [];
if (!process.env.WARDLINE_SDK_LOG) {
    for (const method of ["trace", "debug", "info", "log", "warn", "error"]) {
        console[method] = (...args) => {
            sdkLog.push(`[${method}] ${format(...args)}`.slice(0, 2000));
            if (sdkLog.length > 5000) sdkLog.shift();
        };
    }
}
sdkRootLogger.setLevel(SDK_LOG_LEVEL);

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Poll a condition on local SDK state until it is truthy (bounded). */
async function waitFor(cond, what, ms = WAIT_MS) {
    const deadline = Date.now() + ms;
    for (;;) {
        const value = cond();
        if (value) return value;
        if (Date.now() > deadline) throw new Error(`timed out after ${ms}ms waiting for ${what}`);
        await sleep(25);
    }
}

function userId(localpart) {
    return `@${localpart}:${SERVER_NAME}`;
}

function clientLogger(name) {
    const child = sdkRootLogger.getChild(`[${name}]`);
    child.setLevel(SDK_LOG_LEVEL);
    return child;
}

/** Log in the way the SDK recommends: loginRequest, then a fresh client. */
async function loginClient(server, localpart) {
    const anon = sdk.createClient({ baseUrl: server.baseUrl, logger: clientLogger(`${localpart}-login`) });
    const res = await anon.loginRequest({
        type: "m.login.password",
        identifier: { type: "m.id.user", user: localpart },
        password: server.passwords.get(localpart),
        initial_device_display_name: `js-sdk ${localpart}`,
    });
    assert.equal(res.user_id, userId(localpart), "login: user_id");
    assert.equal(typeof res.access_token, "string");
    assert.ok(res.access_token.length > 0, "login: access_token");
    assert.equal(typeof res.device_id, "string");
    assert.ok(res.device_id.length > 0, "login: device_id");
    const client = sdk.createClient({
        baseUrl: server.baseUrl,
        userId: res.user_id,
        accessToken: res.access_token,
        deviceId: res.device_id,
        logger: clientLogger(localpart),
    });
    // Remember sync problems so a timeout can say why.
    client.syncErrors = [];
    client.on(sdk.ClientEvent.Sync, (state, _prev, data) => {
        if (state === sdk.SyncState.Error) client.syncErrors.push(String(data?.error ?? "unknown sync error"));
    });
    return client;
}

async function startAndWaitPrepared(client, ms = WAIT_MS) {
    const prepared = new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
            client.off(sdk.ClientEvent.Sync, onSync);
            reject(
                new Error(
                    `${client.getUserId()}: no PREPARED sync state within ${ms}ms ` +
                        `(state ${client.getSyncState()}; errors: ${client.syncErrors.slice(-3).join(" | ") || "none"})`,
                ),
            );
        }, ms);
        const onSync = (state) => {
            if (state === sdk.SyncState.Prepared) {
                clearTimeout(timer);
                client.off(sdk.ClientEvent.Sync, onSync);
                resolve();
            }
        };
        client.on(sdk.ClientEvent.Sync, onSync);
    });
    await client.startClient({ initialSyncLimit: 10 });
    await prepared;
}

/** Resolve with the first live Room.timeline event matching pred. */
function nextLiveTimelineEvent(client, roomId, pred, what, ms = WAIT_MS) {
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
            client.off(sdk.RoomEvent.Timeline, onTimeline);
            reject(
                new Error(
                    `${client.getUserId()}: no live Room.timeline event within ${ms}ms: ${what} ` +
                        `(sync state ${client.getSyncState()}; errors: ${client.syncErrors.slice(-3).join(" | ") || "none"})`,
                ),
            );
        }, ms);
        const onTimeline = (event, room, toStartOfTimeline, _removed, data) => {
            if (room?.roomId !== roomId || toStartOfTimeline || !data?.liveEvent) return;
            if (!pred(event)) return;
            clearTimeout(timer);
            client.off(sdk.RoomEvent.Timeline, onTimeline);
            resolve(event);
        };
        client.on(sdk.RoomEvent.Timeline, onTimeline);
    });
}

/** Attach the server log and the SDK's log to a failure. */
async function withServerLog(server, fn) {
    try {
        await fn();
    } catch (err) {
        if (err instanceof Error) {
            const sdkLines = sdkLog.slice(-60);
            err.message += `\n${server.logTail()}\n---- matrix-js-sdk log (last ${sdkLines.length} lines) ----\n${sdkLines.join("\n")}`;
        }
        throw err;
    }
}

// ---------------------------------------------------------------------------
// tests
// ---------------------------------------------------------------------------
let server;

before(async () => {
    server = new WardlineServer();
    await server.start();
    server.addUser("alice", "Alice");
    server.addUser("bob", "Bob");
    server.addUser("carol", "Carol");
});

after(async () => {
    await server?.stop();
});

test("matrix-js-sdk: two clients sync, create/invite/join a room, and exchange live messages", async () => {
    await withServerLog(server, async () => {
        const alice = await loginClient(server, "alice");
        const bob = await loginClient(server, "bob");
        try {
            await startAndWaitPrepared(alice);
            await startAndWaitPrepared(bob);

            const { room_id: roomId } = await alice.createRoom({
                preset: sdk.Preset.PrivateChat,
                name: "js-sdk room",
            });
            assert.match(roomId, /^!.+/, "createRoom: room_id");
            await waitFor(
                () => alice.getRoom(roomId)?.getMyMembership() === sdk.KnownMembership.Join,
                "alice's own join to reach her client via /sync",
            );

            await alice.invite(roomId, userId("bob"));
            await waitFor(
                () => bob.getRoom(roomId)?.getMyMembership() === sdk.KnownMembership.Invite,
                "bob's invite to reach his client via /sync",
            );

            const joined = await bob.joinRoom(roomId);
            assert.equal(joined.roomId, roomId, "joinRoom: room id");
            await waitFor(
                () => bob.getRoom(roomId)?.getMyMembership() === sdk.KnownMembership.Join,
                "bob's join to reach his client via /sync",
            );
            await waitFor(
                () => alice.getRoom(roomId)?.getMember(userId("bob"))?.membership === sdk.KnownMembership.Join,
                "bob's join to reach alice via /sync",
            );

            // alice -> bob, received live.
            const body1 = `hello bob ${randomBytes(4).toString("hex")}`;
            const bobGets = nextLiveTimelineEvent(
                bob,
                roomId,
                (ev) => ev.getType() === "m.room.message" && ev.getContent().body === body1,
                `alice's message ${JSON.stringify(body1)}`,
            );
            const { event_id: eventId1 } = await alice.sendMessage(roomId, { msgtype: "m.text", body: body1 });
            assert.match(eventId1, /^\$.+/, "send: event_id");
            const ev1 = await bobGets;
            assert.equal(ev1.getId(), eventId1, "bob's live event id");
            assert.equal(ev1.getSender(), userId("alice"));
            assert.deepEqual(ev1.getContent(), { msgtype: "m.text", body: body1 });
            assert.equal(typeof ev1.getTs(), "number");
            assert.ok(ev1.getTs() > 0, "origin_server_ts");

            // bob -> alice, received live.
            const body2 = `hi alice ${randomBytes(4).toString("hex")}`;
            const aliceGets = nextLiveTimelineEvent(
                alice,
                roomId,
                (ev) => ev.getType() === "m.room.message" && ev.getContent().body === body2,
                `bob's message ${JSON.stringify(body2)}`,
            );
            const { event_id: eventId2 } = await bob.sendMessage(roomId, { msgtype: "m.text", body: body2 });
            const ev2 = await aliceGets;
            assert.equal(ev2.getId(), eventId2);
            assert.equal(ev2.getSender(), userId("bob"));

            // alice's own message: the local echo is replaced by the remote echo
            // (matched via unsigned.transaction_id), leaving exactly one copy.
            const aliceRoom = alice.getRoom(roomId);
            await waitFor(() => {
                const ev = aliceRoom.findEventById(eventId1);
                return ev && ev.status === null;
            }, "the remote echo of alice's own message (status null)");
            const copies = aliceRoom
                .getLiveTimeline()
                .getEvents()
                .filter((ev) => ev.getType() === "m.room.message" && ev.getContent().body === body1);
            assert.equal(copies.length, 1, "alice's live timeline must hold her message exactly once");
            assert.equal(copies[0].getId(), eventId1);

            // Both messages are in both live timelines, in send order.
            for (const client of [alice, bob]) {
                const ids = client
                    .getRoom(roomId)
                    .getLiveTimeline()
                    .getEvents()
                    .filter((ev) => ev.getType() === "m.room.message")
                    .map((ev) => ev.getId());
                assert.deepEqual(
                    ids.filter((id) => id === eventId1 || id === eventId2),
                    [eventId1, eventId2],
                    `${client.getUserId()}: both messages once each, in order`,
                );
            }
        } finally {
            alice.stopClient();
            bob.stopClient();
        }
    });
});

test("matrix-js-sdk: loginWithPassword (legacy `user` field), whoami, and a wrong password", async () => {
    await withServerLog(server, async () => {
        const client = sdk.createClient({ baseUrl: server.baseUrl, logger: clientLogger("carol") });
        const res = await client.loginWithPassword("carol", server.passwords.get("carol"));
        assert.equal(res.user_id, userId("carol"));
        assert.ok(res.access_token, "access_token");
        assert.ok(res.device_id, "device_id");
        const who = await client.whoami();
        assert.equal(who.user_id, userId("carol"), "whoami user_id");
        assert.equal(who.device_id, res.device_id, "whoami device_id");

        const other = sdk.createClient({ baseUrl: server.baseUrl, logger: clientLogger("carol-bad") });
        await assert.rejects(
            other.loginWithPassword("carol", "definitely-not-the-password"),
            (err) => {
                assert.ok(err instanceof sdk.MatrixError, `expected MatrixError, got ${err}`);
                assert.equal(err.httpStatus, 403, "wrong password: HTTP status");
                assert.equal(err.errcode, "M_FORBIDDEN", "wrong password: errcode");
                return true;
            },
        );
    });
});
