"""Writing a validated import plan in bulk: inserts, updates and their history rows.

``write_plan`` runs inside the caller's transaction (all or nothing). It first checks that the plan
still holds (``_check_plan_holds``: the rows it updates and the keys it takes are as they were when
``backoffice.bulk_import.BulkImport.validate`` built it), then writes one statement per batch and the
history rows with the user. Split from ``backoffice.bulk_import`` (validation and the plan).
"""

from __future__ import annotations

import io
import itertools
import operator
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.utils import timezone

from backoffice.bulk_import import (
    MEMO_SIZE,
    ImportPlan,
    PlanOutdated,
    Progress,
    _chunks,
    _no_progress,
    filter_in,
    stored_conflicts,
    unique_rules,
)

# Writing ------------------------------------------------------------------------------------------


CHANGE_REASON = "Imported from a spreadsheet"
# Rows per write batch (PostgreSQL: one COPY of new rows and one of their history rows per batch; SQLite binds every
# value, so its statements take fewer rows).
PG_WRITE_BATCH = 10000
SQLITE_WRITE_BATCH = 1000
BATCH_SIZE = SQLITE_WRITE_BATCH  # rows per statement (SQLite); PostgreSQL: PG_WRITE_BATCH


def _placeholder_batch() -> int:
    if connection.vendor == "postgresql":
        return PG_WRITE_BATCH
    return SQLITE_WRITE_BATCH


def _sqlite_max_params() -> int:
    raw = getattr(connection, "connection", None)
    try:
        return int(raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
    except (AttributeError, sqlite3.Error, TypeError):
        return 999


from django.db.backends.base.operations import BaseDatabaseOperations  # noqa: E402

_BASE_ADAPT_DECIMAL = BaseDatabaseOperations.adapt_decimalfield_value

_IDENTITY_FIELDS = (
    models.BooleanField,
    models.IntegerField,
    models.ForeignKey,
    models.AutoField,
    models.BigAutoField,
)


def _preparer(model_field):
    """A function making a Python value ready for the database driver (None when the value is ready as it is).

    Bound to this thread's connection: it may then run in another thread (``_copy_new_rows``)."""
    f = model_field
    db = connections[DEFAULT_DB_ALIAS]
    if (
        isinstance(f, _IDENTITY_FIELDS)
        and type(f).get_db_prep_save is models.Field.get_db_prep_save
        and (isinstance(f, models.ForeignKey) or type(f).get_db_prep_value is models.Field.get_db_prep_value)
    ):
        return None
    if type(f) in (models.CharField, models.TextField):
        return None
    if type(f) is models.DecimalField and connection.ops.adapt_decimalfield_value.__func__ is _BASE_ADAPT_DECIMAL:
        return None  # validated Decimals: the driver takes them as they are
    cache: dict[Any, Any] = {}

    def prepare(value, f=f):
        if value is None:
            return None
        try:
            return cache[value]
        except KeyError:
            prepared = f.get_db_prep_save(value, db)
            if len(cache) < MEMO_SIZE:
                cache[value] = prepared
            return prepared
        except TypeError:
            return f.get_db_prep_save(value, db)

    return prepare


def _prepared(fields: list, rows: list[tuple]) -> list[tuple]:
    return _apply_preparers([_preparer(f) for f in fields], rows)


def _apply_preparers(preparers: list, rows: list[tuple]) -> list[tuple]:
    if not any(preparers):
        return rows
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in preparers]
    columns = [col if p is None else [p(v) for v in col] for p, col in zip(preparers, columns, strict=True)]
    return list(zip(*columns, strict=True))


