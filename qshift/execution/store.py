"""The persistent evaluation store: every submitted task and every result, in one SQLite file.

A Hessian on real hardware is thousands of paid circuits that run for hours. The
store lets a rerun of the same request after a crash pay only for what never ran:

* finished results are read back (``Stats.from_store``);
* tasks still on the provider are re-attached by their ids (``Stats.reattached``);
* only the rest is submitted (``Stats.submitted``).

Keys. A result is keyed by the circuit's fingerprint, the device (its
``cache_key``), the shots (exact: none), the seed of a sampled request, and the
exact bytes of the row of slot angles. A task is keyed by its result key and the
*part* it computes (``-1``: every output; ``g``: measurement group ``g``).

Requests and seeds. A sampled request is recorded in ``requests`` with the seed it
ran with, and marked complete when it ends. The seed decides which stored samples
it may read back, so the rule for an **unseeded** request is:

* the same request (circuit, device, shots, sampling strategy, the exact angle rows)
  recorded and **not complete** (its process crashed or was interrupted) is
  **resumed** with its recorded seed: finished points come from the store, tasks
  still running are re-attached, only the rest is sent. A crash never pays twice;
* otherwise (complete, or never seen) it draws a **fresh** seed, records it and
  samples anew: repeated experiments are independent samples, never one sample
  copied;
* replaying a complete request is an explicit choice: ``resume=True``
  (:func:`qshift.derivatives`) takes the latest recorded seed of the same request,
  so its results come from the store; ``resume=False`` always samples anew.

A request still running in another live process on this machine is not
"interrupted": an identical request started meanwhile draws its own seed. (A
request recorded by a process on another machine cannot be checked, and is
resumed.) A **seeded** request always runs with its seed, so it is reproducible
and read back from the store; exact results have no seed and are always read back.

Format. Three tables, ``results`` (values and variances as float64 blobs, never
pickles; a checksum per row), ``tasks`` (task id, the idempotency token of
its create call, status, attempts, timestamps) and ``requests`` (a hash of what
identifies a request, its seed, whether it completed, the process that ran it),
plus a ``meta`` row naming the format and its version. A file written before
``requests`` existed gets the table when it is opened. Nothing stored is executable
and nothing stored is a credential: task ids, tokens qshift draws itself, device
names and numbers.

Safety. WAL journal, ``BEGIN IMMEDIATE`` transactions (one writer at a time,
readers never blocked), a busy timeout, so two processes can share one file.
Every write is one transaction: a process killed at any point leaves the last
committed state. On open the file gets ``PRAGMA quick_check``; a damaged,
truncated or foreign file, and any stored row whose checksum or length does not
match, is a :class:`StoreError` naming the file and the fix (move it aside) —
never a wrong number, and never a raw error from text SQLite cannot decode (a flipped
bit in the schema makes SQLite's own messages invalid UTF-8). A path that cannot name a
file (one with a NUL character) is a :class:`StoreError` too.

Where. ``qshift.derivatives(..., store=...)``: ``None`` (default) uses
``platformdirs.user_cache_dir("qshift")/evaluations.sqlite`` for cloud and
shot-based devices and no store for exact simulators; ``False`` none; ``True``
the default file; a path that file. The environment variable ``QSHIFT_STORE``
changes the default: ``off`` (no store unless one is passed) or a file path.

Example:
    >>> import numpy as np, qshift, tempfile, os, shutil
    >>> c = qshift.Circuit.from_qasm(qshift.circuit_path("sin"))
    >>> folder = tempfile.mkdtemp()
    >>> d = qshift.derivatives(c, [0.5], order=1, store=os.path.join(folder, "run.sqlite"))
    >>> d.stats.submitted, d.stats.from_store
    (3, 0)
    >>> again = qshift.derivatives(c, [0.5], order=1, store=os.path.join(folder, "run.sqlite"))
    >>> again.stats.submitted, again.stats.from_store, bool(np.allclose(again.jacobian, d.jacobian))
    (0, 3, True)
    >>> shutil.rmtree(folder)
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields, is_dataclass
from pathlib import Path

import numpy as np

from qshift._errors import RequestError, StoreError
from qshift._seeding import fresh
from qshift.backends.base import TaskEntry
from qshift.ir.circuit import Circuit

__all__ = ["EvaluationStore", "Ledger", "StoreError", "TaskEntry", "default_store_path", "open_store",
           "request_key"]

FORMAT = "qshift-evaluations"
VERSION = 1  # bumped only for changes older readers cannot ignore (a new table is not one)
_CHUNK = 400  # keys per IN (...) query, below SQLite's parameter limit

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, device TEXT NOT NULL, shots INTEGER, seed TEXT,
    angles BLOB NOT NULL, n_outputs INTEGER NOT NULL, vals BLOB NOT NULL, vars BLOB,
    executions INTEGER NOT NULL, created_at REAL NOT NULL, checksum TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (
    key TEXT NOT NULL, part INTEGER NOT NULL, task_id TEXT, token TEXT NOT NULL, position TEXT,
    device TEXT NOT NULL, status TEXT NOT NULL, attempt INTEGER NOT NULL, reason TEXT,
    submitted_at REAL NOT NULL, updated_at REAL NOT NULL, PRIMARY KEY (key, part));
CREATE INDEX IF NOT EXISTS tasks_by_id ON tasks (task_id);
CREATE INDEX IF NOT EXISTS tasks_by_token ON tasks (token);
CREATE TABLE IF NOT EXISTS requests (
    key TEXT NOT NULL, seed TEXT NOT NULL, device TEXT NOT NULL, complete INTEGER NOT NULL, owner TEXT NOT NULL,
    created_at REAL NOT NULL, updated_at REAL NOT NULL, PRIMARY KEY (key, seed));
"""


