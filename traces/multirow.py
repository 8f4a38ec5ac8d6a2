"""Multi-row INSERTs on SQLite for a batch whose rows share values: the span rows of a round.

The rows one round hands to the store (``traces.spans``: a round's turns and submissions) repeat
the same run id, trace id, parent id, name, operation, kind and status row after row. Written one
row at a time (``executemany``), SQLite steps its INSERT program once a row and Python's driver
binds each of those values again; here up to ``ROWS_PER_INSERT`` rows go in one statement
(``VALUES (...), (...)``) and the values a group of rows shares are bound once, as numbered
parameters every row of the statement names. About 16,000 instructions fewer a span row than the
row-at-a-time insert (a double-auction round's rows, the table and its five indexes, callgrind).

What is stored is the same: the same rows in the same order, NULLs left out of the INSERT
exactly as the row-at-a-time path leaves them (``traces.store._insert_without_nulls``), and
insert-or-ignore kept (a row whose key is present is skipped, also within one statement).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import chain
from operator import itemgetter
from typing import Any

from sqlalchemy.exc import DBAPIError

ROWS_PER_INSERT = 32
"""Rows a statement at most; smaller statements (16, 8, ... 1 rows) take what is left over."""

MAX_PARAMETERS = 999
"""SQLite's smallest limit of parameters a statement (builds before 3.32); a wide row gets fewer rows a statement."""

_NONE = type(None)
# (table, statement class, columns, which values are None) -> (rows a statement, SQL by rows a statement,
# the shared columns' indexes, the getter of a row's own values); None: no multi-row form, rows go one by one
_PLANS: dict[tuple[Any, ...], Any] = {}
# (table, columns, shared) -> (the shared columns' indexes, the nullable columns' indexes, their getters): looked
# up once (a table's columns by name cost about a microsecond each through SQLAlchemy)
_LAYOUTS: dict[tuple[Any, ...], Any] = {}
# (nullable columns' indexes, columns, the types of a row's values there) -> which of the columns are None
_NULLS: dict[tuple[Any, ...], tuple[bool, ...]] = {}


def insert_sharing(
    conn: Any,
    table: Any,
    stmt: Any,
    columns: tuple[str, ...],
    rows: list[tuple[Any, ...]],
    shared: tuple[str, ...],
    one_by_one: Callable[[list[tuple[Any, ...]]], None],
) -> None:
    """Insert SQLite rows (tuples of ``columns``) in multi-row statements, the ``shared`` columns' values bound once a statement.

    Rows are grouped by where their None values are and by their values of ``shared`` (in the
    order the groups first appear, each group in its rows' order). A group whose statement
    cannot be made here goes to ``one_by_one`` (the row-at-a-time path) as it is.
    """
    cols = table.columns
    layout = _LAYOUTS.get((table, columns, shared))
    if layout is None:
        where = [i for i, name in enumerate(columns) if name in shared]
        # where a row's None values are, looked for only in the columns that allow NULL: a None elsewhere is
        # bound as it is and refused by SQLite, as the row-at-a-time path refuses it
        nullable_at = [i for i, name in enumerate(columns) if cols[name].nullable]
        layout = _LAYOUTS[(table, columns, shared)] = (
            where,
            tuple(nullable_at),
            row_getter(where),
            row_getter(nullable_at),
        )
    where, nullable, take, maybe = layout
    groups: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
    for row in rows:
        key = (tuple(map(type, maybe(row))), take(row))
        group = groups.get(key)
        if group is None:
            group = groups[key] = []
        group.append(row)
    for (shape, _), group in groups.items():
        nulls = _NULLS.get((nullable, len(columns), shape))
        if nulls is None:
            null_at = {i for i, t in zip(nullable, shape, strict=True) if t is _NONE}
            nulls = _NULLS[(nullable, len(columns), shape)] = tuple(i in null_at for i in range(len(columns)))
        pkey = (table.name, stmt.__class__, columns, nulls)
        plan = _PLANS.get(pkey, False)
        if plan is False:
            plan = _PLANS[pkey] = _plan(conn, cols, stmt, columns, nulls, where)
        if plan is None:
            one_by_one(group)
            continue
        _write(conn, plan, group)