def insert_rows(
    model, fields: list, rows: list[tuple], returning: list | None = None, *, prepared: bool = False
) -> list[tuple]:
    """INSERT ``rows`` (values of ``fields``; Python values unless ``prepared``) into ``model``'s table.

    Returns the ``returning`` columns of the inserted rows (one multi-row statement per batch)."""
    if not rows:
        return []
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    names = ", ".join(quote(f.column) for f in fields)
    back = ", ".join(quote(f.column) for f in returning or [])
    if not prepared:
        rows = _prepared(fields, rows)
    found: list[tuple] = []
    if connection.vendor == "postgresql" and not returning:
        for batch in _chunks(rows, PG_WRITE_BATCH):
            copy_rows(model, fields, batch)
        return found
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
            sql = f"INSERT INTO {table} ({names}) SELECT * FROM unnest({arrays})"
            if returning:
                sql += f" RETURNING {back}"
            for batch in _chunks(rows, PG_WRITE_BATCH):
                cursor.execute(sql, [list(column) for column in zip(*batch, strict=True)])
                if returning:
                    found.extend(cursor.fetchall())
        elif returning and connection.features.can_return_rows_from_bulk_insert:
            # Multi-row VALUES … RETURNING, written with SQLite's own ``?`` placeholders and run on the driver's
            # cursor: Django would rewrite every ``%s`` of the statement with a regular expression first.
            per_statement = max(1, min(SQLITE_WRITE_BATCH, _sqlite_max_params() // max(1, len(fields))))
            one = "(" + ", ".join(["?"] * len(fields)) + ")"
            for batch in _chunks(rows, per_statement):
                sql = f"INSERT INTO {table} ({names}) VALUES {', '.join([one] * len(batch))} RETURNING {back}"
                started = time.monotonic()
                with connection.wrap_database_errors:
                    raw = sqlite3.Cursor.execute(cursor.cursor, sql, list(itertools.chain.from_iterable(batch)))
                    found.extend(raw.fetchall())
                _log_query(f"INSERT INTO {table} ({names}) VALUES … RETURNING {back} -- {len(batch)} rows", started)
        else:
            # One prepared statement run for every row (the driver's loop): no RETURNING needed.
            sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(fields))})"
            for batch in _chunks(rows, SQLITE_WRITE_BATCH * 10):
                cursor.executemany(sql, batch)
            if returning:
                raise PlanOutdated("This database cannot report the keys of inserted rows.")
    return found


def copy_rows(model, fields: list, rows: list[tuple]) -> None:
    """PostgreSQL: ``COPY`` prepared ``rows`` into ``model``'s table (the server inserts while the rows stream).

    Counted as one query where Django counts queries (tests, debug), like any statement sent through it."""
    quote = connection.ops.quote_name
    sql = f"COPY {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) FROM STDIN"
    started = time.monotonic()
    connection.ensure_connection()
    with connection.wrap_database_errors, connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        write = copy.write_row
        for row in rows:
            write(row)
    _log_query(f"{sql} -- {len(rows)} rows", started)


def _copy_sql(model, fields: list) -> str:
    quote = connection.ops.quote_name
    return f"COPY {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) FROM STDIN"


def copy_formatter() -> tuple[Any, io.BytesIO]:
    """PostgreSQL: a psycopg ``Copy`` that only formats rows as COPY data into a buffer (psycopg's ``FileWriter``),
    made on this thread's connection but usable from another thread: it sends nothing."""
    from psycopg.copy import Copy, FileWriter

    connection.ensure_connection()
    buffer = io.BytesIO()
    return Copy(connection.connection.cursor(), binary=False, writer=FileWriter(buffer)), buffer


def copy_data(model, fields: list, data: bytes, rows: int) -> None:
    """PostgreSQL: ``COPY`` rows already formatted as COPY data (``copy_formatter``) into ``model``'s table."""
    sql = _copy_sql(model, fields)
    started = time.monotonic()
    connection.ensure_connection()
    with connection.wrap_database_errors, connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        copy.write(data)
    _log_query(f"{sql} -- {rows} rows", started)


def _log_query(sql: str, started: float) -> None:
    """A statement sent past Django's cursor wrapper, counted where Django counts queries (tests, debug)."""
    if connection.queries_logged:
        connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})


def next_ids(model, count: int) -> list[int]:
    """PostgreSQL: ``count`` new primary keys of ``model`` from its sequence (one query), for rows COPY inserts."""
    if not count:
        return []
    opts = model._meta
    with connection.cursor() as cursor:
        cursor.execute(
            # MATERIALIZED: the sequence is found once, not once per key (the planner would inline a subquery).
            "WITH q AS MATERIALIZED (SELECT pg_get_serial_sequence(%s, %s)::regclass AS s) "
            "SELECT nextval(q.s) FROM q, generate_series(1, %s)",
            [connection.ops.quote_name(opts.db_table), opts.pk.column, count],
        )
        return [row[0] for row in cursor.fetchall()]


