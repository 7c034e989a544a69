"""Rows written in bulk without Django's per-value SQL compiler: bulk_create's job for the
writers that insert thousands of rows in one transaction (the audit entries of a batch,
cases/audit.py; the rows of the case-file import's compiled path,
remedies/interchange/compiled.py).

bulk_create builds its SQL value by value (`SQLInsertCompiler.as_sql`: a placeholder, a
conversion and an expression check for each value of each row), and SQLite caps a statement
at 999 parameters, so it sends a statement for every few dozen rows. Profiled on the import
of 1,000 cases, that was a third of the import's processor time. Here each model has one
parameterised INSERT, run with executemany over all the rows; each value is converted as
the ORM converts it (`Field.get_db_prep_save`, so an encrypted field is encrypted and a
JSON field serialised), skipping only the fields whose conversion gives the value back.

The rows' ids are taken before the INSERT, so that later rows (and audit entries) can name
them: on PostgreSQL from the table's own sequence (`nextval`, as a default id would be:
safe beside other transactions), on SQLite past the table's highest id and its
AUTOINCREMENT counter (safe since the transaction holds SQLite's one write lock from its
BEGIN: `transaction_mode` IMMEDIATE, config/settings.py)."""

import inspect
import operator
import queue
import sys
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connection, models, router, transaction
from django.db.models import signals
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.query_utils import DeferredAttribute
from psycopg.copy import Copy, Writer

# Field classes whose get_db_prep_save gives back a value of the right Python type as it
# is (a str, an int, a bool or None): their values are passed on unconverted.
_AS_IS = (
    models.AutoField,
    models.BigAutoField,
    models.BooleanField,
    models.CharField,
    models.ForeignKey,
    models.IntegerField,
    models.TextField,
)
_PLAIN = (str, int, bool, type(None))
# On PostgreSQL, psycopg writes a date, an aware datetime and a UUID in COPY itself, as the
# ORM's conversion would (which gives these back unchanged there). Exact types: anything
# else (a datetime in a date field, a string) is converted by the ORM.
_EXACT_PG = (
    (models.DateTimeField, (datetime, type(None))),  # before DateField: a subclass of it
    (models.DateField, (date, type(None))),
    (models.UUIDField, (uuid.UUID, type(None))),
)
# On any database: an address field's None is written as None (an audit entry's client
# address, which an import's entries have none of); an address is converted by the ORM.
_EXACT = ((models.GenericIPAddressField, (type(None),)),)


M = TypeVar("M", bound=models.Model)


def new(model: type[M], **values: Any) -> M:
    """A new, unsaved `model` row, as `model(**values)` makes it (every other field its
    default; a related object by its field's name, or its id by the attname), for the
    writers that build thousands of rows for insert(): Django's constructor matches each
    keyword against every field (14 µs for a 経過 line), this sets them (about 3 µs).
    Models with pre_init or post_init receivers, and unknown names, take the constructor."""
    plan = _plans.get(model)
    if plan is None:
        plan = _plans[model] = _plan(model)
    if plan is _CONSTRUCTOR or not values.keys() <= plan.names:
        return model(**values)
    row = model.__new__(model)
    state = row._state = models.base.ModelState()
    fields = row.__dict__
    fields.update(plan.constants)
    cache = state.fields_cache
    relations = plan.relations
    for name, value in values.items():
        relation = relations.get(name)
        if relation is None:
            fields[plan.attnames[name]] = value
        else:
            if value is None:
                fields[relation] = None
            else:
                fields[relation] = value.pk
                if state.db is None:  # as the relation's descriptor decides it
                    # Without routers, Django's answer is the related row's database.
                    state.db = (
                        router.db_for_write(model, instance=value)
                        if router.routers
                        else value._state.db or DEFAULT_DB_ALIAS
                    )
            cache[name] = value
    for attname, default in plan.callables:  # a default called only when no value is given
        if attname not in fields:
            fields[attname] = default()
    return row


_CONSTRUCTOR = object()  # new(): this model takes Django's constructor
_PLAIN_DESCRIPTORS = (DeferredAttribute, ForeignKeyDeferredAttribute)


