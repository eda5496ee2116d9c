"""Kill tests: reading an evaluation store's SQLite file from outside while another process writes it, and
killing that process mid-request."""

import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def count_in_store(path: Path, sql: str) -> int:
    """A count read read-only from the store file (0 while the file or its tables do not exist yet)."""
    if not Path(path).exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
            return db.execute(sql).fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def sigkill_when(client: subprocess.Popen, ready: Callable[[], bool], timeout: float = 60.0) -> None:
    """SIGKILL ``client`` as soon as ``ready()`` (polled every 20 ms) holds, or fail if it ended first.

    The kill tests wait until the client is mid-request (some results stored, provider tasks
    still out) and kill it there; a client that finished or died before is a failed test, with
    its output. On any failure the client is killed too, so no process is left behind.
    """
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and client.poll() is None and not ready():
            time.sleep(0.02)
        assert client.poll() is None, client.communicate()[0].decode(errors="replace")
        client.send_signal(signal.SIGKILL)
        assert client.wait(timeout=10) == -signal.SIGKILL
    finally:
        if client.poll() is None:
            client.kill()
            client.wait(timeout=10)