def copies_with_ids(model) -> bool:
    """Whether new rows of ``model`` are written by COPY with keys drawn first (PostgreSQL, an auto primary key)."""
    return connection.vendor == "postgresql" and isinstance(model._meta.pk, models.AutoField)


def update_rows(model, pk_field, fields: list, rows: list[tuple]) -> None:
    """UPDATE ``fields`` of the records whose primary key is each row's first value."""
    if not rows:
        return
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    rows = _prepared([pk_field, *fields], rows)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            names = [quote(f"v{i}") for i in range(len(fields) + 1)]
            arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in [pk_field, *fields])
            sets = ", ".join(f"{quote(f.column)} = v.{names[i + 1]}" for i, f in enumerate(fields))
            sql = (
                f"UPDATE {table} SET {sets} FROM unnest({arrays}) AS v({', '.join(names)}) "
                f"WHERE {table}.{quote(pk_field.column)} = v.{names[0]}"
            )
            for batch in _chunks(rows, PG_WRITE_BATCH):
                cursor.execute(sql, [list(column) for column in zip(*batch, strict=True)])
        else:
            sets = ", ".join(f"{quote(f.column)} = %s" for f in fields)
            sql = f"UPDATE {table} SET {sets} WHERE {quote(pk_field.column)} = %s"
            for batch in _chunks(rows, SQLITE_WRITE_BATCH * 10):
                cursor.executemany(sql, [(*row[1:], row[0]) for row in batch])


def history_model_of(model):
    from django.conf import settings

    if not getattr(settings, "SIMPLE_HISTORY_ENABLED", True):
        return None
    manager = getattr(model, "history", None)
    return getattr(manager, "model", None) if manager is not None else None


@dataclass
class HistoryLayout:
    """How the historical records of rows are made: the history table's fields and each record's values."""

    model: Any  # the history model
    fields: list  # its fields, in the order of a record's values
    take: Callable[[tuple], tuple]  # a row's tracked values (and its key, for a ``history_relation``)
    extra: tuple  # history_date, change reason, history type, user: the same for every record

    def records(self, rows: list[tuple]) -> list[tuple]:
        take, extra = self.take, self.extra
        return [take(row) + extra for row in rows]


def history_layout(model, attnames: list[str], history_type: str, user, *, prepared: bool = False):
    """The ``HistoryLayout`` of ``model``'s records for rows holding ``attnames``, or None (no history kept).

    The user, the date and the change reason are settled here, on the caller's thread (the default history user
    comes from the request of this thread); ``records`` may then run on another."""
    history = history_model_of(model)
    if history is None:
        return None
    tracked = [f.attname for f in history.tracked_fields]
    positions = [attnames.index(name) for name in tracked]
    opts = history._meta
    user_pk = getattr(user, "pk", None)
    if user is None:
        try:
            default = history.get_default_history_user(None)
        except Exception:  # noqa: BLE001 - no request in context: the system
            default = None
        user_pk = (
            getattr(default, "pk", None)
            if default is not None and getattr(default, "is_authenticated", False)
            else None
        )
    now = timezone.now()
    extra = {
        "history_date": now,
        "history_change_reason": CHANGE_REASON,
        "history_type": history_type,
    }
    fields = [opts.get_field(name) for name in tracked]
    extra_fields = [opts.get_field(name) for name in extra]
    extra_values = tuple(extra.values())
    user_field = None
    try:
        user_field = opts.get_field("history_user")
    except Exception:  # noqa: BLE001 - a history without a user field
        user_field = None
    if user_field is not None:
        extra_fields.append(user_field)
        extra_values = (*extra_values, user_pk)
    if prepared:
        extra_values = tuple(
            value if (p := _preparer(f)) is None else p(value)
            for f, value in zip(extra_fields, extra_values, strict=True)
        )
    relation = None
    try:
        relation = opts.get_field("history_relation")
    except Exception:  # noqa: BLE001 - only with ``related_name`` histories
        relation = None
    if relation is not None:
        # The related record's key goes last, after the values that are the same for every record.
        extra_fields.append(relation)
        pk_position = attnames.index(model._meta.pk.attname)
        getter = operator.itemgetter(*positions, pk_position)
        fixed = extra_values

        def take(row, getter=getter, fixed=fixed):
            *values, pk = getter(row)
            return (*values, *fixed, pk)

        return HistoryLayout(history, fields + extra_fields, take, ())
    if len(positions) == 1:
        only = positions[0]
        return HistoryLayout(history, fields + extra_fields, lambda row: (row[only],), extra_values)
    return HistoryLayout(history, fields + extra_fields, operator.itemgetter(*positions), extra_values)


