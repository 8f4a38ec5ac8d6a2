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
from operator import itemgetter
from typing import Any, TypeVar

from sqlalchemy import Boolean, Float, delete, event, insert, inspect, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, DBAPIError, InterfaceError, NoSuchModuleError, OperationalError
from sqlmodel import SQLModel, create_engine

from traces.multirow import insert_sharing
from traces.redact import known, redact, redact_rows, redact_tuples
from traces.schema import RunRow

DEFAULT_DB = "agora.db"


log = logging.getLogger(__name__)
T = TypeVar("T")


class StoreError(RuntimeError):
    """A store problem explained in one sentence that says what to change."""

    transient = False  # True: the store could not be reached now; trying again later may work


class StoreUnavailable(StoreError):
    """The store stayed away longer than the writer waits; the message says how to go on."""

    transient = True


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


_PLAIN: dict[tuple[Any, ...], tuple[str, Any] | None] = {}
_TUPLE_PLAN: dict[tuple[Any, ...], tuple[str, Callable[[Any], tuple[Any, ...]]]] = {}
_AS_IS: dict[tuple[str, tuple[str, ...]], bool] = {}
_NONE = type(None)


def insert_tuples(conn: Any, table: Any, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """Insert rows given as tuples of ``columns`` (insert-or-ignore for tables marked idempotent).

    On SQLite they go to the driver as they are (no dict per row: ``_insert_without_nulls``), several
    rows a statement for a table that names the columns its rows share (``info={"shared": (...)}``:
    ``traces.multirow``); the columns must be ones the driver takes as they are (text, integers, no
    conversion). PostgreSQL gets the rows through SQLAlchemy by name.
    """
    if not rows:
        return
    dialect = conn.dialect.name
    stmt = insert_ignoring(table, dialect) if table.info.get("idempotent") else insert(table)
    if dialect != "sqlite":
        conn.execute(stmt, [dict(zip(columns, r, strict=True)) for r in rows])
        return
    as_is = _AS_IS.get((table.name, columns))
    if as_is is None:
        as_is = _AS_IS[(table.name, columns)] = all(
            _conversion(table.columns[c].type, conn.dialect) is None for c in columns
        )
    if not as_is:
        raise StoreError(f"rows of {table.name} cannot be written as tuples of {columns}: a column converts values")
    shared = table.info.get("shared")
    if shared:  # rows that repeat some values (a round's spans): multi-row statements (traces.multirow)
        insert_sharing(
            conn, table, stmt, columns, rows, shared, lambda g: _insert_without_nulls(conn, table, stmt, columns, g)
        )
        return
    _insert_without_nulls(conn, table, stmt, columns, rows)


def _insert_without_nulls(
    conn: Any, table: Any, stmt: Any, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    """``executemany`` of SQLite rows (tuples of ``columns``, values as the driver takes them), NULLs left out.

    Python's sqlite3 binds a None through its adapter lookup (~0.5 us each) where a column left
    out of the INSERT costs nothing, so rows are grouped by where their None values are and each
    group is inserted naming only its other columns. Only a column without a default is left out,
    so what is stored is the same; the groups are inserted one after another.
    """
    groups: dict[tuple[type, ...], list[tuple[Any, ...]]] = {}
    for row in rows:
        shape = tuple(map(type, row))  # where the None values are (types: cheaper to make than a mask)
        group = groups.get(shape)
        if group is None:
            group = groups[shape] = []
        group.append(row)
    for shape, group in groups.items():
        key = (table.name, stmt.__class__, columns, tuple(t is _NONE for t in shape))
        plan = _TUPLE_PLAN.get(key)
        if plan is None:
            plan = _TUPLE_PLAN[key] = _null_free_plan(conn, table, stmt, columns, key[3])
        sql, values = plan
        conn.exec_driver_sql(sql, list(map(values, group)))


def _null_free_plan(
    conn: Any, table: Any, stmt: Any, columns: tuple[str, ...], nulls: tuple[bool, ...]
) -> tuple[str, Callable[[Any], tuple[Any, ...]]]:
    """The SQL and the value getter for rows of ``columns`` whose None values are where ``nulls`` says."""
    cols = table.columns
    keep = [
        i
        for i, (name, null) in enumerate(zip(columns, nulls, strict=True))
        if not null or cols[name].default is not None or cols[name].server_default is not None
    ]
    names = [columns[i] for i in keep]
    compiled = stmt.compile(dialect=conn.dialect, column_keys=names)
    if compiled.positiontup != names or compiled.insert_prefetch:
        raise StoreError(f"rows of {table.name} cannot be written as tuples of {columns}")
    getter = itemgetter(*keep) if len(keep) > 1 else lambda r, i=keep[0]: (r[i],)
    return str(compiled), getter


def _insert_plain(conn: Any, table: Any, stmt: Any, rows: list[Mapping[str, Any]]) -> bool:
    """Insert many SQLite rows straight through the driver when nothing needs SQLAlchemy's help.

    SQLAlchemy spends ~20 us per row building parameters; when no column of the table converts
    its values on the way in (or only a ``Float`` column does, which ``float`` does the same way)
    and no default is filled in, the compiled SQL with tuples is the same insert. Returns False
    (nothing written) when the ordinary path must be taken.
    """
    if conn.dialect.name != "sqlite" or len(rows) < 2:
        return False
    keys = tuple(rows[0])
    key = (table.name, stmt.__class__, conn.dialect.name, keys)
    plan = _PLAIN.get(key, False)
    if plan is False:
        plan = None
        cols = table.columns
        kinds = [_conversion(cols[k].type, conn.dialect) if k in cols else False for k in keys]
        if all(kind is not False for kind in kinds):
            compiled = stmt.compile(dialect=conn.dialect, column_keys=list(keys))
            order = compiled.positiontup
            if not compiled.insert_prefetch and order is not None and set(order) == set(keys):
                getter = itemgetter(*order) if len(order) > 1 else lambda r, k=order[0]: (r[k],)
                convert = dict(zip(keys, kinds, strict=True))
                floats = [i for i, k in enumerate(order) if convert[k] is float]
                plan = (str(compiled), _floats_at(getter, floats) if floats else getter)
        _PLAIN[key] = plan
    if plan is None:
        return False
    sql, values = plan
    n = len(keys)
    if set(map(len, rows)) != {n}:  # rows of one batch with different keys: left to SQLAlchemy
        return False
    try:
        params = list(map(values, rows))  # each row's values as a tuple in the statement's order
    except KeyError:
        return False
    conn.exec_driver_sql(sql, params)
    return True


def _conversion(type_: Any, dialect: Any) -> Any:
    """None: the driver takes the value as it is; ``float``: SQLAlchemy's Float would convert it so; False: neither."""
    # SQLite's driver stores a bool as the integer SQLAlchemy's Boolean would have made of it
    if isinstance(type_, Boolean) or type_.bind_processor(dialect) is None:
        return None
    if type(type_) is Float and not type_.asdecimal:  # its bind processor is float() of a value that is not None
        return float
    return False


def _floats_at(getter: Callable[[Any], tuple[Any, ...]], at: list[int]) -> Callable[[Any], tuple[Any, ...]]:
    def values(row: Any) -> tuple[Any, ...]:
        out = list(getter(row))
        for i in at:
            if out[i] is not None:
                out[i] = float(out[i])
        return tuple(out)

    return values


def _check_columns(engine: Engine, url: str) -> None:
    """Refuse a store whose tables an older or a newer Agora made (there are no migrations yet)."""
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
            _check_columns(engine, shown)  # before create_all, so a refused store is left as it was
            SQLModel.metadata.create_all(engine)
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
                    if not _insert_plain(conn, table, stmt, rows):
                        conn.execute(stmt, rows)
            if run_update:
                conn.execute(update(RunRow).where(RunRow.id == run_id).values(**run_update))
            done = run_update.get("rounds_done")
            if done is not None:  # the round's rows adopt its journal: the paid calls are in llm_calls now
                for table in tables.values():
                    if table.info.get("journal"):
                        conn.execute(delete(table).where(table.c.run_id == run_id, table.c.round <= done))

    def rounds_done(self, run_id: str) -> int:
        """Rounds of ``run_id`` committed so far (0 for an unknown run)."""
        with self.engine.connect() as conn:
            done = conn.execute(select(RunRow.rounds_done).where(RunRow.id == run_id)).scalar()
        return int(done or 0)

    def update_run(self, run_id: str, **values: Any) -> None:
        """Change fields of a run row (status, summary, ...)."""
        if "summary_json" in values and not isinstance(values["summary_json"], (str, type(None))):
            values["summary_json"] = json.dumps(values["summary_json"], sort_keys=True)
        values = {k: redact(v) if isinstance(v, str) else v for k, v in values.items()}
        with self.engine.begin() as conn:
            conn.execute(update(RunRow).where(RunRow.id == run_id).values(**values))
