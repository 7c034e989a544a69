"""Reading an interchange file as a stream, so that the import holds one case at a time,
not the whole file: a first pass checks that the file is JSON and reads its header, a
second yields the cases one by one. (A file of some size is read ahead by a process of its
own instead, ahead.py: the same checks, one pass, while the import works.)

The parser is ijson (yajl2 in C): a well-kept iterative JSON parser, rather than one
written here. Both passes read the file from the disk; the first costs about a second for
10,000 cases, and it refuses a file that is not JSON, or not a case file, before anything
is written, as reading the whole file at once did.

The first pass also bounds what the second may build (LIMITS): how deep arrays and objects
nest, how long a string is, how many items an array and how many values a case holds, and
how large the file is. It reads ijson's events without paths (basic_parse), counting the
depth itself: ijson's paths grow with the depth, and for a file of nothing but "[" each
event's path would be as long as the file (a 400 KB file once grew to 23 GB that way).
Past the first pass the depth is known to be small, so the second pass's paths are short.
"""

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO

import ijson
from django.conf import settings

from .rules import InterchangeError, check_header

_HEADER = ("format", "version", "personal_data")


@dataclass(frozen=True)
class Limits:
    """What a case file may hold. An exported case is far inside each: its deepest value
    is 5 levels down, its longest text a few thousand characters."""

    depth: int = 20  # arrays and objects inside one another
    string: int = 100_000  # characters of one string (or key)
    items: int = 100_000  # items of one array, keys of one object (not the cases, root keys)
    case_values: int = 500_000  # values (strings, numbers, arrays, objects) in one case
    # A document's PDF in base64 ("pdf"), the one string allowed past `string`: 20 MB of
    # PDF each (documents.services.PDF_MAX_BYTES), and 48 MB of PDF in one case, which the
    # second pass holds in memory with the case.
    pdf_chars: int = 27_962_028  # 4 * ceil(20 MiB / 3)
    case_pdf_chars: int = 67_108_864  # 48 MiB of PDF in base64

    @property
    def file_bytes(self) -> int:
        return settings.TADASU_IMPORT_MAX_MB * 1024 * 1024


LIMITS = Limits()


class NotJSONError(Exception):
    """The file is not JSON in UTF-8. The reason is the parser's, without the text it
    points at: that text may hold a person's details."""


def read_cases(file: BinaryIO) -> Iterator[Any]:
    """The cases of a case file, one at a time, once its header has been checked."""
    return read_file(file)[1]


class Cases:
    """The cases of a file, one at a time; `count` is how many it holds (read by the first
    pass), for a job's progress."""

    def __init__(self, cases: Iterator[Any], count: int):
        self.cases, self.count = cases, count

    def __iter__(self) -> Iterator[Any]:
        return self.cases


def read_file(file: BinaryIO) -> tuple[dict, Cases]:
    """The header of a case file (checked) and its cases, one at a time."""
    if not file.seekable():
        # A pipe (/dev/stdin) cannot be read twice: the passes read a copy on disk.
        copy = tempfile.TemporaryFile()  # noqa: SIM115  # closed with the cases it yields
        shutil.copyfileobj(_Bounded(file), copy)
        copy.seek(0)
        file = copy
    _check_size(file)
    parser = ijson  # the best backend installed: yajl2 in C
    try:
        header, count = _header(file, parser)
    except NotJSONError as refused:
        # yajl refuses an integer beyond 64 bits, which JSON allows and json.loads read:
        # such a file is read by ijson's parser in Python, slower but exact.
        file.seek(0)
        parser = ijson.get_backend("python")
        try:
            header, count = _header(file, parser)
        except NotJSONError:
            raise refused from refused.__cause__
    check_header(header)
    file.seek(0)
    return header, Cases(_cases(file, parser), count)


def _cases(file: BinaryIO, parser: Any) -> Iterator[Any]:
    with _not_json():
        # Floats as float, not Decimal, as json.loads reads them.
        yield from parser.items(file, "cases.item", use_float=True)


def _too_large() -> InterchangeError:
    return InterchangeError(
        f"the file is larger than {settings.TADASU_IMPORT_MAX_MB} MB "
        "(TADASU_IMPORT_MAX_MB); split it into several files"
    )


def _check_size(file: BinaryIO) -> None:
    size = file.seek(0, os.SEEK_END)
    file.seek(0)
    if size > LIMITS.file_bytes:
        raise _too_large()


class _Bounded:
    """A pipe's bytes for copyfileobj, refused once they pass the file limit."""

    def __init__(self, file: BinaryIO):
        self.file, self.read_so_far = file, 0

    def read(self, size: int = -1) -> bytes:
        chunk = self.file.read(size)
        self.read_so_far += len(chunk)
        if self.read_so_far > LIMITS.file_bytes:
            raise _too_large()
        return chunk


class _Open:
    """An array or object the scan is inside: whether the header check reads it, how many
    items or keys it has had, and (for an object) the key of the value being read."""

    __slots__ = ("fed", "is_map", "items", "key")

    def __init__(self, is_map: bool, fed: bool):
        self.is_map, self.fed, self.items, self.key = is_map, fed, 0, None


