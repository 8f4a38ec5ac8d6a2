"""The SQL store: one engine per URL, created on first use (never at import).

SQLite (the default, a file) runs in WAL mode with a busy timeout; PostgreSQL is reached by
URL (``postgresql+psycopg://...``). Writes from a run arrive as one batch per round and are
committed in one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Boolean, event, insert, inspect, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlmodel import SQLModel, create_engine

from traces.schema import RunRow

DEFAULT_DB = "agora.db"


class StoreError(RuntimeError):
    """A store problem explained in one sentence that says what to change."""


def normalise_url(url_or_path: str | None) -> str:
    """Turn a file path or URL into a SQLAlchemy URL (plain paths become SQLite files)."""
    target = url_or_path or DEFAULT_DB
    if "://" not in target:
        return f"sqlite:///{target}"
    if target.startswith("postgresql://") or target.startswith("postgres://"):
        return "postgresql+psycopg://" + target.split("://", 1)[1]
    return target


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


@dataclass
class RoundBatch:
    """Rows to commit together at the end of a round, by table name."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, table: str, row: Mapping[str, Any]) -> None:
        """Queue one row for ``table``."""
        self.rows.setdefault(table, []).append(dict(row))

    def extend(self, table: str, rows: Iterable[Mapping[str, Any]]) -> None:
        """Queue many rows for ``table``."""
        self.rows.setdefault(table, []).extend(dict(r) for r in rows)

    def __len__(self) -> int:
        return sum(len(v) for v in self.rows.values())


def insert_ignoring(table: Any, dialect: str) -> Any:
    """An INSERT that skips rows whose primary key is already present (SQLite or PostgreSQL).

    Tables marked ``info={"idempotent": True}`` are written this way by ``commit_round``.
    """
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    raise StoreError(f"the store supports SQLite and PostgreSQL URLs, not {dialect}; use one of those")


def upsert(table: Any, dialect: str) -> Any:
    """An INSERT that replaces every other column of a row whose primary key is already present.

    Tables marked ``info={"upsert": True}`` are written this way by ``commit_round``.
    """
    mod = {"postgresql": postgresql, "sqlite": sqlite}.get(dialect)
    if mod is None:
        raise StoreError(f"the store supports SQLite and PostgreSQL URLs, not {dialect}; use one of those")
    stmt = mod.insert(table)
    keys = [c.name for c in table.primary_key.columns]
    rest = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
    return stmt.on_conflict_do_update(index_elements=keys, set_=rest)


_PLAIN: dict[tuple[Any, ...], tuple[str, tuple[str, ...]] | None] = {}


def _insert_plain(conn: Any, table: Any, stmt: Any, rows: list[Mapping[str, Any]]) -> bool:
    """Insert many SQLite rows straight through the driver when nothing needs SQLAlchemy's help.

    SQLAlchemy spends ~20 us per row building parameters; when no column of the table converts
    its values on the way in and no default is filled in, the compiled SQL with tuples is the
    same insert. Returns False (nothing written) when the ordinary path must be taken.
    """
    if conn.dialect.name != "sqlite" or len(rows) < 2:
        return False
    keys = tuple(rows[0])
    key = (table.name, stmt.__class__, conn.dialect.name, keys)
    plan = _PLAIN.get(key, False)
    if plan is False:
        plan = None
        cols = table.columns
        if all(k in cols and _passes_through(cols[k].type, conn.dialect) for k in keys):
            compiled = stmt.compile(dialect=conn.dialect, column_keys=list(keys))
            order = compiled.positiontup
            if not compiled.insert_prefetch and order is not None and set(order) == set(keys):
                plan = (str(compiled), tuple(order))
        _PLAIN[key] = plan
    if plan is None:
        return False
    sql, order = plan
    n = len(keys)
    try:
        params = [tuple([r[k] for k in order]) for r in rows if len(r) == n or _mismatch()]
    except (KeyError, _RowShape):
        return False
    conn.exec_driver_sql(sql, params)
    return True


def _passes_through(type_: Any, dialect: Any) -> bool:
    # SQLite's driver stores a bool as the integer SQLAlchemy's Boolean would have made of it
    return isinstance(type_, Boolean) or type_.bind_processor(dialect) is None


class _RowShape(Exception):
    """Rows of one batch with different keys: left to SQLAlchemy."""


def _mismatch() -> bool:
    raise _RowShape


def _check_columns(engine: Engine, url: str) -> None:
    """Refuse a store whose tables an older Agora made (there are no migrations yet)."""
    inspector = inspect(engine)
    for table in SQLModel.metadata.sorted_tables:
        have = {c["name"] for c in inspector.get_columns(table.name)}
        missing = [c.name for c in table.columns if c.name not in have]
        if missing:
            raise StoreError(
                f"the store at '{url}' was made by an older version of Agora: table '{table.name}' lacks "
                f"{', '.join(missing)}; use a new database file or URL (or drop its tables) and run again"
            )


class Store:
    """Access to one database: creates the schema, commits batches, reads back."""

    def __init__(self, url: str | None = None, *, echo: bool = False) -> None:
        self.url = normalise_url(url)
        self._echo = echo
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
        try:
            url = make_url(self.url)
            kwargs: dict[str, Any] = {"echo": self._echo}
            if url.get_backend_name() == "sqlite":
                kwargs["connect_args"] = {"check_same_thread": False, "timeout": 10}
            else:
                kwargs["pool_pre_ping"] = True
            engine = create_engine(self.url, **kwargs)
        except (ArgumentError, NoSuchModuleError, ValueError) as err:
            raise StoreError(
                f"'{self.url}' is not a database URL Agora can use ({err}); give a file path such as "
                "agora.db or a URL such as postgresql+psycopg://user@127.0.0.1:5432/dbname"
            ) from None
        from traces import tables  # noqa: F401  (every table module, so create_all sees them all)

        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        try:
            SQLModel.metadata.create_all(engine)
            _check_columns(engine, self.url)
        except OperationalError as err:
            raise StoreError(f"cannot open the store at '{self.url}': {err.orig}; check the path or URL") from None
        return engine

    def dispose(self) -> None:
        """Close every pooled connection."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # --- writes -------------------------------------------------------------
    def create_run(self, run: Mapping[str, Any]) -> None:
        """Insert the row of a new run."""
        with self.engine.begin() as conn:
            conn.execute(insert(RunRow), [dict(run)])

    def commit_round(self, run_id: str, batch: RoundBatch, run_update: Mapping[str, Any]) -> None:
        """Write a round's rows and update the run row, in one transaction."""
        tables = SQLModel.metadata.tables
        with self.engine.begin() as conn:
            for name, rows in batch.rows.items():
                if rows:
                    table = tables[name]
                    if table.info.get("upsert"):  # rows that change over a run (alert cases)
                        conn.execute(upsert(table, conn.dialect.name), rows)
                        continue
                    stmt = insert_ignoring(table, conn.dialect.name) if table.info.get("idempotent") else insert(table)
                    if not _insert_plain(conn, table, stmt, rows):
                        conn.execute(stmt, rows)
            if run_update:
                conn.execute(update(RunRow).where(RunRow.id == run_id).values(**run_update))

    def update_run(self, run_id: str, **values: Any) -> None:
        """Change fields of a run row (status, summary, ...)."""
        if "summary_json" in values and not isinstance(values["summary_json"], (str, type(None))):
            values["summary_json"] = json.dumps(values["summary_json"], sort_keys=True)
        with self.engine.begin() as conn:
            conn.execute(update(RunRow).where(RunRow.id == run_id).values(**values))