@dataclass(frozen=True)
class _Plan:
    names: frozenset[str]  # what new() takes: field names and attnames
    attnames: dict[str, str]  # name or attname → attname, for a value as it is
    relations: dict[str, str]  # a relation's name → its attname, for a related object
    constants: dict[str, Any]  # attname → the default, for defaults that are values
    callables: tuple[tuple[str, Callable[[], Any]], ...]  # attname → a default to call


_plans: dict[type, Any] = {}


def _plan(model: type[models.Model]) -> Any:
    if signals.pre_init.has_listeners(model) or signals.post_init.has_listeners(model):
        return _CONSTRUCTOR
    meta = model._meta
    if meta.private_fields:  # a generic relation: set through its descriptor
        return _CONSTRUCTOR
    # A field whose descriptor does more than hold the value (a file wraps it, a state
    # machine's field guards it) is set through it: the constructor.
    if any(
        type(inspect.getattr_static(model, field.attname, None)) not in _PLAIN_DESCRIPTORS
        for field in meta.concrete_fields
    ):
        return _CONSTRUCTOR
    attnames, relations, constants, callables = {}, {}, {}, []
    for field in meta.concrete_fields:
        attnames[field.attname] = field.attname
        if field.is_relation:
            relations[field.name] = field.attname
        else:
            attnames[field.name] = field.attname
        if field.has_default() and callable(field.default):
            callables.append((field.attname, field.default))
        else:
            constants[field.attname] = field.get_default()
    return _Plan(
        names=frozenset({*attnames, *relations}),
        attnames=attnames,
        relations=relations,
        constants=constants,
        callables=tuple(callables),
    )


def prepared(row: models.Model, attname: str, value: Any) -> None:
    """Have insert() write `value` for the row's field `attname` as it is, in place of the
    field's own conversion of the row's value: for a value the caller has converted
    already (an audit entry's data, encoded as JSON for its MAC)."""
    row.__dict__.setdefault("_bulk_prepared", {})[attname] = value


# reserve_ids: a table's ids one by one only when they do not follow one another.
_SCATTERED = (
    "CASE WHEN max(id) - min(id) + 1 = count(*) THEN NULL ELSE array_agg(id ORDER BY id) END"
)


def reserve_ids(counts: dict[type[models.Model], int]) -> dict[type[models.Model], list[int]]:
    """New ids for rows of several models at once, in one statement, for insert(rows,
    ids=…): on PostgreSQL, from each table's own sequence as insert() takes them (a writer
    of a dozen models a batch saves a round trip for each). Inside overlapped(), from the
    ids its thread took ahead, as far as they go. Elsewhere, and for a model without an
    automatic id, nothing: insert() takes them itself."""
    wanted = {
        model: count
        for model, count in counts.items()
        if count and isinstance(model._meta.pk, models.AutoField | models.BigAutoField)
    }
    if connection.vendor != "postgresql" or not wanted:
        return {}
    sender = _sender.get(connection.alias)
    if sender is not None:
        return sender.reserve(wanted)
    with connection.cursor() as cursor:
        return _take_ids(cursor, wanted)


def _take_ids(cursor, wanted: dict[type[models.Model], int]) -> dict[type[models.Model], list]:
    """`wanted` ids of each model from its table's sequence, in one statement."""
    sql, params = _ids_statement(wanted)
    cursor.execute(sql, params)
    return _ids_taken(wanted, cursor.fetchall())


def _ids_statement(wanted: dict[type[models.Model], int]) -> tuple[str, list]:
    parts, params = [], []
    for place, (model, count) in enumerate(wanted.items()):
        parts.append(
            "SELECT %s::integer AS place, nextval(pg_get_serial_sequence(%s, %s)) AS id "
            "FROM generate_series(1, %s)"
        )
        params += [place, connection.ops.quote_name(model._meta.db_table), model._meta.pk.column]
        params.append(count)
    # Each table's ids as a range when they follow one another (no other transaction took
    # one meanwhile: nearly always), else all of them: a row for each id cost the import
    # about 3 % of its time in fetching alone.
    union = " UNION ALL ".join(parts)
    sql = (
        f"SELECT place, min(id), max(id), count(*), {_SCATTERED} FROM ({union}) AS t GROUP BY place"  # noqa: S608  # nosec B608  # fixed text, the values are parameters
    )
    return sql, params


