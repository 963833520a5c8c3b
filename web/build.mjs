// Builds the web client into dist/ (embedded in the `wardline` binary).
// `node build.mjs --check` builds into a temporary directory and fails if dist/ differs from
// what the sources produce: CI runs it so the embedded build always matches the sources.
import { mkdtempSync, readFileSync, writeFileSync, copyFileSync, mkdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

import { appIcons } from "./icons.mjs";

const root = dirname(fileURLToPath(import.meta.url));
const check = process.argv.includes("--check");
const out = check ? mkdtempSync(join(tmpdir(), "wardline-web-")) : join(root, "dist");
mkdirSync(out, { recursive: true });

// matrix-js-sdk loads its end-to-end encryption (Rust compiled to WebAssembly, about a third of
// the bundle) only through `import("./rust-crypto/index.js")` in initRustCrypto(), which this
// client does not call (it has never set up end-to-end encryption). That import is left out of
// the bundle; were it ever called, it would fail to load rather than bring in stale code.
const leaveOutCrypto = {
  name: "leave-out-crypto",
  setup(b) {
    b.onResolve({ filter: /^\.\/rust-crypto\/index\.js$/ }, (args) =>
      args.importer.includes("matrix-js-sdk") && args.kind === "dynamic-import"
        ? { path: "matrix-js-sdk-rust-crypto-not-bundled", external: true }
        : undefined,
    );
  },
};

await build({
  entryPoints: [join(root, "src/main.tsx")],
  plugins: [leaveOutCrypto],
  bundle: true,
  minify: true,
  format: "esm",
  target: ["es2022"],
  platform: "browser",
  outfile: join(out, "app.js"),
  legalComments: "none",
  logLevel: "warning",
  define: { "process.env.NODE_ENV": '"production"', global: "globalThis" },
});
// The service worker (src/sw/): its own bundle, served at /sw.js so its scope is the whole app.
await build({
  entryPoints: [join(root, "src/sw/main.ts")],
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2022"],
  platform: "browser",
  outfile: join(out, "sw.js"),
  legalComments: "none",
  logLevel: "warning",
});
for (const file of ["index.html", "app.css", "manifest.webmanifest"]) copyFileSync(join(root, "src", file), join(out, file));
// The installed app's icons (icons.mjs draws them).
const icons = appIcons();
for (const [file, bytes] of Object.entries(icons)) writeFileSync(join(out, file), bytes);
// Served to browsers that accept gzip (all of them): a third of the size on the wire.
writeFileSync(join(out, "app.js.gz"), gzipSync(readFileSync(join(out, "app.js")), { level: 9 }));

const files = ["index.html", "app.css", "app.js", "app.js.gz", "sw.js", "manifest.webmanifest", ...Object.keys(icons)];
if (check) {
  const stale = files.filter((f) => {
    try {
      return !readFileSync(join(out, f)).equals(readFileSync(join(root, "dist", f)));
    } catch {
      return true;
    }
  });
  rmSync(out, { recursive: true, force: true });
  if (stale.length) {
    console.error(`web/dist is out of date (${stale.join(", ")}): run \`npm run build\` in web/ and commit dist/`);
    process.exit(1);
  }
  console.log("web/dist matches the sources");
} else {
  const sizes = files.map((f) => `${f} ${(statSync(join(out, f)).size / 1024).toFixed(1)} KiB`);
  writeFileSync(join(out, "BUILD"), "built by web/build.mjs from web/src; do not edit\n");
  console.log(`built web/dist: ${sizes.join(", ")}`);
}