def _header(
    file: BinaryIO, parser: Any, on_cases: Callable[[Any], object] | None = None
) -> tuple[Any, int]:
    """The document as the header check reads it: its "format" and "version", and its
    "cases" empty ([] for a list); and how many cases it holds. Everything else is only
    read, to see that it is JSON and within LIMITS. `on_cases` is given the header as read
    so far when the root's "cases" key is read (ahead.py reads the cases as it goes)."""
    builder = ijson.ObjectBuilder()
    stack: list[_Open] = []
    case_values = cases = 0
    pdf = _PdfBudget()
    max_string, max_items, max_depth = LIMITS.string, LIMITS.items, LIMITS.depth
    max_values = LIMITS.case_values
    in_cases = False  # stack[0].key == "cases": the root's value being read is the cases
    with _not_json():
        for event, value in parser.basic_parse(file, use_float=True):
            if in_cases and len(stack) > 2:
                # Inside a case, below its own array or object: nearly every event of a
                # file. The same checks as below, in the same order, none of it fed.
                if event == "map_key":
                    if len(value) > max_string:
                        raise _refused("a string is longer than {} characters", max_string, stack)
                    top = stack[-1]
                    top.key = value
                    top.items += 1
                    if top.items > max_items:
                        raise _refused("an object has more than {} keys", max_items, stack)
                    continue
                if event == "end_map" or event == "end_array":
                    stack.pop()
                    continue
                top = stack[-1]
                if not top.is_map:
                    top.items += 1
                    if top.items > max_items:
                        raise _refused("an array has more than {} items", max_items, stack)
                case_values += 1
                if case_values > max_values:
                    raise _refused("a case holds more than {} values", max_values, stack)
                if event == "string":
                    if top.is_map and top.key == "pdf":
                        pdf.check(value, stack)
                    elif len(value) > max_string:
                        raise _refused("a string is longer than {} characters", max_string, stack)
                elif event == "start_map" or event == "start_array":
                    if len(stack) >= max_depth:
                        raise _refused(
                            "arrays and objects are nested more than {} levels deep",
                            max_depth,
                            stack,
                        )
                    stack.append(_Open(event == "start_map", False))
                continue
            if event in ("end_map", "end_array"):
                if stack.pop().fed:
                    builder.event(event, value)
                continue
            if event == "map_key":
                _check_string(value, stack)
                top = stack[-1]
                top.key = value
                if len(stack) == 1:
                    in_cases = value == "cases"
                    if in_cases and on_cases is not None:
                        on_cases(builder.value)
                top.items += 1
                if top.items > LIMITS.items and len(stack) > 1:
                    raise _refused("an object has more than {} keys", LIMITS.items, stack)
                if top.fed and (len(stack) > 1 or value in (*_HEADER, "cases")):
                    builder.event(event, value)
                continue
            # A value: a scalar, or the start of an array or object.
            depth = len(stack)
            if depth == 0:
                fed = True
            elif depth == 1:
                root = stack[0]
                fed = root.is_map and root.key in (*_HEADER, "cases")
                if not root.is_map:
                    root.items += 1
            else:
                top = stack[-1]
                fed = top.fed and stack[0].key in _HEADER
                if not top.is_map:
                    top.items += 1
                    if top.items > LIMITS.items and not (depth == 2 and stack[0].key == "cases"):
                        raise _refused("an array has more than {} items", LIMITS.items, stack)
                if stack[0].key == "cases":
                    case_values = 0 if depth == 2 else case_values + 1
                    if depth == 2:
                        pdf.chars = 0
                        cases += 1
                    if case_values > LIMITS.case_values:
                        raise _refused(
                            "a case holds more than {} values", LIMITS.case_values, stack
                        )
            if event == "string":
                if stack and stack[-1].key == "pdf" and stack[-1].is_map and depth > 2:
                    pdf.check(value, stack)
                else:
                    _check_string(value, stack)
            if event in ("start_map", "start_array"):
                if depth >= LIMITS.depth:
                    raise _refused(
                        "arrays and objects are nested more than {} levels deep",
                        LIMITS.depth,
                        stack,
                    )
                stack.append(_Open(event == "start_map", fed))
            if fed:
                builder.event(event, value)
    return builder.value, cases


class _PdfBudget:
    """The PDF characters of the case being read."""

    def __init__(self):
        self.chars = 0

    def check(self, value: str, stack: list[_Open]) -> None:
        if len(value) > LIMITS.pdf_chars:
            raise _refused("a PDF is longer than {} characters of base64", LIMITS.pdf_chars, stack)
        self.chars += len(value)
        if self.chars > LIMITS.case_pdf_chars:
            raise _refused(
                "the PDFs of a case are longer than {} characters of base64",
                LIMITS.case_pdf_chars,
                stack,
            )


def _check_string(value: str, stack: list[_Open]) -> None:
    if len(value) > LIMITS.string:
        raise _refused("a string is longer than {} characters", LIMITS.string, stack)


def _refused(reason: str, limit: int, stack: list[_Open]) -> InterchangeError:
    where = ""
    if len(stack) >= 2 and stack[0].key == "cases":
        where = f"case {stack[1].items}"
    return InterchangeError(
        reason.format(f"{limit:,}") + "; a Tadasu case file never holds that, so the file "
        "is refused before anything is read into memory",
        case=where,
    )


@contextmanager
def _not_json() -> Iterator[None]:
    try:
        yield
    except UnicodeDecodeError as error:
        raise NotJSONError(str(error.reason)) from error
    except ijson.JSONError as error:
        reason = error.args[0] if error.args else ""
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        # yajl's message goes on to quote the text around the error: keep its first line.
        raise NotJSONError(str(reason).splitlines()[0] if reason else "") from error
