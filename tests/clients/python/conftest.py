"""Fixtures that run the real Wardline binary for the client test suites.

The server is started exactly as an operator would start it:

    wardline serve --data-dir DIR --listen 127.0.0.1:0 --server-name localhost

with ``WARDLINE_RATE_LIMITS__ENABLED=false``.  The port is parsed from the
``wardline listening on http://127.0.0.1:PORT`` line on stdout.  Users are
created with ``wardline user add NAME --data-dir DIR`` (password on stdin)
while the server is running.

The binary is ``$WARDLINE_BIN`` if set, else
``${CARGO_TARGET_DIR:-<repo>/target}/debug/wardline``; if that file does not
exist, ``cargo build -p wardline`` is run once.  A binary that cannot be built
or started is a test *error*, never a skip.
"""

from __future__ import annotations

import os
import queue
import re
import secrets
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
SERVER_NAME = "localhost"
LISTEN_RE = re.compile(r"wardline listening on (http://127\.0\.0\.1:(\d+))\s*$")
STARTUP_TIMEOUT_S = 30.0
SHUTDOWN_TIMEOUT_S = 15.0
CLI_TIMEOUT_S = 60.0

# Users every module gets; tests log in with these.
DEFAULT_USERS = ("alice", "bob", "carol", "dave")

_build_lock = threading.Lock()
_build_done = False


def _target_dir() -> Path:
    target = os.environ.get("CARGO_TARGET_DIR")
    if not target:
        return REPO_ROOT / "target"
    path = Path(target)
    return path if path.is_absolute() else REPO_ROOT / path


def wardline_binary() -> Path:
    """Locate (and if needed build) the wardline binary."""
    global _build_done
    explicit = os.environ.get("WARDLINE_BIN")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            pytest.fail(f"WARDLINE_BIN={explicit} does not exist", pytrace=False)
        return path

    path = _target_dir() / "debug" / "wardline"
    with _build_lock:
        if not path.is_file() and not _build_done:
            _build_done = True
            proc = subprocess.run(
                ["cargo", "build", "-p", "wardline"],
                cwd=REPO_ROOT,
                capture_output=True,
                text=True,
                timeout=3600,
            )
            if proc.returncode != 0:
                pytest.fail(
                    "`cargo build -p wardline` failed:\n" + proc.stderr[-6000:],
                    pytrace=False,
                )
    if not path.is_file():
        pytest.fail(f"wardline binary not found at {path}", pytrace=False)
    return path


