// The real `wardline` binary, started for a test exactly as an operator would start it:
//   wardline serve --data-dir DIR --listen 127.0.0.1:0 --server-name localhost
// (WARDLINE_RATE_LIMITS__ENABLED=false). The port comes from the
// "wardline listening on http://127.0.0.1:PORT" stdout line; users are created with
// `wardline user add NAME --data-dir DIR` (password on stdin).
//
// Binary: $WARDLINE_BIN, else ${CARGO_TARGET_DIR:-<repo>/target}/debug/wardline
// (built with `cargo build -p wardline` if missing). Shared by the matrix-js-sdk suite
// (tests/clients/node) and the browser tests (web/tests).

import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import readline from "node:readline";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(HERE, "..", "..");
export const SERVER_NAME = "localhost";
const STARTUP_MS = 30_000;
const SHUTDOWN_MS = 15_000;

function wardlineBinary() {
    if (process.env.WARDLINE_BIN) {
        assert.ok(existsSync(process.env.WARDLINE_BIN), `WARDLINE_BIN=${process.env.WARDLINE_BIN} does not exist`);
        return process.env.WARDLINE_BIN;
    }
    const target = process.env.CARGO_TARGET_DIR
        ? path.resolve(REPO_ROOT, process.env.CARGO_TARGET_DIR)
        : path.join(REPO_ROOT, "target");
    const bin = path.join(target, "debug", "wardline");
    if (!existsSync(bin)) {
        const build = spawnSync("cargo", ["build", "-p", "wardline"], { cwd: REPO_ROOT, stdio: "inherit" });
        assert.equal(build.status, 0, "`cargo build -p wardline` failed");
    }
    assert.ok(existsSync(bin), `wardline binary not found at ${bin}`);
    return bin;
}

export class WardlineServer {
    /** `env`: extra settings (`WARDLINE_*`) for the server and its commands. */
    constructor(env = {}) {
        this.extraEnv = env;
        this.bin = wardlineBinary();
        this.root = mkdtempSync(path.join(tmpdir(), "wardline-test-"));
        this.dataDir = path.join(this.root, "data");
        this.log = [];
        this.passwords = new Map();
        this.baseUrl = null;
        this.proc = null;
    }

    env() {
        return { ...process.env, WARDLINE_RATE_LIMITS__ENABLED: "false", RUST_BACKTRACE: "1", ...this.extraEnv };
    }

    async start() {
        this.proc = spawn(
            this.bin,
            ["serve", "--data-dir", this.dataDir, "--listen", "127.0.0.1:0", "--server-name", SERVER_NAME],
            { env: this.env(), stdio: ["ignore", "pipe", "pipe"] },
        );
        this.exited = new Promise((resolve) => this.proc.once("exit", (code, signal) => resolve({ code, signal })));
        readline.createInterface({ input: this.proc.stderr }).on("line", (l) => this.log.push(`[stderr] ${l}`));
        const stdout = readline.createInterface({ input: this.proc.stdout });

        this.baseUrl = await new Promise((resolve, reject) => {
            const timer = setTimeout(
                () => reject(new Error(`wardline did not print its listening line within ${STARTUP_MS}ms\n${this.logTail()}`)),
                STARTUP_MS,
            );
            stdout.on("line", (line) => {
                this.log.push(`[stdout] ${line}`);
                const m = /wardline listening on (http:\/\/127\.0\.0\.1:(\d+))\s*$/.exec(line);
                if (m) {
                    clearTimeout(timer);
                    resolve(m[1]);
                }
            });
            this.exited.then(({ code, signal }) => {
                clearTimeout(timer);
                reject(new Error(`wardline serve exited (code ${code}, signal ${signal}) before listening\n${this.logTail()}`));
            });
        });
    }

    addUser(localpart, displayName, extraArgs = []) {
        const password = generatedPassword(localpart);
        const res = spawnSync(
            this.bin,
            ["user", "add", localpart, "--data-dir", this.dataDir, "--display-name", displayName, ...extraArgs],
            { input: `${password}\n`, env: this.env(), timeout: 60_000, encoding: "utf8" },
        );
        assert.equal(
            res.status,
            0,
            `\`wardline user add ${localpart}\` failed (status ${res.status}, error ${res.error})\n` +
                `stdout: ${res.stdout}\nstderr: ${res.stderr}`,
        );
        this.passwords.set(localpart, password);
        return password;
    }

    /** Creates a user with a generated one-time password (to be changed at first sign-in). */
    addUserWithOneTimePassword(localpart, displayName) {
        const res = spawnSync(
            this.bin,
            ["user", "add", localpart, "--data-dir", this.dataDir, "--display-name", displayName, "--one-time-password"],
            { env: this.env(), timeout: 60_000, encoding: "utf8" },
        );
        assert.equal(res.status, 0, `\`wardline user add ${localpart}\` failed\nstdout: ${res.stdout}\nstderr: ${res.stderr}`);
        const m = /one-time password \(must be changed at first sign-in\): (\S+)/.exec(res.stdout);
        assert.ok(m, `no one-time password printed: ${res.stdout}`);
        return m[1];
    }

    async stop() {
        if (!this.proc) return;
        if (this.proc.exitCode === null && this.proc.signalCode === null) {
            this.proc.kill("SIGTERM");
            const timedOut = Symbol("timeout");
            let timer;
            const res = await Promise.race([
                this.exited,
                new Promise((r) => (timer = setTimeout(() => r(timedOut), SHUTDOWN_MS))),
            ]);
            clearTimeout(timer);
            if (res === timedOut) {
                this.log.push(`[harness] no exit ${SHUTDOWN_MS}ms after SIGTERM; killing`);
                this.proc.kill("SIGKILL");
                await this.exited;
            }
        }
        // Don't let an inherited pipe (e.g. a stray grandchild) keep node alive.
        this.proc.stdout.destroy();
        this.proc.stderr.destroy();
        this.proc = null;
        rmSync(this.root, { recursive: true, force: true });
    }

    logTail(lines = 80) {
        return `---- wardline log (last ${lines} lines) ----\n${this.log.slice(-lines).join("\n")}`;
    }
}


/**
 * A random test password the server's rules accept: it must not contain the
 * username, which a random hex string sometimes does ("ada" is hex).
 */
export function generatedPassword(localpart) {
    for (;;) {
        const password = `pw-${randomBytes(12).toString("hex")}`;
        if (!password.toLowerCase().includes(localpart.toLowerCase())) return password;
    }
}
