// Wardline's service worker (built to dist/sw.js, served at /sw.js, scope /). Each concern of the
// worker is a module of src/sw/ that registers its own event listeners here; they share no
// state. The worker holds no session and no patient data (see shell.ts); pushes
// carry ids and counts, never text (push.ts).

import { handlePush } from "./push";
import { serveShell } from "./shell";

declare const self: ServiceWorkerGlobalScope;

serveShell(self);
handlePush(self);
