// Blobs made from downloaded files get a safe type (src/mediatype.ts): a blob URL opened in a
// tab runs with the app's origin, so an SVG or HTML file from someone else must not render as
// such. Only raster images, audio and video keep their type.

import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));
const bundled = await build({
  entryPoints: [path.join(here, "..", "src", "mediatype.ts")],
  bundle: true,
  format: "esm",
  write: false,
  platform: "neutral",
});
const { safeType, safeBlob } = await import(
  `data:text/javascript;base64,${Buffer.from(bundled.outputFiles[0].text).toString("base64")}`
);

test("raster images, audio and video keep their type", () => {
  for (const t of ["image/png", "image/jpeg", "image/gif", "image/webp", "audio/ogg", "audio/wav", "video/mp4", "video/webm"]) {
    assert.equal(safeType(t), t);
  }
  assert.equal(safeType("IMAGE/PNG"), "image/png");
  assert.equal(safeType("audio/ogg; codecs=opus"), "audio/ogg");
});

test("anything that could run script, or is unknown, becomes plain bytes", () => {
  for (const t of ["image/svg+xml", "text/html", "application/xhtml+xml", "text/xml", "application/pdf", "text/javascript", "", "image/svg+xml; charset=utf-8", "video/../html"]) {
    assert.equal(safeType(t), "application/octet-stream", t);
  }
});

test("a blob keeps its bytes with the safe type", async () => {
  const svg = new Blob(["<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"], { type: "image/svg+xml" });
  const safe = safeBlob(svg);
  assert.equal(safe.type, "application/octet-stream");
  assert.equal(await safe.text(), await svg.text());
  const png = new Blob([new Uint8Array([1, 2])], { type: "image/png" });
  assert.equal(safeBlob(png), png);
});
