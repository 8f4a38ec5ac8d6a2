"""The SQL store: one engine per URL, created on first use (never at import).

SQLite (the default, a file) runs in WAL mode with a busy timeout; PostgreSQL is reached by
URL (``postgresql+psycopg://...``). Writes from a run arrive as one batch per round and are
committed in one transaction.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import delete, event, insert, inspect, select, update
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, DBAPIError, InterfaceError, NoSuchModuleError, OperationalError
from sqlalchemy.schema import CreateIndex, CreateTable
from sqlmodel import SQLModel, col, create_engine

from traces.redact import known, redact, redact_rows, redact_tuples
from traces.schema import RunRow
from traces.sql_writes import (
    clear_journals_sqlite,
    insert_ignoring,
    insert_plain,
    insert_tuples,
    update_run_sqlite,
    upsert,
)
from traces.store_errors import StoreError, StoreUnavailable

DEFAULT_DB = "agora.db"


log = logging.getLogger(__name__)
T = TypeVar("T")


def is_transient(err: BaseException) -> bool:
    """Whether ``err`` says the store is away for now (connection lost, locked, read-only), not wrong."""
    if isinstance(err, StoreError):
        return err.transient
    if isinstance(err, (OperationalError, InterfaceError)):
        return True
    return isinstance(err, DBAPIError) and bool(err.connection_invalidated)


def retrying(
    op: Callable[[], T],
    *,
    wait: float,
    what: str,
    where: str,
    done: Callable[[], bool] | None = None,
    then: str = "",
) -> T | None:
    """Run ``op``; while the store is away, try again with backoff (0.05 s doubling to 2 s) for ``wait`` s.

    ``done`` tells whether an attempt whose answer was lost did commit (then None is returned).
    Past ``wait``, raises ``StoreUnavailable`` saying ``what`` was not written and ``then`` (what to do).
    """
    deadline = time.monotonic() + wait
    delay, attempts = 0.05, 0
    while True:
        attempts += 1
        try:
            return op()
        except Exception as err:
            if not is_transient(err):
                raise
            reason = " ".join(str(getattr(err, "orig", None) or err).split())[:200]
        if time.monotonic() + delay > deadline:
            raise StoreUnavailable(
                f"the store at '{where}' stayed unreachable for {wait:g} s ({attempts} attempts; last: {reason}), "
                f"so {what} was not written{then}"
            )
        log.warning("store at %s unreachable (%s); trying again in %.2f s", where, reason, delay)
        time.sleep(delay)
        delay = min(delay * 2, 2.0)
        if done is not None:
            try:
                if done():
                    return None
            except Exception as err:  # still away: the next attempt tells
                if not is_transient(err):
                    raise


def normalise_url(url_or_path: str | None) -> str:
    """Turn a file path or URL into a SQLAlchemy URL (plain paths become SQLite files)."""
    target = url_or_path or DEFAULT_DB
    if "://" not in target:
        return f"sqlite:///{target}"
    if target.startswith("postgresql://") or target.startswith("postgres://"):
        return "postgresql+psycopg://" + target.split("://", 1)[1]
    return target


# Per connection: a round of a big run dirties a page of every agent-keyed index per agent (hundreds of
# pages, all appended to the WAL at its commit). With SQLite's default 2 MB cache those pages were read
# back from the file each round, and the default checkpoint every 1,000 WAL pages copied the same pages
# to the database again and again (two fsyncs each time). 32 MB of cache (taken only as pages are used)
# and a checkpoint every 4,000 pages (a WAL of at most about 16 MB) cut a 40,000-order double auction's
# reads 66k -> 16k, writes 183k -> 162k and fsyncs 185 -> 59 (docs/performance-history.md, sixth pass). Every
# round is still committed at its end, with synchronous=NORMAL, and readers read the WAL as before.
CACHE_KIB = 32_000
WAL_CHECKPOINT_PAGES = 4_000


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    cur.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
    cur.close()


@dataclass
class RoundBatch:
    """Rows to commit together at the end of a round, by table name."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # rows held as tuples: (the table's columns the tuples give, in their order) and the rows
    tuples: dict[str, tuple[tuple[str, ...], list[tuple[Any, ...]]]] = field(default_factory=dict)

    def add(self, table: str, row: Mapping[str, Any]) -> None:
        """Queue one row for ``table``."""
        self.rows.setdefault(table, []).append(dict(row))

    def extend(self, table: str, rows: Iterable[Mapping[str, Any]]) -> None:
        """Queue many rows for ``table``."""
        self.rows.setdefault(table, []).extend(dict(r) for r in rows)

    def extend_tuples(self, table: str, columns: tuple[str, ...], rows: Iterable[tuple[Any, ...]]) -> None:
        """Queue many rows for ``table`` as tuples of ``columns`` (no dict per row: the hot tables' form)."""
        held = self.tuples.get(table)
        if held is None:
            held = self.tuples[table] = (columns, [])
        elif held[0] != columns:
            raise ValueError(f"rows of {table} were queued with other columns: {held[0]} then {columns}")
        held[1].extend(rows)

    def __len__(self) -> int:
        return sum(len(v) for v in self.rows.values()) + sum(len(r) for _, r in self.tuples.values())


