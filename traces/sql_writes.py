"""The round commit's SQL: idempotent and upserting inserts, and the SQLite writes made through the driver.

On SQLite the round's rows go to the driver's ``executemany`` with no SQLAlchemy execution context:
tuples in column order (``insert_tuples``), dicts whose columns need no conversion
(``insert_plain``), the run row's update and the journal clearing (statements compiled once per
process). PostgreSQL takes SQLAlchemy's path. ``traces.store.Store.commit_round`` uses them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal

from sqlalchemy import Boolean, Float, delete, insert, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlmodel import col

from traces.multirow import columns_kept, insert_sharing, row_getter
from traces.schema import RunRow
from traces.store_errors import StoreError


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
        _driver_many(conn, sql, list(map(values, group)))


def _null_free_plan(
    conn: Any, table: Any, stmt: Any, columns: tuple[str, ...], nulls: tuple[bool, ...]
) -> tuple[str, Callable[[Any], tuple[Any, ...]]]:
    """The SQL and the value getter for rows of ``columns`` whose None values are where ``nulls`` says."""
    keep = columns_kept(table.columns, columns, nulls)
    names = [columns[i] for i in keep]
    compiled = stmt.compile(dialect=conn.dialect, column_keys=names)
    if compiled.positiontup != names or compiled.insert_prefetch:
        raise StoreError(f"rows of {table.name} cannot be written as tuples of {columns}")
    return str(compiled), row_getter(keep)


def insert_plain(conn: Any, table: Any, stmt: Any, rows: Sequence[Mapping[str, Any]]) -> bool:
    """Insert many SQLite rows straight through the driver when nothing needs SQLAlchemy's help.

    SQLAlchemy spends ~20 us per row building parameters; when no column of the table converts
    its values on the way in (or only a ``Float`` column does, which ``float`` does the same way)
    and no default is filled in, the compiled SQL with tuples is the same insert. Returns False
    (nothing written) when the ordinary path must be taken.
    """
    if conn.dialect.name != "sqlite" or not rows:
        return False
    keys = tuple(rows[0])
    key = (table.name, stmt.__class__, conn.dialect.name, keys)
    plan: tuple[str, Any] | None | Literal[False] = _PLAIN.get(key, False)
    if plan is False:
        plan = None
        cols = table.columns
        kinds = [_conversion(cols[k].type, conn.dialect) if k in cols else False for k in keys]
        if all(kind is not False for kind in kinds):
            compiled = stmt.compile(dialect=conn.dialect, column_keys=list(keys))
            order = compiled.positiontup
            if not compiled.insert_prefetch and order is not None and set(order) == set(keys):
                getter = row_getter(order)
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
    _driver_many(conn, sql, params)
    return True


def _driver_many(conn: Any, sql: str, params: list[tuple[Any, ...]]) -> None:
    """``executemany`` on the SQLite driver's own connection, inside ``conn``'s transaction.

    SQLAlchemy's ``exec_driver_sql`` builds an execution context per statement (tens of thousands of
    instructions; a round sends several); the driver's connection is the one ``conn`` holds, so the
    rows join the same transaction. Driver errors are raised as SQLAlchemy's (``OperationalError``
    for a locked or read-only store), so ``retrying`` tells a store away from a wrong write as before.
    """
    try:
        conn.connection.driver_connection.executemany(sql, params)
    except sqlite3.Error as err:
        raise DBAPIError.instance(sql, params[:1], err, sqlite3.Error) from err


_RUN_UPDATE: dict[tuple[str, ...], str] = {}
_JOURNAL_DELETE: dict[str, str] = {}


def update_run_sqlite(conn: Any, run_id: str, values: Mapping[str, Any]) -> bool:
    """``UPDATE runs SET ... WHERE id = run_id`` through the driver, its SQL compiled once per set of
    columns; False (nothing done) when a value is not one the driver takes as it is."""
    cols = RunRow.__table__.columns  # type: ignore[attr-defined]
    keys = tuple(values)
    sql = _RUN_UPDATE.get(keys)
    if sql is None:
        if not all(k in cols and _conversion(cols[k].type, conn.dialect) is None for k in keys):
            return False
        compiled = update(RunRow).where(col(RunRow.id) == run_id).values(**values).compile(dialect=conn.dialect)
        if list(compiled.positiontup or ()) != [*keys, "id_1"]:
            return False
        sql = _RUN_UPDATE[keys] = str(compiled)
    if not all(v is None or type(v) in (int, str) for v in values.values()):
        return False
    _driver_many(conn, sql, [(*values.values(), run_id)])
    return True


def clear_journals_sqlite(conn: Any, tables: Iterable[Any], run_id: str, done: int) -> None:
    """Delete the journal rows of rounds up to ``done`` (tables marked ``journal``), SQL compiled once."""
    for table in tables:
        if table.info.get("journal"):
            sql = _JOURNAL_DELETE.get(table.name)
            if sql is None:
                compiled = (
                    delete(table).where(table.c.run_id == run_id, table.c.round <= done).compile(dialect=conn.dialect)
                )
                if list(compiled.positiontup or ()) != ["run_id_1", "round_1"]:
                    raise StoreError(f"the journal {table.name} cannot be cleared through the driver")
                sql = _JOURNAL_DELETE[table.name] = str(compiled)
            _driver_many(conn, sql, [(run_id, done)])


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
