"""Reading an evaluation store's SQLite file from outside while another process writes it (kill tests)."""

import sqlite3
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
