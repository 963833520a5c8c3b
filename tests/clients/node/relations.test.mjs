// Replies, reactions, edits and deletions through matrix-js-sdk, run with `node --test`.
//
// Alice and Bob send through the SDK (sendMessage, sendEvent, redactEvent) and read back the
// way the spec says: client.relations() (the SDK's /relations, which also fetches the parent),
// fetchRoomEvent (/event, with its bundled aggregation), and a limited initial /sync, whose
// timeline carries the bundled m.replace that the SDK's MatrixEvent exposes.
//
// Assertions are strict on purpose: if the server is wrong, this must fail.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";

import * as sdk from "matrix-js-sdk";
import { logger as sdkRootLogger } from "matrix-js-sdk/lib/logger.js";

import { SERVER_NAME, WardlineServer } from "../wardline-server.mjs";

const WAIT_MS = 30_000;
sdkRootLogger.setLevel(process.env.WARDLINE_SDK_LOG ?? "silent");

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const userId = (localpart) => `@${localpart}:${SERVER_NAME}`;

async function waitFor(cond, what, ms = WAIT_MS) {
    const deadline = Date.now() + ms;
    for (;;) {
        const value = cond();
        if (value) return value;
        if (Date.now() > deadline) throw new Error(`timed out after ${ms}ms waiting for ${what}`);
        await sleep(25);
    }
}

async function loginClient(server, localpart) {
    const anon = sdk.createClient({ baseUrl: server.baseUrl });
    const res = await anon.loginRequest({
        type: "m.login.password",
        identifier: { type: "m.id.user", user: localpart },
        password: server.passwords.get(localpart),
    });
    return sdk.createClient({
        baseUrl: server.baseUrl,
        userId: res.user_id,
        accessToken: res.access_token,
        deviceId: res.device_id,
    });
}

async function startAndWaitPrepared(client, initialSyncLimit) {
    const prepared = new Promise((resolve) => {
        const onSync = (state) => {
            if (state === sdk.SyncState.Prepared) {
                client.off(sdk.ClientEvent.Sync, onSync);
                resolve();
            }
        };
        client.on(sdk.ClientEvent.Sync, onSync);
    });
    await client.startClient({ initialSyncLimit });
    await Promise.race([prepared, sleep(WAIT_MS).then(() => Promise.reject(new Error("no PREPARED sync state")))]);
}

let server;

before(async () => {
    server = new WardlineServer();
    await server.start();
    server.addUser("alice", "Alice");
    server.addUser("bob", "Bob");
});

after(async () => {
    await server?.stop();
});