def insert_history(
    model, rows: list[tuple], attnames: list[str], history_type: str, user, *, prepared: bool = False
) -> int:
    """Historical records of ``rows`` (values of ``attnames``), as ``bulk_history_create`` writes them.

    ``prepared``: the rows' values are already as the database driver takes them."""
    layout = history_layout(model, attnames, history_type, user, prepared=prepared) if rows else None
    if layout is None:
        return 0
    records = layout.records(rows)
    insert_rows(layout.model, layout.fields, records, prepared=prepared)
    return len(records)


def write_plan(
    plan: ImportPlan, resource, user, *, progress: Progress | None = None, fresh: bool = False
) -> ImportPlan:
    """Write what ``plan`` says (the caller holds the transaction), after checking it still holds.

    ``fresh``: the plan was made in this transaction just now (validate-and-write in one go): not checked again.
    """
    progress = progress or _no_progress
    model = resource._meta.model
    if plan.model != model._meta.label:
        raise PlanOutdated("This preview belongs to another import.")
    opts = model._meta
    total = plan.row_count
    done = plan.unchanged
    progress(done, total)
    now = timezone.now()
    history = history_model_of(model)
    tracked = [f.attname for f in history.tracked_fields] if history is not None else []
    pk_attname = opts.pk.attname

    # Still as validated? (all checks before any write)
    if not fresh:
        _check_plan_holds(plan, model)
    stored_rows = _stored_rows(plan, model, tracked) if plan.update_rows else {}

    # New rows.
    if plan.new_rows:
        file_fields = [opts.get_field(name) for name in _names(opts, plan.fields)]
        file_attnames = [f.attname for f in file_fields]
        others = [
            f
            for f in opts.concrete_fields
            if not f.primary_key and f.attname not in file_attnames and not getattr(f, "generated", False)
        ]
        other_values = tuple(
            now if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False) else f.get_default()
            for f in others
        )
        all_fields = file_fields + others
        attnames = [f.attname for f in all_fields]
        key_positions = [attnames.index(name) for name in plan.key_fields]
        key_fields = [opts.get_field(_names(opts, [name])[0]) for name in plan.key_fields]
        created: dict[tuple, Any] = {}
        by_copy = copies_with_ids(model)
        if by_copy:
            # The table's own sequence hands out the keys first (one query per batch), then COPY with them.
            plan.created_pks = []
            done = _copy_new_rows(plan, model, all_fields, other_values, user, progress, done, total)
        for start in range(0, 0 if by_copy else len(plan.new_rows), PG_WRITE_BATCH):
            # Made ready for the driver once, for the records and their history rows.
            batch = _prepared(all_fields, [row + other_values for row in plan.new_rows[start : start + PG_WRITE_BATCH]])
            returned = insert_rows(model, all_fields, batch, returning=[opts.pk, *key_fields], prepared=True)
            for pk, *key in returned:
                created[tuple(key)] = pk
            if tracked:
                with_pk = [row + (created[tuple(row[p] for p in key_positions)],) for row in batch]
                insert_history(model, with_pk, [*attnames, pk_attname], "+", user, prepared=True)
                del with_pk
            done += len(batch)
            progress(done, total)
        if not by_copy:
            key_preparers = [_preparer(f) for f in key_fields]
            plan.created_pks = [
                created.get(
                    tuple(v if p is None else p(v) for p, v in zip(key_preparers, row[: len(key_fields)], strict=True))
                )
                for row in plan.new_rows
            ]

    # Changed rows: only the columns changed in some row, and updated_at.
    if plan.update_rows:
        names = list(plan.update_fields)
        positions = [plan.fields.index(name) for name in names]
        update_fields = [opts.get_field(_names(opts, [name])[0]) for name in names]
        if plan.guard:
            update_fields.append(opts.get_field(plan.guard))
        for start in range(0, len(plan.update_rows), PG_WRITE_BATCH):
            pks = plan.update_pks[start : start + PG_WRITE_BATCH]
            rows = plan.update_rows[start : start + PG_WRITE_BATCH]
            values = [
                (pk, *(row[p] for p in positions), *((now,) if plan.guard else ()))
                for pk, row in zip(pks, rows, strict=True)
            ]
            update_rows(model, opts.pk, update_fields, values)
            if tracked:
                records = []
                for pk, row in zip(pks, rows, strict=True):
                    record = dict(stored_rows[pk])
                    record.update(zip(plan.fields, row, strict=True))
                    if plan.guard:
                        record[opts.get_field(plan.guard).attname] = now
                    records.append(tuple(record[name] for name in tracked))
                insert_history(model, records, tracked, "~", user)
            done += len(rows)
            progress(done, total)
    progress(total, total)
    return plan


