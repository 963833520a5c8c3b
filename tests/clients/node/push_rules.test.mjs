// Push rules from matrix-js-sdk: the SDK's own push-rule API (getPushRules, addPushRule,
// setPushRuleEnabled, setPushRuleActions, deletePushRule) against Wardline, the rules the SDK
// receives in sync's `m.push_rules`, and the counts: the SDK's
// `room.getUnreadNotificationCount('highlight')` after a mention, and the SDK's own evaluation
// of the server's rules (`getPushActionsForEvent`) agreeing with the server's counts.
// Run with `npm test` (see jssdk.test.mjs for how the server is started).
//
// Assertions are strict on purpose: if the server is wrong, this must fail. Waits are bounded
// condition loops on the SDK's state.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";

import * as sdk from "matrix-js-sdk";
import { logger as sdkRootLogger } from "matrix-js-sdk/lib/logger.js";

import { SERVER_NAME, WardlineServer } from "../wardline-server.mjs";

sdkRootLogger.setLevel(process.env.WARDLINE_SDK_LOG ?? "warn");

const WAIT_MS = 30_000;
const userId = (localpart) => `@${localpart}:${SERVER_NAME}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

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

async function started(client) {
    const ready = new Promise((resolve) => {
        client.on(sdk.ClientEvent.Sync, (state) => {
            if (state === "PREPARED") resolve();
        });
    });
    await client.startClient({ initialSyncLimit: 20 });
    await ready;
    return client;
}

const overrideIds = (rules) => rules.global.override.map((r) => r.rule_id);

let server;
const clients = [];

before(async () => {
    server = new WardlineServer();
    await server.start();
    server.addUser("alice", "Alice");
    server.addUser("bob", "Bob");
    server.addUser("carol", "Carol");
});

after(async () => {
    for (const c of clients) c.stopClient();
    await server?.stop();
});

test("matrix-js-sdk: push rule API, rules in sync, highlight counts agree with the SDK", async () => {
    try {
        const alice = await loginClient(server, "alice");
        const bob = await started(await loginClient(server, "bob"));
        clients.push(bob);
        const { room_id: ward } = await alice.createRoom({ name: "Ward 7 js push" });
        await alice.invite(ward, userId("bob"));
        await alice.invite(ward, userId("carol"));
        await bob.joinRoom(ward);
        const carol = await loginClient(server, "carol");
        await carol.joinRoom(ward);

        // The rules: Wardline's protected rules first, then the spec's defaults.
        const rules = await bob.getPushRules();
        assert.deepEqual(overrideIds(rules).slice(0, 5), [
            ".org.wardline.rule.emergency",
            ".org.wardline.rule.urgent",
            ".org.wardline.rule.escalation",
            ".org.wardline.rule.escalation_room",
            ".m.rule.master",
        ]);
        assert.ok(rules.global.underride.some((r) => r.rule_id === ".m.rule.message"));
        // The first sync gave the SDK the same rules.
        await waitFor(() => bob.pushRules?.global?.override?.[0]?.rule_id === ".org.wardline.rule.emergency", "rules in sync");

        // A mention highlights: the server's count, and the SDK's own evaluation, agree.
        const room = await waitFor(() => bob.getRoom(ward), "Bob's room");
        const { event_id: mentionId } = await alice.sendMessage(ward, {
            msgtype: "m.text",
            body: "Bob: can you review bed 4?",
            "m.mentions": { user_ids: [userId("bob")] },
        });
        await alice.sendMessage(ward, { msgtype: "m.text", body: "obs stable" });
        await waitFor(() => room.getUnreadNotificationCount("highlight") === 1 && room.getUnreadNotificationCount("total") === 2, "counts 2/1");
        const mention = await waitFor(() => room.findEventById(mentionId), "the mention in Bob's timeline");
        assert.equal(bob.getPushActionsForEvent(mention, true)?.tweaks?.highlight, true, "the SDK agrees it highlights");

        // addPushRule / setPushRuleActions / setPushRuleEnabled / deletePushRule.
        await bob.addPushRule("global", sdk.PushRuleKind.ContentSpecific, "potassium", {
            pattern: "potassium",
            actions: ["notify", { set_tweak: "highlight" }],
        });
        let mine = (await bob.getPushRules()).global.content.find((r) => r.rule_id === "potassium");
        assert.equal(mine?.pattern, "potassium");
        assert.equal(mine?.enabled, true);
        await bob.setPushRuleActions("global", sdk.PushRuleKind.ContentSpecific, "potassium", ["notify"]);
        await bob.setPushRuleEnabled("global", sdk.PushRuleKind.ContentSpecific, "potassium", false);
        mine = (await bob.getPushRules()).global.content.find((r) => r.rule_id === "potassium");
        assert.deepEqual([mine.enabled, mine.actions], [false, ["notify"]]);
        // The change reaches the SDK through sync.
        await waitFor(
            () => bob.pushRules.global.content?.some((r) => r.rule_id === "potassium" && r.enabled === false),
            "the changed rule in sync",
        );
        await bob.deletePushRule("global", sdk.PushRuleKind.ContentSpecific, "potassium");
        mine = (await bob.getPushRules()).global.content.find((r) => r.rule_id === "potassium");
        assert.equal(mine, undefined);
        await assert.rejects(bob.deletePushRule("global", sdk.PushRuleKind.ContentSpecific, "potassium"), (err) => {
            assert.equal(err.httpStatus, 404);
            assert.equal(err.errcode, "M_NOT_FOUND");
            return true;
        });

        // Mute the room and turn everything off: an urgent message still rings, in the
        // server's counts and in the SDK's own reading of the rules.
        await bob.addPushRule("global", sdk.PushRuleKind.RoomSpecific, ward, { actions: [] });
        await bob.setPushRuleEnabled("global", sdk.PushRuleKind.Override, ".m.rule.master", true);
        await assert.rejects(
            bob.setPushRuleEnabled("global", sdk.PushRuleKind.Override, ".org.wardline.rule.urgent", false),
            (err) => {
                assert.equal(err.httpStatus, 400);
                assert.equal(err.errcode, "ORG.WARDLINE.PROTECTED_RULE");
                return true;
            },
        );
        await waitFor(() => room.getUnreadNotificationCount("total") === 0, "the muted room's count drops to 0");
        await waitFor(
            () => bob.pushRules.global.override.some((r) => r.rule_id === ".m.rule.master" && r.enabled),
            "master on in the SDK's rules",
        );
        await alice.sendMessage(ward, { msgtype: "m.text", body: "obs stable again" });
        const { event_id: urgentId } = await alice.sendMessage(ward, {
            msgtype: "m.text",
            body: "K+ 6.9 bed 4",
            "org.wardline.priority": { level: "urgent" },
        });
        await waitFor(() => room.getUnreadNotificationCount("highlight") === 1 && room.getUnreadNotificationCount("total") === 1, "urgent counts 1/1");
        const urgent = await waitFor(() => room.findEventById(urgentId), "the urgent message in Bob's timeline");
        const actions = bob.getPushActionsForEvent(urgent, true);
        assert.equal(actions?.notify, true, "the SDK agrees it notifies");
        assert.equal(actions?.tweaks?.highlight, true);
        assert.equal(actions?.tweaks?.sound, "urgent");
    } catch (err) {
        if (err instanceof Error) err.message += `\n${server.logTail()}`;
        throw err;
    }
});