_DDL: dict[tuple[str, ...], list[str]] = {}


def _create_schema(engine: Engine, present: set[str]) -> None:
    """Create the tables and indexes ``present`` lacks (``create_all``).

    A new SQLite file gets the same CREATE statements compiled once per process: compiling them is
    most of opening a store (about 40 million instructions), which a process running many runs
    paid per run. Made in one ``BEGIN IMMEDIATE`` transaction; when another process created tables
    meanwhile, ``create_all`` adds what is missing as before.
    """
    metadata = SQLModel.metadata
    if present or engine.dialect.name != "sqlite":
        metadata.create_all(engine)
        return
    key = tuple(metadata.tables)
    ddl = _DDL.get(key)
    if ddl is None:
        ddl = []
        for table in metadata.sorted_tables:
            ddl.append(str(CreateTable(table).compile(dialect=engine.dialect)).strip())
            ddl += [str(CreateIndex(i).compile(dialect=engine.dialect)) for i in sorted(table.indexes, key=_name)]
        _DDL[key] = ddl
    raw = engine.raw_connection()
    try:
        db = raw.driver_connection
        assert db is not None
        db.execute("BEGIN IMMEDIATE")
        try:
            fresh = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
            if fresh:
                for stmt in ddl:
                    db.execute(stmt)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    finally:
        raw.close()
    if not fresh:
        metadata.create_all(engine)


def _name(index: Any) -> str:
    return str(index.name)


def _check_columns(engine: Engine, url: str) -> set[str]:
    """Refuse a store whose tables an older or a newer Agora made (there are no migrations yet).

    Returns the names of the tables the store has."""
    inspector = inspect(engine)
    present = set(inspector.get_table_names())
    for table in SQLModel.metadata.sorted_tables:
        if table.name not in present:
            continue  # created next, by create_all
        have = {c["name"] for c in inspector.get_columns(table.name)}
        missing = [c.name for c in table.columns if c.name not in have]
        if missing:
            raise StoreError(
                f"the store at '{url}' was made by an older version of Agora: table '{table.name}' lacks "
                f"{', '.join(missing)}; use a new database file or URL (or drop its tables) and run again"
            )
        extra = sorted(have - {c.name for c in table.columns})
        if extra:  # a newer Agora added columns this one would leave empty (and may require)
            raise StoreError(
                f"the store at '{url}' was made by a newer version of Agora: table '{table.name}' has columns "
                f"this version does not know ({', '.join(extra)}); upgrade Agora or use a new database file or URL"
            )
    return present


BACKENDS = ("sqlite", "postgresql")