def default_store_path() -> Path:
    """``platformdirs.user_cache_dir("qshift")/evaluations.sqlite``, or the path in ``QSHIFT_STORE``."""
    env = os.environ.get("QSHIFT_STORE", "").strip()
    if env and env.lower() not in _OFF:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("qshift")) / "evaluations.sqlite"


_OFF = ("off", "0", "false", "no", "none")
_OPEN: dict[str, "EvaluationStore"] = {}
_OPEN_LOCK = threading.Lock()


def open_store(store, backend=None) -> "EvaluationStore | None":
    """The store a request uses: ``store`` as given to :func:`qshift.derivatives`, for ``backend``.

    ``None``: the default file for cloud and shot-based devices, none for exact simulators (and
    none at all when ``QSHIFT_STORE=off``); ``False``: none; ``True``: the default file; a path:
    that file; an :class:`EvaluationStore`: itself. A file is opened once per process.
    """
    if store is None:
        if os.environ.get("QSHIFT_STORE", "").strip().lower() in _OFF:
            return None
        return _shared(default_store_path()) if _wants_store(backend) else None
    if store is False:
        return None
    if store is True:
        return _shared(default_store_path())
    if isinstance(store, EvaluationStore):
        return store
    if isinstance(store, (str, os.PathLike)):
        return _shared(_store_path(store))
    raise RequestError("store must be a path, True, False or None", expected="e.g. store='run.sqlite'",
                       received=type(store).__name__,
                       fix="pass store=path (or False for none; None for the device's default)")


def _store_path(path) -> Path:
    """``path`` as a :class:`~pathlib.Path`, or a :class:`StoreError` when it cannot name a file."""
    try:
        text = os.fsdecode(path)
    except TypeError:
        raise StoreError("an evaluation store is a file path", expected="a str or os.PathLike path",
                         received=type(path).__name__, fix="pass store='run.sqlite', say") from None
    if "\0" in text:
        raise StoreError("an evaluation store path cannot contain a NUL character", expected="a file path",
                         received=repr(text), fix="pass store= a path without NUL ('\\0') characters")
    return Path(text).expanduser()


