// Message search from matrix-js-sdk: `searchRoomEvents` (what Element Web calls: recent
// order, one event of context each side, profiles) and `backPaginateRoomEventsSearch` for
// the next pages. Run with `npm test` (see jssdk.test.mjs for how the server is started).
//
// Assertions are strict on purpose: if the server is wrong, this must fail.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";

import * as sdk from "matrix-js-sdk";
import { logger as sdkRootLogger } from "matrix-js-sdk/lib/logger.js";

import { SERVER_NAME, WardlineServer } from "../wardline-server.mjs";

sdkRootLogger.setLevel(process.env.WARDLINE_SDK_LOG ?? "warn");

const userId = (localpart) => `@${localpart}:${SERVER_NAME}`;

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

test("matrix-js-sdk: searchRoomEvents finds what the searcher may read, page by page, with context", async () => {
    try {
        const alice = await loginClient(server, "alice");
        const bob = await loginClient(server, "bob");
        const carol = await loginClient(server, "carol");
        const joinedOnly = [
            { type: "m.room.history_visibility", state_key: "", content: { history_visibility: "joined" } },
        ];
        const { room_id: ward } = await alice.createRoom({ name: "Ward 7 js search", initial_state: joinedOnly });
        await alice.sendMessage(ward, { msgtype: "m.text", body: "troponin 80 before Bob joined" });
        await alice.invite(ward, userId("bob"));
        await bob.joinRoom(ward);
        const sent = [];
        for (let i = 0; i < 12; i++) {
            const { event_id } = await alice.sendMessage(ward, { msgtype: "m.text", body: `Troponin ${20 + i}, bed ${i}` });
            sent.push(event_id);
            await bob.sendMessage(ward, { msgtype: "m.text", body: `noted ${i}` });
        }
        const { room_id: elsewhere } = await carol.createRoom({ name: "Ward 9 js search" });
        await carol.sendMessage(elsewhere, { msgtype: "m.text", body: "troponin 999 on another ward" });

        const results = await bob.searchRoomEvents({ term: "tropon" });
        assert.equal(results.count, 12, "only what Bob may read is counted");
        assert.ok(results.highlights.includes("Troponin"), `highlights: ${results.highlights}`);
        while (results.next_batch) {
            await bob.backPaginateRoomEventsSearch(results);
        }
        const ids = results.results.map((r) => r.context.getEvent().getId());
        assert.deepEqual(ids, [...sent].reverse(), "every hit once, newest first");
        const newest = results.results[0].context;
        assert.equal(newest.getEvent().getContent().body, "Troponin 31, bed 11");
        const around = newest.getTimeline().map((e) => e.getContent().body);
        assert.deepEqual(around, ["noted 10", "Troponin 31, bed 11", "noted 11"], "one event of context each side");
        for (const r of results.results) {
            assert.ok(!r.context.getEvent().getContent().body.includes("before Bob joined"));
            assert.ok(!r.context.getEvent().getContent().body.includes("another ward"));
            assert.ok(r.rank > 0, "a rank");
        }

        // A room filter, as Element's "this room" search sends it.
        const inRoom = await bob.searchRoomEvents({ term: "noted", filter: { rooms: [ward] } });
        assert.equal(inRoom.count, 12);
        const none = await bob.searchRoomEvents({ term: "troponin", filter: { rooms: [elsewhere] } });
        assert.equal(none.count, 0, "another ward's room is never searched");
        assert.equal(none.results.length, 0);

        // Query syntax is just words; an empty term is refused.
        for (const term of ['"', "NEAR(", "OR", "tropon*", "body:troponin"]) {
            const r = await bob.searchRoomEvents({ term });
            assert.ok(Number.isInteger(r.count), term);
        }
        await assert.rejects(bob.searchRoomEvents({ term: " " }), (err) => {
            assert.equal(err.httpStatus, 400);
            assert.equal(err.errcode, "M_INVALID_PARAM");
            return true;
        });
    } catch (err) {
        if (err instanceof Error) err.message += `\n${server.logTail()}`;
        throw err;
    }
});
