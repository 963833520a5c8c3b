// Read tracking's rules, on their own (src/reading.ts): the receipt moves only over the unbroken
// run of seen messages after it, so jumping to the bottom does not mark the skipped middle read;
// a message is seen only after a second on screen with someone there (the page visible and
// focused, activity in the last minute), on a clock of the test's.

import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));
const bundled = await build({
  entryPoints: [path.join(here, "..", "src", "reading.ts")],
  bundle: true,
  format: "esm",
  write: false,
  platform: "neutral",
});
const { Attention, DWELL_MS, GAP, IDLE_MS, markReadUpTo, receiptTarget, unseenAfter } = await import(
  `data:text/javascript;base64,${Buffer.from(bundled.outputFiles[0].text).toString("base64")}`
);

const theirs = (id) => ({ id, mine: false, shown: true });
const mine = (id) => ({ id, mine: true, shown: true });
const state = (id) => ({ id, mine: false, shown: false });
const seenOf = (...ids) => (id) => ids.includes(id);

test("the receipt moves to the last of the seen run after it", () => {
  const events = [theirs("a"), theirs("b"), theirs("c"), theirs("d")];
  assert.equal(receiptTarget(events, 0, seenOf("b", "c")), "c");
  assert.equal(unseenAfter(events, 0, seenOf("b", "c")), 1);
});

test("jumping to the bottom does not read the skipped middle", () => {
  const events = [theirs("a"), theirs("b"), theirs("c"), theirs("d"), theirs("e")];
  // Receipt on a; b and e seen (the view jumped from b to the bottom), c and d never shown.
  assert.equal(receiptTarget(events, 0, seenOf("b", "e")), "b");
  assert.equal(receiptTarget(events, 1, seenOf("b", "e")), null, "nothing more until c is seen");
  assert.equal(unseenAfter(events, 1, seenOf("b", "e")), 2);
  // Scrolling back over c and d completes the run: the receipt goes to the bottom.
  assert.equal(receiptTarget(events, 1, seenOf("b", "c", "d", "e")), "e");
});

test("my own messages and events not drawn do not break the run, nor count as reading", () => {
  const events = [theirs("a"), mine("m1"), state("s"), theirs("b"), mine("m2")];
  assert.equal(receiptTarget(events, -1, seenOf("a", "b")), "m2");
  assert.equal(receiptTarget(events, 0, seenOf("a")), null, "only my own messages after the receipt");
  assert.equal(receiptTarget(events, -1, seenOf()), null, "nothing seen");
});

/** An Attention on the test's clock and page. */
function attentionAt() {
  const t = { now: 1_000_000, visible: true, focused: true };
  const a = new Attention(() => t.now, { visible: () => t.visible, focused: () => t.focused });
  return { t, a };
}

test("a message is seen after a second on screen with someone there, not before", () => {
  const { t, a } = attentionAt();
  a.noteActivity();
  assert.deepEqual(a.seenNow(["m1"], new Set()), [], "just appeared");
  t.now += DWELL_MS - 1;
  assert.deepEqual(a.seenNow(["m1"], new Set()), []);
  t.now += 1;
  assert.deepEqual(a.seenNow(["m1"], new Set()), ["m1"]);
  assert.deepEqual(a.seenNow(["m1"], new Set(["m1"])), [], "seen once");
  // Scrolled away and back: its second starts again.
  a.seenNow([], new Set());
  t.now += 10;
  assert.deepEqual(a.seenNow(["m2"], new Set()), []);
});

test("nothing is seen while the page is hidden or unfocused, or behind a dialog", () => {
  for (const away of ["visible", "focused", "dialog"]) {
    const { t, a } = attentionAt();
    a.noteActivity();
    a.seenNow(["m1"], new Set());
    if (away !== "dialog") t[away] = false;
    t.now += 5 * DWELL_MS;
    assert.deepEqual(a.seenNow(["m1"], new Set(), away !== "dialog"), [], `${away}: not seen`);
    assert.equal(a.present(), away === "dialog", away);
    // Back: the message must be on screen for a second again.
    t.visible = true;
    t.focused = true;
    a.noteActivity();
    assert.deepEqual(a.seenNow(["m1"], new Set()), [], `${away}: its second starts again`);
    t.now += DWELL_MS;
    assert.deepEqual(a.seenNow(["m1"], new Set()), ["m1"], `${away}: seen once back`);
  }
});

test("without activity for a minute nobody is reading; activity brings it back", () => {
  const { t, a } = attentionAt();
  assert.equal(a.present(), false, "no activity yet");
  a.noteActivity();
  a.seenNow(["m1"], new Set());
  t.now += IDLE_MS - 1;
  assert.equal(a.present(), true);
  t.now += 1;
  assert.equal(a.present(), false, "a minute without activity");
  assert.deepEqual(a.seenNow(["m1"], new Set()), [], "idle: not seen");
  a.noteActivity();
  a.seenNow(["m1"], new Set());
  t.now += DWELL_MS;
  assert.deepEqual(a.seenNow(["m1"], new Set()), ["m1"]);
});

test("mark as read up to here: forward only, and never across messages not loaded", () => {
  const events = [theirs("a"), theirs("b"), mine("m"), theirs("c")];
  assert.deepEqual(markReadUpTo(events, 0, 3, false), { kind: "read", id: "c" });
  assert.deepEqual(markReadUpTo(events, 1, 1, false), { kind: "already" });
  assert.deepEqual(markReadUpTo(events, 1, 0, false), { kind: "already" });
  // The receipt in the loaded part: whatever came before the loaded part does not matter.
  assert.deepEqual(markReadUpTo(events, 0, 1, true), { kind: "read", id: "b" });
  // The receipt before the loaded part, with messages not loaded after it: refused.
  assert.deepEqual(markReadUpTo(events, -1, 3, true), { kind: "gap" });
  // No receipt, and everything from the start loaded.
  assert.deepEqual(markReadUpTo(events, -1, 3, false), { kind: "read", id: "c" });
  assert.deepEqual(markReadUpTo(events, 0, -1, false), { kind: "gap" }, "a message not shown");
});

test("no rule crosses a gap of messages not loaded (after a limited sync), whatever counts as seen", () => {
  // Read up to a; then a gap; then the newest, b and c, seen on screen.
  const events = [theirs("a"), GAP, theirs("b"), theirs("c")];
  const everything = () => true;
  assert.equal(receiptTarget(events, 0, everything), null, "the receipt stays before the gap");
  assert.equal(receiptTarget([theirs("x"), mine("m"), GAP, theirs("b")], -1, everything), "m", "up to the gap only");
  assert.equal(unseenAfter(events, 0, seenOf()), 2, "the gap is not a message");
  assert.deepEqual(markReadUpTo(events, 0, 3, false), { kind: "gap" }, "mark as read after the gap: refused");
  assert.deepEqual(markReadUpTo(events, 0, 2, false), { kind: "gap" });
  assert.deepEqual(markReadUpTo(events, -1, 3, false), { kind: "gap" }, "no receipt, a gap before the message");
  assert.deepEqual(markReadUpTo(events, -1, 0, false), { kind: "read", id: "a" }, "before the gap: allowed");
  // The receipt after the gap: the gap is read past already.
  assert.deepEqual(markReadUpTo(events, 2, 3, false), { kind: "read", id: "c" });
  assert.equal(receiptTarget(events, 2, everything), "c");
});