def _ids_taken(wanted: dict[type[models.Model], int], rows) -> dict[type[models.Model], list]:
    models_ = list(wanted)
    return {
        models_[place]: scattered if scattered is not None else list(range(first, last + 1))
        for place, first, last, _, scattered in rows
    }


def insert(rows: Sequence[models.Model], ids: list[int] | None = None) -> None:
    """Insert `rows` (new instances of one concrete model, without ids) and set their ids,
    in the order given: ids ascend with it, as bulk_create's do. A model whose primary key
    is not an automatic id (a one-to-one key) is written with the keys its rows hold.
    `ids`: taken for them before (reserve_ids), one a row. Inside a transaction."""
    if not rows:
        return
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("cases.bulk.insert outside a transaction")
    model = type(rows[0])
    meta = model._meta
    pk = meta.pk
    fields = [f for f in meta.concrete_fields if f is not pk]
    for field in fields:
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            for row in rows:
                field.pre_save(row, add=True)
    if isinstance(pk, models.AutoField | models.BigAutoField):
        if ids is None:
            ids = _new_ids(meta.db_table, pk.column, len(rows))
        elif len(ids) != len(rows):
            raise ValueError(f"cases.bulk.insert: {len(ids)} ids for {len(rows)} rows")
    else:  # a key of the row's own (a one-to-one primary key: the case's totals)
        ids = [getattr(row, pk.attname) for row in rows]
        if None in ids:
            raise ValueError(f"cases.bulk.insert: a {meta.label} row without its {pk.name}")
    alias, postgresql = connection.alias, connection.vendor == "postgresql"
    for row, new_id in zip(rows, ids, strict=True):
        setattr(row, pk.attname, new_id)
        state = row._state
        state.adding, state.db = False, alias
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in (pk, *fields))
    marks = ", ".join(["%s"] * (len(fields) + 1))
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({marks})"  # noqa: S608  # nosec B608  # names from the model, values are parameters
    values = map(_row_values(pk, fields, postgresql), rows)
    sender = _sender.get(connection.alias)
    if sender is not None:  # sent from the sender's thread (overlapped)
        sender.add(f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN", values)
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY: psycopg's executemany sends each row as a statement of its own (about
            # 150 µs a row of Python); COPY streams them. Errors as Django's own.
            # Through the connection's execute wrappers, as any statement (counted, timed).
            def copy_rows(sql, params, many, context):
                with connection.wrap_database_errors, cursor.cursor.copy(sql) as copy:
                    for row in values:
                        copy.write_row(row)

            copy_sql = f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN"
            cursor._execute_with_wrappers(copy_sql, None, False, copy_rows)
        else:
            cursor.executemany(sql, list(values))


def _as_is(field: models.Field, postgresql: bool) -> tuple | None:
    """What the rows' values of `field` may be to be written unconverted: ("plain", types)
    for the stock fields above, ("exact", types) for those on PostgreSQL; None: convert."""
    if not type(field).__module__.startswith("django."):
        return None  # an encrypted field, a field of a library: its own conversion
    if isinstance(field, _AS_IS):
        return ("plain", _PLAIN)
    for kind, types in _EXACT:
        if isinstance(field, kind):
            return ("exact", types)
    if postgresql:
        for kind, types in _EXACT_PG:
            if isinstance(field, kind):
                return ("exact", types)
    return None


_PLAIN_TYPES = frozenset(_PLAIN)


def _row_values(pk, fields, postgresql: bool) -> Callable[[models.Model], list]:
    """A row's values as insert() writes them: its key, then each field's value as the
    ORM would convert it (Field.get_db_prep_save), unconverted where that would give it
    back (_as_is), or as prepared() left it. The values are read from the row's __dict__
    in one call, and the plain fields' types checked in one (most rows need nothing
    more); a row with a deferred field is read through its attributes."""
    names = [pk.attname, *(f.attname for f in fields)]
    rules = [None, *(_as_is(f, postgresql) for f in fields)]
    plain = [i for i, rule in enumerate(rules) if rule is not None and rule[0] == "plain"]
    others = [
        (i, fields[i - 1], names[i], rule)
        for i, rule in enumerate(rules)
        if i and (rule is None or rule[0] == "exact")
    ]
    read = operator.itemgetter(*names)
    read_plain = operator.itemgetter(*plain) if plain else None
    single = len(names) == 1

    def values(row: models.Model) -> list:
        data = row.__dict__
        try:
            found = read(data)
            values = [found] if single else list(found)
        except KeyError:  # a deferred field: read as the model reads it
            values = [getattr(row, name) for name in names]
        done = data.pop("_bulk_prepared", None)
        if read_plain is not None:
            checked = read_plain(values)
            if not _PLAIN_TYPES.issuperset(
                map(type, checked) if len(plain) > 1 else (type(checked),)
            ):
                for i in plain:
                    if type(values[i]) not in _PLAIN_TYPES and not (done and names[i] in done):
                        values[i] = fields[i - 1].get_db_prep_save(values[i], connection)
        for i, field, name, rule in others:
            value = values[i]
            if done is not None and name in done:
                continue  # prepared(): written as given
            if (
                rule is None
                or type(value) not in rule[1]
                or (type(value) is datetime and value.tzinfo is None)
            ):
                values[i] = field.get_db_prep_save(value, connection)
        if done:
            for name, value in done.items():
                values[names.index(name)] = value
        return values

    return values


def _new_ids(table: str, column: str, count: int) -> list[int]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [connection.ops.quote_name(table), column, count],
            )
            return sorted(row[0] for row in cursor.fetchall())
        if connection.vendor == "sqlite":
            quote = connection.ops.quote_name
            cursor.execute(
                f"SELECT MAX({quote(column)}) FROM {quote(table)}"  # noqa: S608  # nosec B608  # names from the model
            )
            highest = cursor.fetchone()[0] or 0
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
            counter = cursor.fetchone()
            first = max(highest, counter[0] if counter else 0) + 1
            return list(range(first, first + count))
    raise NotImplementedError(f"cases.bulk.insert on {connection.vendor}")