test("matrix-js-sdk: a reply, a reaction, an edit and deletions, read back through /relations, /event and /sync", async () => {
    const alice = await loginClient(server, "alice");
    const bob = await loginClient(server, "bob");
    let bobLater;
    try {
        const { room_id: roomId } = await alice.createRoom({
            preset: sdk.Preset.PrivateChat,
            name: "Ward 7 handover",
            invite: [userId("bob")],
        });
        await bob.joinRoom(roomId);

        const { event_id: original } = await alice.sendMessage(roomId, { msgtype: "m.text", body: "Bed 4: NEWS2 score 5" });

        // A reply (no rel_type: not a /relations child, but its target must be in the room).
        const { event_id: reply } = await bob.sendMessage(roomId, {
            msgtype: "m.text",
            body: "On my way",
            "m.relates_to": { "m.in_reply_to": { event_id: original } },
        });

        // A reaction; the same reaction again is refused with the spec's error code.
        const thumbs = { "m.relates_to": { rel_type: "m.annotation", event_id: original, key: "👍" } };
        const { event_id: reaction } = await bob.sendEvent(roomId, "m.reaction", thumbs);
        await assert.rejects(bob.sendEvent(roomId, "m.reaction", thumbs), (err) => {
            assert.equal(err.errcode, "M_DUPLICATE_ANNOTATION", String(err));
            assert.equal(err.httpStatus, 400);
            return true;
        });

        // An edit by the sender; Bob may not edit Alice's message.
        const editContent = {
            msgtype: "m.text",
            body: "* Bed 4: NEWS2 score 6",
            "m.new_content": { msgtype: "m.text", body: "Bed 4: NEWS2 score 6" },
            "m.relates_to": { rel_type: "m.replace", event_id: original },
        };
        const { event_id: edit } = await alice.sendMessage(roomId, editContent);
        await assert.rejects(bob.sendMessage(roomId, editContent), (err) => {
            assert.equal(err.errcode, "M_INVALID_PARAM", String(err));
            return true;
        });

        // client.relations(): the children, newest first, and the parent with its bundle.
        const all = await bob.relations(roomId, original, null);
        assert.deepEqual(
            all.events.map((e) => e.getId()),
            [edit, reaction],
            "the edit and the reaction (a reply has no rel_type)",
        );
        assert.equal(all.originalEvent.getOriginalContent().body, "Bed 4: NEWS2 score 5", "the server leaves the original as sent");
        assert.equal(all.originalEvent.replacingEventId(), edit, "the bundled m.replace");
        assert.equal(all.originalEvent.getContent().body, "Bed 4: NEWS2 score 6", "the SDK applies the bundled edit");
        const reactions = await bob.relations(roomId, original, "m.annotation", "m.reaction");
        assert.deepEqual(
            reactions.events.map((e) => e.getRelation()?.key),
            ["👍"],
        );
        const edits = await bob.relations(roomId, original, "m.replace");
        assert.deepEqual(edits.events.map((e) => e.getId()), [edit]);

        // /event: the whole latest edit is bundled, reactions are not.
        const raw = await bob.fetchRoomEvent(roomId, original);
        assert.equal(raw.unsigned["m.relations"]["m.replace"].event_id, edit);
        assert.equal(raw.unsigned["m.relations"]["m.replace"].content["m.new_content"].body, "Bed 4: NEWS2 score 6");
        assert.equal(raw.unsigned["m.relations"]["m.annotation"], undefined);
        const replyRaw = await bob.fetchRoomEvent(roomId, reply);
        assert.equal(replyRaw.content["m.relates_to"]["m.in_reply_to"].event_id, original);

        // A limited initial sync bundles the edit; the SDK sees it on the event and shows the
        // edited text.
        bobLater = await loginClient(server, "bob");
        await startAndWaitPrepared(bobLater, 4);
        const room = await waitFor(() => bobLater.getRoom(roomId), "the room in Bob's sync");
        const synced = await waitFor(() => room.findEventById(original), "the original in the limited timeline");
        assert.equal(synced.getUnsigned()["m.relations"]?.["m.replace"]?.event_id, edit, "bundled on /sync");
        assert.equal(synced.replacingEventId(), edit);
        await waitFor(() => synced.getContent().body === "Bed 4: NEWS2 score 6", "the SDK applying the edit");

        // Threads: a message in a thread makes its root a thread, which the SDK's thread list
        // request (GET /threads, with its dir and filter parameters) finds, with its summary;
        // "participated" lists it for Bob, who wrote in it, and not for a thread he did not.
        const { event_id: other } = await alice.sendMessage(roomId, { msgtype: "m.text", body: "Bed 5: fluids?" });
        await alice.sendMessage(roomId, {
            msgtype: "m.text",
            body: "Bed 5: 1 L given",
            "m.relates_to": { rel_type: "m.thread", event_id: other },
        });
        const { event_id: threadRoot } = await alice.sendMessage(roomId, { msgtype: "m.text", body: "Bed 6: bloods" });
        await bob.sendMessage(roomId, {
            msgtype: "m.text",
            body: "Taken",
            "m.relates_to": { rel_type: "m.thread", event_id: threadRoot },
        });
        const listed = await bob.createThreadListMessagesRequest(roomId, null, 30, "b", sdk.ThreadFilterType.All);
        // The server answers most recently active first; the SDK reverses the chunk.
        assert.deepEqual(listed.chunk.map((e) => e.event_id), [other, threadRoot], "most recently active last, as the SDK reverses");
        const summary = listed.chunk[1].unsigned["m.relations"]["m.thread"];
        assert.equal(summary.count, 1);
        assert.equal(summary.latest_event.content.body, "Taken");
        assert.equal(summary.current_user_participated, true);
        const mine = await bob.createThreadListMessagesRequest(roomId, null, 30, "b", sdk.ThreadFilterType.My);
        assert.deepEqual(mine.chunk.map((e) => e.event_id), [threadRoot], "participated");
        const paged = await bob.createThreadListMessagesRequest(roomId, null, 1, "b", sdk.ThreadFilterType.All);
        assert.deepEqual(paged.chunk.map((e) => e.event_id), [threadRoot]);
        const rest = await bob.createThreadListMessagesRequest(roomId, paged.end, 1, "b", sdk.ThreadFilterType.All);
        assert.deepEqual(rest.chunk.map((e) => e.event_id), [other], "the next page from the SDK's end token");

        // Deleting the reaction takes it out of /relations; deleting the original drops its edit
        // from the bundle and empties its content.
        await bob.redactEvent(roomId, reaction);
        const afterUndo = await bob.relations(roomId, original, "m.annotation");
        assert.deepEqual(afterUndo.events, []);
        await alice.redactEvent(roomId, original);
        const gone = await bob.fetchRoomEvent(roomId, original);
        assert.deepEqual(gone.content, {});
        assert.equal(gone.unsigned["m.relations"]?.["m.replace"], undefined);
    } finally {
        bobLater?.stopClient();
        alice.stopClient();
        bob.stopClient();
    }
});