def _wants_store(backend) -> bool:
    """On for cloud devices and devices that sample by default; off for exact simulators."""
    profile = getattr(backend, "profile", None)
    if profile is not None:
        return bool(profile.cloud or profile.shots is not None)
    return bool(getattr(backend, "cloud", False) or not getattr(backend, "exact", True))


def _shared(path: Path) -> "EvaluationStore":
    """One open store per file per process (opened again when the file was moved aside or replaced)."""
    key = str(path.resolve())
    with _OPEN_LOCK:
        store = _OPEN.get(key)
        if store is None or not store._same_file():
            store = _OPEN[key] = EvaluationStore(path)
        return store


def _is_locked(exc: BaseException) -> bool:
    return "locked" in str(exc) or "busy" in str(exc)


def _while_locked(step, seconds: float = 30.0):
    """Run ``step()``, again after a short sleep while SQLite answers "locked" at once (no busy wait)."""
    deadline = time.monotonic() + seconds
    pause = 0.002
    while True:
        try:
            return step()
        except sqlite3.OperationalError as exc:
            if not _is_locked(exc) or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def result_key(fingerprint: str, device: str, shots: int | None, seed, row: bytes) -> str:
    """The key of one point's result (hex SHA-256 of its parts)."""
    seed_text = "-" if shots is None or seed is None else str(int(seed))
    head = f"{fingerprint}\0{device}\0{shots if shots is not None else 'exact'}\0{seed_text}\0".encode()
    return hashlib.sha256(head + row).hexdigest()


def request_key(fingerprint: str, device: str, shots: int | None, angles: np.ndarray, how: object = "") -> str:
    """What identifies a request in ``requests``: circuit, device, shots, strategy ``how`` and every angle row.

    ``how`` describes how the shots are spent (a sampling strategy: its type and fields but its
    seed; see :func:`describe`), so that two requests that differ only there are not one.

    Example:
        >>> import numpy as np
        >>> a = request_key("f", "dev", 100, np.zeros((3, 2)))
        >>> a == request_key("f", "dev", 100, np.zeros((3, 2))), a == request_key("f", "dev", 200, np.zeros((3, 2)))
        (True, False)
    """
    rows = np.ascontiguousarray(angles, dtype="<f8")
    head = f"request\0{fingerprint}\0{device}\0{shots}\0{describe(how)}\0{rows.shape}\0".encode()
    return hashlib.sha256(head + rows.tobytes()).hexdigest()


def describe(how: object) -> str:
    """``how`` as text for :func:`request_key`: a dataclass as its type and fields but ``seed``."""
    if not is_dataclass(how):
        return str(how)
    parts = [f"{f.name}={getattr(how, f.name)!r}" for f in fields(how) if f.name != "seed"]
    return f"{type(how).__name__}({', '.join(parts)})"


_ACTIVE: Counter = Counter()  # (file, key, seed) of the requests this process is running now
_ACTIVE_LOCK = threading.Lock()