# ---- COPYs sent while the caller goes on (PostgreSQL) -----------------------------------------

_sender: dict[str, "_Sender"] = {}  # by connection alias: the overlapped() block's sender
# The interpreter's switch interval while an overlapped() block runs: the sender's thread
# waits on the server a few dozen times a batch (each COPY's start and end, the constraint
# checks), and after each wait it needs the GIL back from the caller's thread, which keeps
# it for the whole interval (5 ms by default) unless it waits itself. At the default the
# sender took about 3 s of waiting for the GIL on the import of 10,000 cases, and the
# import waited on the sender (docs/PERFORMANCE.md, "The compiled path, sixth part").
_SWITCH_INTERVAL = 0.0005
_switching = {"blocks": 0, "before": 0.0}
_switching_lock = threading.Lock()
_copies_sent = [0]  # COPY statements the senders have run, in this process
_copies_lock = threading.Lock()


def copies_sent() -> int:
    """How many COPY statements overlapped() blocks have sent so far, in this process (they
    do not pass through the connection's execute wrappers: a benchmark adds them)."""
    return _copies_sent[0]


@contextmanager
def overlapped() -> Iterator[None]:
    """Inside, on PostgreSQL, insert() formats its rows in the caller's thread and leaves
    them to be sent, and send() hands what was left so far to a thread of this block that
    runs the COPYs, and then has PostgreSQL check the foreign keys the rows name (the
    deferred constraints, made immediate and deferred again), while the caller goes on
    building the next rows: the database server's work on one batch overlaps Python's on
    the next, on another core. Any other statement of the caller's connection first waits
    for what was sent (and sends what was left), so statements run in the caller's order;
    an error of the thread is raised in the caller at its next statement, at the next
    send(), or at the block's end, which waits for everything to be written. For writers
    of many rows in one transaction (the case-file import); elsewhere it does nothing."""
    if connection.vendor != "postgresql" or not connection.in_atomic_block:
        yield
        return
    if connection.alias in _sender:
        raise RuntimeError("cases.bulk.overlapped inside another")
    sender = _Sender(connection.connection)
    _sender[connection.alias] = sender
    _switch_often(True)
    try:
        with connection.execute_wrapper(sender.before_statement):
            yield
            sender.send()
            sender.wait()
    finally:
        del _sender[connection.alias]
        sender.stop()
        _switch_often(False)