def _copy_new_rows(
    plan: ImportPlan, model, all_fields: list, other_values: tuple, user, progress, done: int, total: int
) -> int:
    """PostgreSQL: COPY the plan's new rows and their history rows, batch by batch; returns the rows done.

    Per batch: one query for the keys, one COPY of the rows, one COPY of their history rows (the server keeps the
    table's indexes as they stream in). The next batch is made ready (values prepared, keys set, history records
    made, all formatted as COPY data) on a helper thread while the server takes this one: that Python work, a
    third of the whole, then overlaps the server's instead of adding to it. The helper thread never touches the
    connection; every query and COPY is sent from this thread, in this transaction."""
    opts = model._meta
    fields = [opts.pk, *all_fields]
    attnames = [f.attname for f in all_fields]
    preparers = [_preparer(f) for f in all_fields]
    history = history_layout(model, [*attnames, opts.pk.attname], "+", user, prepared=True)
    new_rows = plan.new_rows
    batch_size = PG_WRITE_BATCH

    def make_ready(start: int, ids: list, rows_out, rows_buffer, history_out, history_buffer):
        batch = _apply_preparers(preparers, [row + other_values for row in new_rows[start : start + batch_size]])
        with rows_out:
            write = rows_out.write_row
            for pk, row in zip(ids, batch, strict=True):
                write((pk, *row))
        history_data = b""
        if history is not None:
            records = history.records([row + (pk,) for row, pk in zip(batch, ids, strict=True)])
            with history_out:
                write = history_out.write_row
                for record in records:
                    write(record)
            history_data = history_buffer.getvalue()
        return len(batch), rows_buffer.getvalue(), history_data

    def start_batch(pool: ThreadPoolExecutor, start: int) -> Future:
        ids = next_ids(model, min(batch_size, len(new_rows) - start))
        plan.created_pks.extend(ids)
        return pool.submit(make_ready, start, ids, *copy_formatter(), *copy_formatter())

    starts = list(range(0, len(new_rows), batch_size))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-copy") as pool:
        pending: Future | None = start_batch(pool, starts[0]) if starts else None
        try:
            for index in range(len(starts)):
                count, rows_data, history_data = pending.result()
                pending = start_batch(pool, starts[index + 1]) if index + 1 < len(starts) else None
                copy_data(model, fields, rows_data, count)
                if history is not None:
                    copy_data(history.model, history.fields, history_data, count)
                done += count
                progress(done, total)
        finally:
            if pending is not None:
                pending.cancel()
    return done


def _names(opts, attnames: list[str]) -> list[str]:
    by_attname = {f.attname: f.name for f in opts.concrete_fields}
    return [by_attname.get(name, name) for name in attnames]


def _outdated(model, count: int, examples: list[str], what: str) -> PlanOutdated:
    shown = ", ".join(examples[:5]) + (" …" if count > 5 else "")
    plural = model._meta.verbose_name_plural if count != 1 else model._meta.verbose_name
    return PlanOutdated(
        f"{count} {plural} {what} since the file was checked ({shown}). Nothing was written: "
        "upload the file again to see what it would change now."
    )