def _write(conn: Any, plan: tuple[int, dict[int, str], Any, Any], group: list[tuple[Any, ...]]) -> None:
    """One group: full statements of ``n`` rows in one ``executemany``, then what is left in halving sizes.

    Sent on the transaction's own driver connection (SQLAlchemy's statement set-up, tens of
    microseconds a call, would come back for each leftover statement); a driver error is raised
    as SQLAlchemy raises it (``IntegrityError``, ``OperationalError``, ...), so callers see the same.
    """
    n, sql, once, own = plan
    first = once(group[0])
    full = len(group) - len(group) % n
    cursor = conn.connection.cursor()
    statement = sql[n]
    params: list[tuple[Any, ...]] | tuple[Any, ...] | None = None
    try:
        if full:
            params = [(*first, *chain.from_iterable(map(own, group[i : i + n]))) for i in range(0, full, n)]
            cursor.executemany(statement, params)
        i, size = full, n // 2
        while i < len(group):
            if len(group) - i >= size:
                statement, params = sql[size], (*first, *chain.from_iterable(map(own, group[i : i + size])))
                cursor.execute(statement, params)
                i += size
            size //= 2
    except conn.dialect.loaded_dbapi.Error as err:
        raise DBAPIError.instance(
            statement, params, err, conn.dialect.loaded_dbapi.Error, dialect=conn.dialect
        ) from err
    finally:
        cursor.close()


def _plan(
    conn: Any, cols: Any, stmt: Any, columns: tuple[str, ...], nulls: tuple[bool, ...], where: list[int]
) -> tuple[int, dict[int, str], Any, Any] | None:
    """The statements (by rows a statement: n, n/2, ... 1) for rows whose None values are where ``nulls`` says."""
    keep = columns_kept(cols, columns, nulls)
    names = [columns[i] for i in keep]
    compiled = stmt.compile(dialect=conn.dialect, column_keys=names)
    one_row = "VALUES (" + ", ".join("?" * len(names)) + ")"
    sql = str(compiled)
    if compiled.positiontup != names or compiled.insert_prefetch or sql.count(one_row) != 1:
        return None
    once = [i for i in keep if i in where]
    own = [i for i in keep if i not in where]
    if not own:
        return None
    number = {i: f"?{k + 1}" for k, i in enumerate(once)}  # the shared values: ?1, ?2, ... in every row
    n = ROWS_PER_INSERT
    while n > 1 and len(once) + n * len(own) > MAX_PARAMETERS:
        n //= 2
    by_rows: dict[int, str] = {}
    size = n
    while size >= 1:
        values, p = [], len(once)
        for _ in range(size):
            row = []
            for i in keep:
                if i in number:
                    row.append(number[i])
                else:
                    p += 1
                    row.append(f"?{p}")
            values.append("(" + ", ".join(row) + ")")
        by_rows[size] = sql.replace(one_row, "VALUES " + ", ".join(values))
        size //= 2
    return n, by_rows, row_getter(once), row_getter(own)


def columns_kept(cols: Any, columns: tuple[str, ...], nulls: tuple[bool, ...]) -> list[int]:
    """Indexes of the ``columns`` an INSERT names for rows whose None values are where ``nulls`` says: all but
    the None ones without a default (left out, they are stored as NULL all the same)."""
    return [
        i
        for i, (name, null) in enumerate(zip(columns, nulls, strict=True))
        if not null or cols[name].default is not None or cols[name].server_default is not None
    ]


def row_getter(indexes: Sequence[Any]) -> Callable[[Any], tuple[Any, ...]]:
    """A row's values at ``indexes`` (positions or keys), as a tuple (itemgetter gives a bare value for one)."""
    if not indexes:
        return lambda r: ()
    if len(indexes) == 1:
        i = indexes[0]
        return lambda r: (r[i],)
    return itemgetter(*indexes)