def _switch_often(entering: bool) -> None:
    """The shorter switch interval from the first overlapped() block to the last (they may
    run in several threads of a process); the interpreter's own before and after."""
    with _switching_lock:
        if entering:
            if not _switching["blocks"]:
                _switching["before"] = sys.getswitchinterval()
                sys.setswitchinterval(min(_SWITCH_INTERVAL, _switching["before"]))
            _switching["blocks"] += 1
        else:
            _switching["blocks"] -= 1
            if not _switching["blocks"]:
                sys.setswitchinterval(_switching["before"])


def send() -> None:
    """Start sending what insert() has left so far, inside overlapped() (else nothing)."""
    sender = _sender.get(connection.alias)
    if sender is not None:
        sender.send()


def overlapping() -> bool:
    """Whether an overlapped() block sends this connection's rows from its thread."""
    return connection.alias in _sender


def settle() -> None:
    """Inside overlapped(): send what is left and wait until everything sent is written
    (an error of the thread raised here). Else nothing."""
    sender = _sender.get(connection.alias)
    if sender is not None:
        sender.send()
        sender.wait()


def columns(model: type[models.Model]) -> list[str]:
    """The attnames of `model`'s columns in the order insert() writes them: the key first."""
    pk = model._meta.pk
    return [pk.attname, *(f.attname for f in model._meta.concrete_fields if f is not pk)]


def insert_formatted(
    rows: Sequence[models.Model], ids: list[int], data: Callable[[], list[bytes]]
) -> None:
    """insert() for rows whose COPY data is made elsewhere (the audit entries of an import,
    signed in a process of their own: cases/audit_signer.py), inside overlapped(): the
    rows take `ids` (reserve_ids) as insert() gives them; `data()`, called in the sender's
    thread when this COPY's turn comes, gives the rows' values in columns() order,
    formatted as psycopg's COPY formats them. What it raises is raised as the thread's
    errors are."""
    sender = _sender.get(connection.alias)
    if sender is None:
        raise RuntimeError("cases.bulk.insert_formatted outside overlapped()")
    model = type(rows[0])
    if len(ids) != len(rows):
        raise ValueError(f"cases.bulk.insert_formatted: {len(ids)} ids for {len(rows)} rows")
    attname, alias = model._meta.pk.attname, connection.alias
    for row, new_id in zip(rows, ids, strict=True):
        row.__dict__[attname] = new_id
        state = row._state
        state.adding, state.db = False, alias
    quote = connection.ops.quote_name
    names = ", ".join(quote(model._meta.get_field(name).column) for name in columns(model))
    sender.wait()
    sender.left.append((f"COPY {quote(model._meta.db_table)} ({names}) FROM STDIN", data))


def copy_formatter(raw=None) -> Callable[[Iterable[Sequence[Any]]], list[bytes]]:
    """A function that formats rows as a COPY of psycopg's connection `raw` (this
    connection's by default) formats them, without sending them: for a process forked
    from this one that formats rows for it (it never uses the connection itself)."""
    raw = raw if raw is not None else connection.connection
    cursor = raw.cursor()

    def formatted(rows: Iterable[Sequence[Any]]) -> list[bytes]:
        kept = _Chunks()
        with Copy(cursor, writer=kept) as copy:
            for row in rows:
                copy.write_row(row)
        return kept.chunks

    return formatted


class _Chunks(Writer):
    """COPY data kept, not sent: formatted by psycopg in the caller's thread."""

    def __init__(self):
        self.chunks: list[bytes] = []

    def write(self, data) -> None:
        self.chunks.append(bytes(data))


# Ids the sender's thread takes ahead for the next batch: as many as the last batch took of
# each model, and a quarter more (a batch of a writer such as the import varies a little).
_AHEAD = 1.25