def shown_url(url: str) -> str:
    """``url`` with any password masked, for messages (a URL may carry credentials)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return url


def _damaged(err: DatabaseError) -> bool:
    text = str(err.orig).lower()
    return any(w in text for w in ("not a database", "malformed", "disk image", "corrupt", "file is encrypted"))


def _check_sqlite_file(engine: Engine, shown: str) -> None:
    """Read every page header of an SQLite file once, so damage is found at open, not mid-run.

    ``quick_check`` reads the whole file; it is skipped past 32 MB (a check per open would cost a
    second), where a damaged file fails at its first damaged page instead.
    """
    from sqlalchemy import text

    with engine.connect() as conn:
        pages = conn.execute(text("PRAGMA page_count")).scalar() or 0
        size = conn.execute(text("PRAGMA page_size")).scalar() or 4096
        if pages * size > 32 * 1024 * 1024:
            return
        result = conn.execute(text("PRAGMA quick_check(1)")).scalar()
    if result != "ok":
        raise StoreError(
            f"the store at '{shown}' is damaged ({result}); move it aside and use a new file, or restore a copy"
        )


class Store:
    """Access to one database: creates the schema, commits batches, reads back."""

    def __init__(self, url: str | None = None, *, echo: bool = False, busy_timeout: float = 10.0) -> None:
        self.url = normalise_url(url)
        self._echo = echo
        self.busy_timeout = busy_timeout  # SQLite: seconds to wait for another writer's lock
        self._engine: Engine | None = None

    @property
    def is_sqlite(self) -> bool:
        """Whether the store is a SQLite database."""
        return self.url.startswith("sqlite")

    @property
    def engine(self) -> Engine:
        """The engine, created (and the schema with it) on first use."""
        if self._engine is None:
            self._engine = self._connect()
        return self._engine

    def _connect(self) -> Engine:
        shown = shown_url(self.url)
        usable = "give a file path such as agora.db or a URL such as postgresql+psycopg://user@127.0.0.1:5432/dbname"
        try:
            url = make_url(self.url)
            backend = url.get_backend_name()
            if backend not in BACKENDS:
                raise StoreError(
                    f"'{shown}' is not a database URL Agora can use (a {backend} URL; Agora stores runs in "
                    f"SQLite or PostgreSQL): {usable}"
                )
            kwargs: dict[str, Any] = {"echo": self._echo}
            if backend == "sqlite":
                kwargs["connect_args"] = {"check_same_thread": False, "timeout": self.busy_timeout}
            else:
                kwargs["pool_pre_ping"] = True
            engine = create_engine(self.url, **kwargs)
        except (ArgumentError, NoSuchModuleError, ValueError, ImportError) as err:
            reason = " ".join(str(err).split())[:200]
            raise StoreError(f"'{shown}' is not a database URL Agora can use ({reason}); {usable}") from None
        # every table module is imported by traces/__init__.py, so create_all sees them all
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", self._sqlite_pragmas)
        try:
            if engine.dialect.name == "sqlite":
                _check_sqlite_file(engine, shown)
            present = _check_columns(engine, shown)  # before creating tables, so a refused store is left as it was
            _create_schema(engine, present)
        except DatabaseError as err:
            engine.dispose()
            reason = " ".join(str(err.orig).split())[:200]
            hint = (
                "it is not an SQLite database or it is damaged (truncated, overwritten); move it aside and use "
                "a new file, or restore a copy"
                if engine.dialect.name == "sqlite" and _damaged(err)
                else "check the path or URL, and that the database server is running"
            )
            opened = StoreError(f"cannot open the store at '{shown}' ({reason}): {hint}")
            opened.transient = isinstance(err, OperationalError) and not _damaged(err)
            raise opened from None
        except StoreError:
            engine.dispose()
            raise
        return engine

    def _sqlite_pragmas(self, dbapi_conn: Any, record: Any) -> None:
        _sqlite_pragmas(dbapi_conn, record)
        if self.busy_timeout != 10:
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout={int(self.busy_timeout * 1000)}")
            cur.close()

    def dispose(self) -> None:
        """Close every pooled connection."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # --- writes -------------------------------------------------------------
    def create_run(self, run: Mapping[str, Any]) -> None:
        """Insert the row of a new run."""
        row = dict(run)
        redact_rows([row])
        with self.engine.begin() as conn:
            conn.execute(insert(RunRow), [row])

    def commit_round(self, run_id: str, batch: RoundBatch, run_update: Mapping[str, Any]) -> None:
        """Write a round's rows and update the run row, in one transaction."""
        tables = SQLModel.metadata.tables
        secrets = known()  # looked up once per round: it reads the environment
        for rows in batch.rows.values():
            redact_rows(rows, secrets)  # no key, token or credential the run was given is stored (traces.redact)
        for _, tuples in batch.tuples.values():
            redact_tuples(tuples, secrets)
        with self.engine.begin() as conn:
            for name, (columns, tuples) in batch.tuples.items():
                insert_tuples(conn, tables[name], columns, tuples)
            for name, rows in batch.rows.items():
                if rows:
                    table = tables[name]
                    if table.info.get("upsert"):  # rows that change over a run (alert cases)
                        conn.execute(upsert(table, conn.dialect.name), rows)
                        continue
                    stmt = insert_ignoring(table, conn.dialect.name) if table.info.get("idempotent") else insert(table)
                    if not insert_plain(conn, table, stmt, rows):
                        conn.execute(stmt, rows)
            on_sqlite = conn.dialect.name == "sqlite"
            if run_update and not (on_sqlite and update_run_sqlite(conn, run_id, run_update)):
                conn.execute(update(RunRow).where(col(RunRow.id) == run_id).values(**run_update))
            done = run_update.get("rounds_done")
            if done is not None and on_sqlite:
                clear_journals_sqlite(conn, tables.values(), run_id, done)
            elif done is not None:  # the round's rows adopt its journal: the paid calls are in llm_calls now
                for table in tables.values():
                    if table.info.get("journal"):
                        conn.execute(delete(table).where(table.c.run_id == run_id, table.c.round <= done))

    def rounds_done(self, run_id: str) -> int:
        """Rounds of ``run_id`` committed so far (0 for an unknown run)."""
        with self.engine.connect() as conn:
            done = conn.execute(select(col(RunRow.rounds_done)).where(col(RunRow.id) == run_id)).scalar()
        return int(done or 0)

    def update_run(self, run_id: str, **values: Any) -> None:
        """Change fields of a run row (status, summary, ...)."""
        if "summary_json" in values and not isinstance(values["summary_json"], (str, type(None))):
            values["summary_json"] = json.dumps(values["summary_json"], sort_keys=True)
        values = {k: redact(v) if isinstance(v, str) else v for k, v in values.items()}
        with self.engine.begin() as conn:
            conn.execute(update(RunRow).where(col(RunRow.id) == run_id).values(**values))