def _process_start(pid: int) -> str | None:
    """When process ``pid`` started (``/proc``); ``None`` when it is gone or a zombie, ``""`` when unknown."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        if os.path.exists("/proc/self/stat"):
            return None
        try:  # no /proc (macOS, Windows): whether the pid exists is all there is to know
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except OSError:
            pass
        return ""
    except OSError:
        return ""
    after = text.rsplit(")", 1)[-1].split()  # fields 3.. of stat; 22 is the start time
    return None if not after or after[0] in ("Z", "X") else after[19]


def _owner() -> str:
    """This process, as recorded with the requests it runs: host, pid and start time."""
    return f"{socket.gethostname()}\0{os.getpid()}\0{_process_start(os.getpid()) or ''}"


def _running(owner: str, active: bool) -> bool:
    """Whether the process ``owner`` still runs the request (``active``: this process runs it now)."""
    host, pid, start = (owner.split("\0") + ["", "", ""])[:3]
    if owner == _owner():
        return active
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another machine's process cannot be checked: resume rather than pay twice
    now = _process_start(int(pid))
    return now is not None and (now == start or "" in (now, start))


def _checksum(key: str, n_outputs: int, vals: bytes, var: bytes | None) -> str:
    h = hashlib.sha256(f"{key}\0{n_outputs}\0".encode())
    h.update(vals)
    h.update(b"\0" if var is None else b"\1" + var)
    return h.hexdigest()[:32]


class EvaluationStore:
    """One SQLite file of results and submitted tasks, shared safely by threads and processes.

    Args:
        path: the file (created with its folder when missing).

    Raises:
        StoreError: the file is damaged, truncated, not a qshift store, or from a newer qshift.
    """

    def __init__(self, path):
        self.path = _store_path(path)
        self._lock = threading.RLock()
        self._pid = os.getpid()
        self._db = self._open()
        self._inode = os.stat(self.path).st_ino

    # -- opening ----------------------------------------------------------------------------------
    def _same_file(self) -> bool:
        try:
            return self._pid == os.getpid() and os.stat(self.path).st_ino == self._inode
        except OSError:
            return False

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._error("cannot create the folder of the evaluation store", exc,
                              fix="pass store= a writable path, or store=False") from exc
        fresh = not self.path.exists()
        try:
            db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise self._error("cannot open the evaluation store", exc,
                              fix="pass store= a writable path, or store=False") from exc
        if fresh:
            os.chmod(self.path, 0o600)
        try:
            db.execute("PRAGMA busy_timeout = 30000")
            self._check(db)
            _while_locked(lambda: self._wal(db))
            db.execute("PRAGMA synchronous = NORMAL")
            self._schema(db)
        except sqlite3.OperationalError as exc:
            db.close()
            if _is_locked(exc):
                raise self._error("the evaluation store stayed locked by another process", exc,
                                  fix="wait for the other run to finish, or pass store= another path") from exc
            raise self._damaged(exc) from exc
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:  # a damaged schema: messages not UTF-8
            db.close()
            raise self._damaged(exc) from exc
        except StoreError:
            db.close()
            raise
        return db

    @staticmethod
    def _wal(db: sqlite3.Connection) -> None:
        """Switch to WAL once (the switch takes an exclusive lock and does not wait for a busy file)."""
        if db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            db.execute("PRAGMA journal_mode = WAL")

    def _check(self, db: sqlite3.Connection) -> None:
        rows = db.execute("PRAGMA quick_check").fetchall()
        if [r[0] for r in rows] != ["ok"]:
            raise self._damaged(RuntimeError("; ".join(str(r[0]) for r in rows[:5])))

    def _schema(self, db: sqlite3.Connection) -> None:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and "meta" not in tables:
            raise StoreError(f"{self.path} is an SQLite file but not a qshift evaluation store",
                             expected=f"tables meta, results, tasks, requests ({FORMAT})",
                             received="tables " + ", ".join(sorted(map(str, tables))),
                             fix="pass store= another path (this file belongs to something else)")
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in filter(str.strip, _SCHEMA.split(";")):
                db.execute(statement)
            meta = dict(db.execute("SELECT name, value FROM meta").fetchall())
            if not meta:
                db.executemany("INSERT INTO meta VALUES (?, ?)", [("format", FORMAT), ("version", str(VERSION))])
                meta = {"format": FORMAT, "version": str(VERSION)}
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        if meta.get("format") != FORMAT or not meta.get("version", "").isdigit():
            raise StoreError(f"{self.path} is not a qshift evaluation store", expected=f"format {FORMAT}",
                             received=f"format {meta.get('format')!r}", fix="pass store= another path")
        if int(meta["version"]) > VERSION:
            raise StoreError(f"{self.path} was written by a newer qshift", expected=f"store version <= {VERSION}",
                             received=f"version {meta['version']}", fix="upgrade qshift, or pass store= another path")

    # -- errors -----------------------------------------------------------------------------------
    def _error(self, problem: str, exc: BaseException, *, fix: str) -> StoreError:
        return StoreError(f"{problem}: {self.path}", expected="a readable, writable SQLite file",
                          received=f"{type(exc).__name__}: {exc}", fix=fix)

    def _damaged(self, exc: BaseException) -> StoreError:
        return StoreError(f"the evaluation store {self.path} is damaged (corrupt or truncated)",
                          expected="an intact qshift evaluation store", received=f"{type(exc).__name__}: {exc}",
                          fix=f"move it aside (mv '{self.path}' '{self.path}.damaged') and rerun: results are "
                              "computed again, and tasks recorded only in this file cannot be re-attached")

    def _transaction(self, work, *, write: bool):
        """Run ``work(db)`` in one transaction (``BEGIN IMMEDIATE`` when writing)."""
        with self._lock:
            if self._pid != os.getpid():  # a forked child must not share the parent's connection
                self._pid, self._db = os.getpid(), self._open()
            db = self._db
            try:
                db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    out = work(db)
                    db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
            except sqlite3.OperationalError as exc:
                if _is_locked(exc):
                    raise self._error("the evaluation store stayed locked by another process", exc,
                                      fix="wait for the other run to finish, or pass store= another path") from exc
                raise self._damaged(exc) from exc
            except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
                raise self._damaged(exc) from exc
            return out

    # -- results ----------------------------------------------------------------------------------
    def load(self, circuit: Circuit, device: str, shots: int | None, seed, angles: np.ndarray,
             rows: Sequence[int]) -> dict[int, tuple[np.ndarray, np.ndarray | None]]:
        """Stored results of ``angles[rows]``: ``{row: (values, variances)}`` for those found.

        Raises:
            StoreError: a stored row does not match its checksum, its angles or the circuit's outputs.
        """
        keys = {result_key(circuit.fingerprint, device, shots, seed, angles[i].tobytes()): i for i in rows}
        found: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}

        def read(db):
            for chunk in _chunks(list(keys)):
                marks = ",".join("?" * len(chunk))
                yield from db.execute("SELECT key, angles, n_outputs, vals, vars, checksum FROM results "
                                      f"WHERE key IN ({marks})", chunk).fetchall()

        for key, row_bytes, n_out, vals, var, checksum in self._transaction(lambda db: list(read(db)), write=False):
            i = keys[key]
            self._validate(key, row_bytes, n_out, vals, var, checksum, circuit, angles[i].tobytes())
            found[i] = (np.frombuffer(vals, dtype="<f8").copy(),
                        None if var is None else np.frombuffer(var, dtype="<f8").copy())
        return found

    def _validate(self, key, row_bytes, n_out, vals, var, checksum, circuit: Circuit, row: bytes) -> None:
        problems = []
        if not isinstance(vals, bytes) or (var is not None and not isinstance(var, bytes)):
            problems.append("values that are not float64 arrays")
        elif checksum != _checksum(key, n_out, vals, var):
            problems.append("a checksum that does not match its contents")
        elif row_bytes != row:
            problems.append("angles that differ from the ones asked for")
        elif n_out != circuit.n_outputs or len(vals) != 8 * n_out or (var is not None and len(var) != 8 * n_out):
            problems.append(f"{len(vals) // 8} values where circuit {circuit.name!r} has {circuit.n_outputs} outputs")
        if problems:
            raise StoreError(f"the evaluation store {self.path} holds a damaged result ({problems[0]})",
                             expected="intact stored results", received=f"result {key[:16]}...",
                             fix=f"move it aside (mv '{self.path}' '{self.path}.damaged') and rerun")

    def save(self, circuit: Circuit, device: str, shots: int | None, seed, angles: np.ndarray,
             values: np.ndarray, variances: np.ndarray | None, executions: int = 0) -> None:
        """Record the results of every row of ``angles`` (the first result of a key is kept)."""
        if len(angles) == 0:
            return
        now = time.time()
        per_row = executions // len(angles) if len(angles) else 0
        records = []
        for j, row in enumerate(angles):
            key = result_key(circuit.fingerprint, device, shots, seed, row.tobytes())
            vals = np.ascontiguousarray(values[j], dtype="<f8").tobytes()
            var = None if variances is None else np.ascontiguousarray(variances[j], dtype="<f8").tobytes()
            records.append((key, circuit.fingerprint, device, shots, None if shots is None or seed is None
                            else str(int(seed)), row.tobytes(), circuit.n_outputs, vals, var, per_row, now,
                            _checksum(key, circuit.n_outputs, vals, var)))
        self._transaction(lambda db: db.executemany(
            "INSERT OR IGNORE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", records), write=True)

    # -- requests ---------------------------------------------------------------------------------
    @contextmanager
    def request(self, key: str, device: str, seed: int | None = None, *,
                resume: bool | None = None) -> Iterator[int]:
        """Record one sampled request while it runs; yields the seed it runs with.

        ``key``: :func:`request_key`. ``seed``: the user's (it is recorded and used as is), or
        ``None``: the recorded seed of the same request when it was interrupted (``resume=None``,
        the default), the latest recorded one whether complete or not (``resume=True``; a fresh
        one when there is none), and otherwise, or with ``resume=False``, a fresh seed. The request
        is marked complete when the ``with`` block ends without an exception.

        Example:
            >>> import qshift, tempfile, os
            >>> store = qshift.EvaluationStore(os.path.join(tempfile.mkdtemp(), "s.sqlite"))
            >>> with store.request("k", "dev") as first:
            ...     pass
            >>> with store.request("k", "dev") as second:      # complete: a new sample
            ...     pass
            >>> with store.request("k", "dev", resume=True) as replay:
            ...     pass
            >>> first != second, replay == second
            (True, True)
        """
        seed = self._transaction(lambda db: self._begin(db, key, device, seed, resume), write=True)
        try:
            yield seed
            self._transaction(lambda db: db.execute(
                "UPDATE requests SET complete = 1, updated_at = ? WHERE key = ? AND seed = ?",
                (time.time(), key, str(seed))), write=True)
        finally:
            with _ACTIVE_LOCK:
                _ACTIVE[self._active_key(key, seed)] -= 1
                if _ACTIVE[self._active_key(key, seed)] <= 0:
                    del _ACTIVE[self._active_key(key, seed)]

    def _active_key(self, key: str, seed) -> tuple[str, str, str]:
        return (str(self.path), key, str(seed))

    def _begin(self, db: sqlite3.Connection, key: str, device: str, seed: int | None, resume: bool | None) -> int:
        """Choose the seed of a request and record it as running (in the caller's transaction)."""
        if seed is None:
            seed = self._recorded_seed(db, key, resume)
        seed = fresh() if seed is None else int(seed)
        now = time.time()
        db.execute("INSERT INTO requests VALUES (?, ?, ?, 0, ?, ?, ?) ON CONFLICT (key, seed) DO UPDATE SET "
                   "complete = 0, owner = excluded.owner, updated_at = excluded.updated_at",
                   (key, str(seed), device, _owner(), now, now))
        with _ACTIVE_LOCK:  # marked before the transaction ends: no other thread takes it for a crash
            _ACTIVE[self._active_key(key, seed)] += 1
        return seed

    def _recorded_seed(self, db: sqlite3.Connection, key: str, resume: bool | None) -> int | None:
        """The seed an unseeded request resumes with (``None``: a fresh one)."""
        if resume is False:
            return None
        rows = db.execute("SELECT seed, complete, owner FROM requests WHERE key = ? ORDER BY rowid DESC",
                          (key,)).fetchall()
        if resume is True:
            return int(rows[0][0]) if rows else None
        with _ACTIVE_LOCK:
            for seed, complete, owner in rows:
                if not complete and not _running(owner, _ACTIVE[self._active_key(key, seed)] > 0):
                    return int(seed)
        return None

    # -- tasks ------------------------------------------------------------------------------------
    def ledger(self, circuit: Circuit, device: str, shots: int | None, seed) -> "Ledger":
        """The task ledger of one request: what a backend records as it submits and collects."""
        return Ledger(self, circuit.fingerprint, device, shots, seed)

    def counts(self) -> dict[str, int]:
        """How many results the file holds, and tasks by status."""
        def count(db):
            out = {"results": db.execute("SELECT COUNT(*) FROM results").fetchone()[0]}
            out.update({f"tasks {s}": n for s, n in
                        db.execute("SELECT status, COUNT(*) FROM tasks GROUP BY status ORDER BY status")})
            return out

        return self._transaction(count, write=False)

    def prune(self, older_than: float, *, device: str | None = None, vacuum: bool = False) -> dict[str, int]:
        """Delete what is older than ``older_than`` seconds: results, and tasks that have ended.

        Tasks still being created or running are always kept (a rerun re-attaches to them), as is
        everything newer. The records of old complete requests go too (the records of
        interrupted ones stay, so that a rerun still resumes them). ``device``: only the entries
        of this device (the ``cache_key`` the store records for it). ``vacuum``: give the freed
        pages back to the file system (rewrites the file; it waits for other processes using it).

        Returns how many results and tasks were deleted.

        Example:
            >>> import qshift, tempfile, os
            >>> store = qshift.EvaluationStore(os.path.join(tempfile.mkdtemp(), "s.sqlite"))
            >>> store.prune(older_than=30 * 86400)
            {'results': 0, 'tasks': 0}
        """
        if not older_than >= 0:
            raise RequestError("older_than must be a number of seconds, 0 or more", expected="e.g. 30 * 86400",
                               received=repr(older_than), fix="pass the age in seconds of what may go")
        cutoff = time.time() - float(older_than)
        where, extra = ("", ()) if device is None else (" AND device = ?", (device,))

        def delete(db):
            results = db.execute(f"DELETE FROM results WHERE created_at < ?{where}", (cutoff, *extra)).rowcount
            tasks = db.execute("DELETE FROM tasks WHERE status IN ('COMPLETED', 'FAILED', 'CANCELLED') "
                               f"AND updated_at < ?{where}", (cutoff, *extra)).rowcount
            db.execute(f"DELETE FROM requests WHERE complete = 1 AND updated_at < ?{where}", (cutoff, *extra))
            return {"results": results, "tasks": tasks}

        removed = self._transaction(delete, write=True)
        if vacuum:
            with self._lock:
                try:
                    _while_locked(lambda: self._db.execute("VACUUM"))
                except sqlite3.OperationalError as exc:
                    raise self._error("the evaluation store could not be compacted", exc,
                                      fix="run again when no other qshift run uses the file") from exc
        return removed

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "EvaluationStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"EvaluationStore({str(self.path)!r})"


class Ledger:
    """The tasks of one request, as a backend submits and collects them (the ``TaskLedger`` it is given).

    A backend that sends quantum tasks calls, per task: :meth:`creating` (before the create
    call, with the idempotency token it will send; it answers the token to send, another
    process's when that one is already creating the same task), :meth:`submitted` (with the provider's task
    id), :meth:`ended` (the final status); and on a rerun, :meth:`find` first, to re-attach
    instead of submitting again. It adds the rows it re-attached to :attr:`reattached`.

    Parts are keyed by ``(row index, part)``: the row of the ``angles`` passed along, and
    ``-1`` for a task computing every output or a measurement-group index.

    ``Ledger(None, ...)`` records nothing (no store): every part is new.
    """

    def __init__(self, store: EvaluationStore | None, fingerprint: str = "", device: str = "",
                 shots: int | None = None, seed=None):
        self.store = store
        self.fingerprint, self.device, self.shots, self.seed = fingerprint, device, shots, seed
        self.reattached = 0

    @property
    def records(self) -> bool:
        """Whether tasks are kept (a store is open): unfinished ones can then be re-attached later."""
        return self.store is not None

    def _key(self, angles: np.ndarray, row: int) -> str:
        return result_key(self.fingerprint, self.device, self.shots, self.seed, angles[row].tobytes())

    def find(self, angles: np.ndarray, parts: Sequence[tuple[int, int]]) -> dict[tuple[int, int], TaskEntry]:
        """Recorded tasks of ``parts`` (``(row, part)`` pairs), as ``{(row, part): TaskEntry}``."""
        if self.store is None or not parts:
            return {}
        wanted = {(self._key(angles, r), p): (r, p) for r, p in parts}

        def read(db):
            rows = []
            for chunk in _chunks(sorted({k for k, _ in wanted})):
                marks = ",".join("?" * len(chunk))
                rows += db.execute("SELECT t.key, t.part, t.task_id, t.token, t.position, t.status, t.attempt, "
                                   "(SELECT COUNT(*) FROM tasks u WHERE u.token = t.token) FROM tasks t "
                                   f"WHERE t.key IN ({marks})", chunk).fetchall()
            return rows

        out = {}
        for key, part, task_id, token, position, status, attempt, size in self.store._transaction(read, write=False):
            if (key, part) in wanted:
                pos = tuple(json.loads(position)) if position else None
                out[wanted[key, part]] = TaskEntry(task_id, token, pos, status, attempt, size)
        return out

    def creating(self, token: str, angles: np.ndarray, parts: Sequence[tuple[int, int, tuple[int, int] | None]],
                 attempt: int) -> str:
        """About to create one task for ``parts`` (``(row, part, position)``) with idempotency ``token``.

        Returns the token the create call must carry: ``token``, or, when another process
        already claimed exactly these parts for one task that is being created, runs or has
        finished (two identical requests started at once), that task's token: the provider then
        answers with the same task instead of a second one. Checking and claiming are one
        transaction, so of two processes one claims and the other joins.
        """
        if self.store is None:
            return token
        now = time.time()
        keys = [self._key(angles, r) for r, _, _ in parts]
        records = [(key, p, None, token, None if pos is None else json.dumps(list(pos)),
                    self.device, "creating", attempt, None, now, now) for key, (_, p, pos) in zip(keys, parts)]

        def claim(db):
            held = set()
            for key, (_, p, _) in zip(keys, parts):
                row = db.execute("SELECT token, status FROM tasks WHERE key = ? AND part = ?", (key, p)).fetchone()
                held.add(row[0] if row and row[1] in ("creating", "submitted", "COMPLETED") else None)
            if len(held) == 1 and None not in held and token not in held:
                other = held.pop()
                if db.execute("SELECT COUNT(*) FROM tasks WHERE token = ?", (other,)).fetchone()[0] == len(parts):
                    return other
            db.executemany("INSERT OR REPLACE INTO tasks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", records)
            return token

        return self.store._transaction(claim, write=True)

    def submitted(self, token: str, task_id: str) -> None:
        """The create call with ``token`` answered: the task is ``task_id``."""
        if self.store is not None:
            self.store._transaction(lambda db: db.execute(
                "UPDATE tasks SET task_id = ?, status = 'submitted', updated_at = ? WHERE token = ?",
                (task_id, time.time(), token)), write=True)

    def ended(self, task_id: str, status: str, reason: str | None = None) -> None:
        """Task ``task_id`` ended with ``status`` (``COMPLETED``, ``FAILED``, ``CANCELLED``)."""
        if self.store is not None:
            self.store._transaction(lambda db: db.execute(
                "UPDATE tasks SET status = ?, reason = ?, updated_at = ? WHERE task_id = ?",
                (status, reason, time.time(), task_id)), write=True)


def _chunks(items: list, size: int = _CHUNK):
    for i in range(0, len(items), size):
        yield items[i:i + size]