class _Sender:
    # One job at a time: the caller formats the next rows only while the thread is idle
    # (formatting reads the connection's settings, and libpq must not be used by two
    # threads at once), and waits for it before any other statement.
    #
    # Ids: after a job's COPYs the thread takes the next batch's ids (reserve_ids): the
    # sequences' work (a few dozen milliseconds a batch of the import) overlaps the
    # caller's. Ids taken ahead are given out only while nothing else ran on the caller's
    # connection: any other statement might insert rows that take ids of their own from a
    # sequence, past those held here, and a table's ids must ascend in the order its rows
    # are made (a case's id in the order cases are opened). Those the block never gives
    # out are left unused, as a rolled-back transaction leaves its ids.

    def __init__(self, raw):
        self.raw = raw  # psycopg's connection, the caller's
        # Formatted (or to be taken from elsewhere: insert_formatted), not yet handed over.
        self.left: list[tuple[str, list[bytes] | Callable[[], list[bytes]]]] = []
        self.ahead: dict[type[models.Model], list[int]] = {}  # taken by the thread
        self.wanted: dict[type[models.Model], int] = {}  # asked of reserve() since a send
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.idle = threading.Event()
        self.idle.set()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="tadasu-bulk-copy", daemon=True)
        self.thread.start()

    def add(self, sql: str, rows) -> None:
        self.wait()  # never format while the thread uses the connection
        kept = _Chunks()
        # A value psycopg refuses to write (a NUL in a text) is Django's error, as below.
        with connection.wrap_database_errors, Copy(self.raw.cursor(), writer=kept) as copy:
            for row in rows:
                copy.write_row(row)
        self.left.append((sql, kept.chunks))

    def reserve(self, wanted: dict[type[models.Model], int]) -> dict[type[models.Model], list]:
        self.wait()  # the ids the last job took ahead, if it has
        taken, short = {}, {}
        for model, count in wanted.items():
            self.wanted[model] = self.wanted.get(model, 0) + count
            held = self.ahead.pop(model, [])
            taken[model], rest = held[:count], count - len(held)
            if rest > 0:
                short[model] = rest
            elif rest < 0:
                self.ahead[model] = held[count:]
        if short:  # the ids past those taken ahead: later in each sequence
            with connection.wrap_database_errors, self.raw.cursor() as cursor:
                for model, more in _take_ids(cursor, short).items():
                    taken[model] = taken[model] + more
        return taken

    def send(self) -> None:
        if not self.left:
            return
        self.wait()
        ahead = {model: int(count * _AHEAD) + 1 for model, count in self.wanted.items()}
        # The statement made here: the thread's `connection` would be a connection of its own.
        statement = (ahead, *_ids_statement(ahead)) if ahead else None
        job, self.left, self.wanted = (self.left, statement), [], {}
        self.idle.clear()
        self.jobs.put(job)

    def wait(self) -> None:
        self.idle.wait()
        if self.error is not None:  # raised again at each wait: the transaction is lost
            self.left = []
            with connection.wrap_database_errors:  # as Django's own (IntegrityError…)
                raise self.error

    def before_statement(self, execute, sql, params, many, context):
        self.send()
        self.wait()
        self.ahead = {}  # this statement may take ids of its own: past these
        return execute(sql, params, many, context)

    def stop(self) -> None:
        self.idle.wait()
        self.jobs.put(None)
        self.thread.join()

    def _run(self) -> None:
        while (job := self.jobs.get()) is not None:
            copies, ahead = job
            try:
                with self.raw.cursor() as cursor:
                    for sql, chunks in copies:
                        if callable(chunks):  # made elsewhere: insert_formatted()
                            chunks = chunks()
                        with _copies_lock:
                            _copies_sent[0] += 1
                        with cursor.copy(sql) as copy:
                            for chunk in chunks:
                                copy.write(chunk)
                    # The foreign keys of these rows checked now, in this thread, rather
                    # than all at the commit (every such constraint is deferred: Django's).
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                    cursor.execute("SET CONSTRAINTS ALL DEFERRED")
                    if ahead is not None:
                        wanted, sql, params = ahead
                        cursor.execute(sql, params)
                        self.ahead = _ids_taken(wanted, cursor.fetchall())
            except BaseException as error:  # raised in the caller's thread
                self.error = error
            finally:
                self.idle.set()