def _check_plan_holds(plan: ImportPlan, model) -> None:
    """Refuse (``PlanOutdated``) a plan whose records changed since it was made: a few queries per batch."""
    opts = model._meta
    manager = model._default_manager
    key_names = _names(opts, plan.key_fields)
    # 1. New keys must still be free.
    key_count = len(plan.key_fields)
    if plan.new_rows:
        # (Unsorted: the order of the values asked for changes nothing, and sorting 100,000 keys costs.)
        keys = {row[:key_count] for row in plan.new_rows}
        distinct = [list({key[i] for key in keys}) for i in range(key_count)]
        widest = max(range(key_count), key=lambda i: len(distinct[i]))
        taken = []
        for chunk in _chunks(distinct[widest]):
            chosen = filter_in(manager.all(), plan.key_fields[widest], chunk)
            for i in range(key_count):
                if i != widest:
                    chosen = filter_in(chosen, plan.key_fields[i], distinct[i])
            taken.extend(key for key in chosen.values_list(*plan.key_fields).order_by() if tuple(key) in keys)
        if taken:
            raise _outdated(model, len(taken), [" + ".join(map(str, key)) for key in taken], "were added")
    # 2. Referenced records must still exist.
    for name in plan.fields:
        f = opts.get_field(_names(opts, [name])[0])
        if not f.is_relation or not f.many_to_one:
            continue
        position = plan.fields.index(name)
        wanted = {row[position] for row in itertools.chain(plan.new_rows, plan.update_rows)} - {None}
        found = set()
        for chunk in _chunks(sorted(wanted)):
            found.update(
                filter_in(f.related_model._default_manager.all(), f.related_model._meta.pk.name, chunk)
                .values_list("pk", flat=True)
                .order_by()
            )
        if wanted - found:
            missing = len(wanted - found)
            meta = f.related_model._meta
            raise PlanOutdated(
                f"{missing} {meta.verbose_name_plural if missing != 1 else meta.verbose_name} "
                "the file refers to were deleted since it was checked. Nothing was written: upload the file again."
            )
    # 3. Unique values must still be free.
    names = _names(opts, plan.fields)
    for rule in unique_rules(model):
        if rule.attribute not in names or (key_count == 1 and names.index(rule.attribute) == 0):
            continue
        position = names.index(rule.attribute)
        values: dict[Any, list[tuple[int, Any]]] = {}
        entries = itertools.chain(
            zip(plan.new_numbers, itertools.repeat(None), plan.new_rows),  # noqa: B905 - repeat() is endless
            zip(plan.update_numbers, plan.update_pks, plan.update_rows, strict=True),
        )
        for number, pk, row in entries:
            value = row[position]
            if value is None or (rule.blank_exempt and value == ""):
                continue
            if (
                rule.condition is not None
                and not rule.blank_exempt
                and not rule.test(dict(zip(names, row, strict=True)))
            ):
                continue
            values.setdefault(value, []).append((number, pk))
        conflicts = list(stored_conflicts(model, rule, plan.fields[position], values))
        if conflicts:
            raise PlanOutdated(
                f"Row(s) {', '.join(str(n) for n, _ in conflicts[:5])}: {rule.message} (since the file was checked). "
                "Nothing was written: upload the file again to see what it would change now."
            )
    del key_names


def _stored_rows(plan: ImportPlan, model, tracked: list[str]) -> dict[Any, dict]:
    """The records the plan updates, as stored now (for their history rows), after checking their guard."""
    opts = model._meta
    guard_attname = opts.get_field(plan.guard).attname if plan.guard else ""
    attnames = list(
        dict.fromkeys([opts.pk.attname, *tracked, *plan.fields, *([guard_attname] if guard_attname else [])])
    )
    stored: dict[Any, dict] = {}
    for chunk in _chunks(list(plan.update_pks)):
        for values in filter_in(model._default_manager.all(), opts.pk.name, chunk).values_list(*attnames).order_by():
            stored[values[0]] = dict(zip(attnames, values, strict=True))
    changed = []
    key_position = 0
    times = plan.guard_times if plan.guard else itertools.repeat(None)
    for pk, guard, stamp, row in zip(plan.update_pks, plan.guards, times, plan.update_rows, strict=False):
        now = stored.get(pk)
        if (
            now is None
            or tuple(now[name] for name in plan.fields) != tuple(guard)
            or (plan.guard and now[guard_attname] != stamp)
        ):
            changed.append(str(row[key_position]))
    if changed:
        raise _outdated(model, len(changed), changed, "were changed or deleted")
    return stored