@dataclass
class WardlineServer:
    binary: Path
    data_dir: Path
    log_path: Path
    base_url: str = ""
    passwords: dict[str, str] = field(default_factory=dict)
    # Extra environment for the server (settings such as WARDLINE_PUSH__WEBPUSH_HOSTS).
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    _reader: threading.Thread | None = None
    _lines: "queue.Queue[str | None]" = field(default_factory=queue.Queue)
    _log_lock: threading.Lock = field(default_factory=threading.Lock)

    # -- lifecycle -------------------------------------------------------
    def start(self) -> None:
        env = dict(os.environ)
        env["WARDLINE_RATE_LIMITS__ENABLED"] = "false"
        env.setdefault("RUST_BACKTRACE", "1")
        env.update(self.env)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "a", encoding="utf-8", errors="replace")
        self.proc = subprocess.Popen(
            [
                str(self.binary),
                "serve",
                "--data-dir",
                str(self.data_dir),
                "--listen",
                "127.0.0.1:0",
                "--server-name",
                SERVER_NAME,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
            text=True,
            errors="replace",
            bufsize=1,
        )
        self._reader = threading.Thread(target=self._pump_stdout, daemon=True)
        self._reader.start()

        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stop()
                pytest.fail(
                    f"wardline did not print its listening line within "
                    f"{STARTUP_TIMEOUT_S:.0f}s\n{self.log_tail()}",
                    pytrace=False,
                )
            try:
                line = self._lines.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            if line is None:  # stdout closed: the process exited
                rc = self.proc.wait(timeout=5)
                pytest.fail(
                    f"wardline serve exited with code {rc} before listening\n"
                    f"{self.log_tail()}",
                    pytrace=False,
                )
            match = LISTEN_RE.search(line)
            if match:
                self.base_url = match.group(1)
                break
        self._wait_http_up(deadline)

    def _pump_stdout(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._log_lock:
                self._log.write("[stdout] " + line)
                self._log.flush()
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def _wait_http_up(self, deadline: float) -> None:
        """The listening line should mean the socket accepts; confirm it."""
        url = self.base_url + "/_matrix/client/versions"
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5):
                    return
            except urllib.error.HTTPError:
                return  # an HTTP answer of any kind means it is up
            except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
                if time.monotonic() > deadline:
                    self.stop()
                    pytest.fail(
                        f"wardline printed its listening line but {url} does not "
                        f"answer: {exc}\n{self.log_tail()}",
                        pytrace=False,
                    )
                time.sleep(0.1)

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=SHUTDOWN_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                with self._log_lock:
                    self._log.write(
                        f"[harness] no exit {SHUTDOWN_TIMEOUT_S:.0f}s after SIGTERM; killing\n"
                    )
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._reader is not None:
            self._reader.join(timeout=5)
        rc = self.proc.returncode
        with self._log_lock:
            self._log.write(f"[harness] wardline exited with code {rc}\n")
            self._log.close()
        self.proc = None
        return rc

    def log_tail(self, max_chars: int = 8000) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no server log)"
        if len(text) > max_chars:
            text = "...\n" + text[-max_chars:]
        return f"---- wardline log ({self.log_path}) ----\n{text}"

    # -- CLI -------------------------------------------------------------
    def add_user(
        self,
        localpart: str,
        password: str | None = None,
        display_name: str | None = None,
        admin: bool = False,
    ) -> str:
        """Create a user with `wardline user add` (password on stdin)."""
        password = password or generated_password(localpart)
        args = [str(self.binary), "user", "add", localpart, "--data-dir", str(self.data_dir)]
        if display_name:
            args += ["--display-name", display_name]
        if admin:
            args.append("--admin")
        env = dict(os.environ)
        env["WARDLINE_RATE_LIMITS__ENABLED"] = "false"
        proc = subprocess.run(
            args,
            input=password + "\n",
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
            env=env,
        )
        if proc.returncode != 0:
            pytest.fail(
                f"`wardline user add {localpart}` failed with code {proc.returncode}\n"
                f"stdout: {proc.stdout}\nstderr: {proc.stderr}",
                pytrace=False,
            )
        self.passwords[localpart] = password
        return password

    # -- clients ---------------------------------------------------------
    async def nio_login(self, name: str, device_name: str, **config):
        """A matrix-nio client signed in as `name` (created by `add_user`) on a new device."""
        from nio import AsyncClient, AsyncClientConfig, LoginResponse

        c = AsyncClient(
            self.base_url, name, config=AsyncClientConfig(max_timeouts=2, request_timeout=30, **config)
        )
        resp = await c.login(self.passwords[name], device_name=device_name)
        assert isinstance(resp, LoginResponse), resp
        return c


@pytest.fixture(scope="module")
def wardline(tmp_path_factory: pytest.TempPathFactory):
    """A running wardline server with DEFAULT_USERS created via the CLI."""
    binary = wardline_binary()
    root = tmp_path_factory.mktemp("wardline")
    server = WardlineServer(binary=binary, data_dir=root / "data", log_path=root / "wardline.log")
    server.data_dir.mkdir()
    server.start()
    try:
        for name in DEFAULT_USERS:
            server.add_user(name, display_name=name.capitalize())
        yield server
    finally:
        rc = server.stop()
        # Shown by pytest only if the teardown itself reports a problem.
        print(f"wardline exit code after SIGTERM: {rc}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Attach the server log to every failing test's report."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        server = getattr(item, "funcargs", {}).get("wardline")
        if isinstance(server, WardlineServer):
            report.sections.append(("wardline server log", server.log_tail()))


def generated_password(localpart: str) -> str:
    """A random test password the server accepts: it must not contain the username."""
    while True:
        password = "pw-" + secrets.token_urlsafe(18)
        if localpart.lower() not in password.lower():
            return password
