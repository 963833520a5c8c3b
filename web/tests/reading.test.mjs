// Read tracking's rule, on its own (src/reading.ts): the receipt moves only over the unbroken
// run of seen messages after it, so jumping to the bottom does not mark the skipped middle read.

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
const { receiptTarget, unseenAfter } = await import(
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
