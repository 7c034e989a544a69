"""import_cases refuses a file nested too deep or too large, with a clear message and in
bounded memory (issue 17: a 400 KB file of nested arrays grew to 23 GB; nesting of 2,500
raised RecursionError)."""

import base64
import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import ijson
import pytest
from django.core.management import CommandError, call_command
from django_scopes import scopes_disabled
from hypothesis import given, settings
from hypothesis import strategies as st

from cases.models import Case
from remedies.documents.services import PDF_MAX_BYTES
from remedies.interchange import InterchangeError, import_cases, stream

pytestmark = pytest.mark.django_db

HEADER = b'{"format": "tadasu-cases", "version": 1, "cases": '


def deep_arrays(depth: int) -> bytes:
    return HEADER + b"[" * depth + b"]" * depth + b"}"


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "cases.json"
    path.write_bytes(data)
    return path


def refused(path: Path) -> str:
    with pytest.raises(CommandError) as error:
        call_command("import_cases", str(path))
    with scopes_disabled():
        assert not Case.objects.exists()
    return str(error.value)


def test_a_file_of_nested_arrays_is_refused_with_a_clear_message(world, tmp_path):
    # The shape that grew to 23 GB: 400 KB of "[" then "]".
    message = refused(write(tmp_path, deep_arrays(200_000)))
    assert "nested more than 20 levels deep" in message
    assert "Nothing was imported" in message


def test_nesting_of_2500_inside_a_case_is_refused_not_a_recursion_error(world, tmp_path):
    case = b'{"summary": "x", "parties": ' + b"[" * 2500 + b"]" * 2500 + b"}"
    message = refused(write(tmp_path, HEADER + b"[" + case + b"]}"))
    assert "case 1" in message and "nested more than" in message


def test_a_wide_nested_array_is_refused(world, tmp_path):
    wide = b"[" + b",".join([b"[]"] * (100_000 + 1)) + b"]"
    message = refused(write(tmp_path, HEADER + b'[{"parties": ' + wide + b"}]}"))
    assert "case 1" in message and "more than 100,000 items" in message


def test_a_very_long_string_is_refused(world, tmp_path):
    text = json.dumps({"summary": "あ" * (100_000 + 1)}, ensure_ascii=False)
    message = refused(write(tmp_path, HEADER + b"[" + text.encode() + b"]}"))
    assert "longer than 100,000 characters" in message


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(world, tmp_path, settings):
    settings.TADASU_IMPORT_MAX_MB = 1
    message = refused(write(tmp_path, HEADER + b"[]" + b" " * (1024 * 1024) + b"}"))
    assert "larger than 1 MB" in message


def test_nested_data_handed_to_import_cases_is_refused(world):
    deep: list = []
    for _ in range(2500):
        deep = [deep]
    with pytest.raises(InterchangeError) as error:
        import_cases({"format": "tadasu-cases", "version": 1, "cases": [{"parties": deep}]})
    assert "nested more than" in str(error.value)


MEASURE = textwrap.dedent(
    """
    import sys, tracemalloc
    import django
    django.setup()
    from remedies.interchange import InterchangeError
    from remedies.interchange.stream import read_cases
    tracemalloc.start()
    try:
        with open(sys.argv[1], "rb") as file:
            for _ in read_cases(file):
                pass
    except InterchangeError as error:
        print("refused:", error)
    peak = tracemalloc.get_traced_memory()[1]
    # The peak resident size of this process alone: VmHWM starts anew at exec, whereas
    # ru_maxrss carries the peak of the pytest process that started it over fork and exec.
    with open("/proc/self/status") as status:
        rss = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    print(peak, rss)
    """
)


@pytest.mark.parametrize(
    "shape",
    [
        deep_arrays(200_000),  # 400 KB of nesting
        deep_arrays(2_000_000),  # 4 MB of nesting
        HEADER + b"[[" + b",".join([b"[]"] * 400_000) + b"]]}",  # a wide nested array
    ],
    ids=["400KB-deep", "4MB-deep", "wide"],
)
def test_the_refusal_takes_bounded_memory(tmp_path, shape):
    path = write(tmp_path, shape)
    result = subprocess.run(  # noqa: S603  # nosec B603: our own interpreter and script
        [sys.executable, "-c", MEASURE, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"DJANGO_SETTINGS_MODULE": "config.settings", "DJANGO_DEBUG": "1", "PATH": ""},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    refusal, measured = result.stdout.strip().splitlines()[-2:]
    assert refusal.startswith("refused:")
    peak, rss_kib = (int(n) for n in measured.split())
    assert peak < 20 * 1024 * 1024  # Python allocations during the read: under 20 MB
    assert rss_kib < 250 * 1024  # the whole process, Django included: under 250 MB


# ---- each limit at its exact value, and one past it (issue 20) ----------------------------
#
# The first pass (remedies.interchange.stream) refuses a file past any of LIMITS. A limit is
# a rule an administrator can read: "a case of exactly N values is read; one more is
# refused, naming the limit and the case". The checks are read straight off LIMITS, so most
# tests below lower them (SMALL) to keep the files a few bytes long; the defaults
# themselves are pinned at the end.

SMALL = stream.Limits(depth=5, string=13, items=3, case_values=6, pdf_chars=16, case_pdf_chars=28)


@pytest.fixture
def small(monkeypatch):
    monkeypatch.setattr(stream, "LIMITS", SMALL)


def case_file(*cases, **header) -> bytes:
    document = {"format": "tadasu-cases", "version": 1, **header, "cases": list(cases)}
    return json.dumps(document, ensure_ascii=False).encode()


def read(data: bytes):
    """The header and the cases of a file, or the InterchangeError that refuses it."""
    header, cases = stream.read_file(io.BytesIO(data))
    return header, cases.count, list(cases)


def refusal(data: bytes) -> str:
    with pytest.raises(InterchangeError) as error:
        read(data)
    return str(error.value)


def nested(levels: int):
    """A value of `levels` arrays one inside the other."""
    value: list = []
    for _ in range(levels - 1):
        value = [value]
    return value


def test_nesting_at_the_limit_is_read_one_level_more_is_refused(small):
    # The root object, "cases", the case and its "parties" are 4 levels; the limit is 5.
    assert read(case_file({"parties": nested(2)}))[1] == 1
    message = refusal(case_file({"parties": nested(3)}))
    assert message.startswith("case 1: arrays and objects are nested more than 5 levels deep")
    # Not inside a case: the message names no case.
    assert refusal(case_file(personal_data=nested(5))).startswith("arrays and objects are")
    assert read(case_file(personal_data=nested(4)))[0]["personal_data"] == nested(4)


def test_a_string_and_a_key_at_the_limit_are_read_one_character_more_is_refused(small):
    assert read(case_file({"summary": "あ" * 13}))[2] == [{"summary": "あ" * 13}]
    message = refusal(case_file({"summary": "あ" * 14}))
    assert message.startswith("case 1: a string is longer than 13 characters;")
    assert read(case_file({"k" * 13: 1}))[2] == [{"k" * 13: 1}]
    assert refusal(case_file({"k" * 14: 1})).startswith("case 1: a string is longer than 13")
    # A case that is itself a string is named too.
    assert refusal(case_file("x" * 14)).startswith("case 1: a string is longer than 13")
    # "cases" itself too long: no case to name.
    cases_string = b'{"format": "tadasu-cases", "version": 1, "cases": "' + b"x" * 14 + b'"}'
    assert refusal(cases_string).startswith("a string is longer than 13 characters;")
    # In the header too, for a value and a key.
    assert refusal(case_file(note="x" * 14)).startswith("a string is longer than 13")
    assert refusal(case_file(**{"n" * 14: 1})).startswith("a string is longer than 13")


def test_an_array_or_object_in_a_case_at_the_item_limit_is_read_one_more_is_refused(small):
    assert read(case_file({"parties": [1, 2, 3]}, {"parties": [1, 2, 3]}))[1] == 2
    message = refusal(case_file({"parties": []}, {"parties": [1, 2, 3, 4]}))
    assert message.startswith("case 2: an array has more than 3 items;")
    assert read(case_file({"a": 1, "b": 2, "c": 3}))[1] == 1
    message = refusal(case_file({"a": 1, "b": 2, "c": 3, "d": 4}))
    assert message.startswith("case 1: an object has more than 3 keys;")
    nested_object = {"x": {"a": 1, "b": 2, "c": 3, "d": 4}}
    assert refusal(case_file(nested_object)).startswith("case 1: an object has more than 3")
    # An array or object in the header is bounded too (the header check builds it in
    # memory); the keys of the root object are not items.
    assert refusal(case_file(personal_data=[1, 2, 3, 4])).startswith("an array has more")
    message = refusal(case_file(personal_data={"a": 1, "b": 2, "c": 3, "d": 4}))
    assert message.startswith("an object has more than 3 keys")
    assert read(case_file(personal_data={"a": 1, "b": 2, "c": 3}, note=1))[1] == 0


def test_the_number_of_cases_is_not_bounded_by_the_item_limit(small):
    _, count, cases = read(case_file(*({} for _ in range(5))))
    assert count == 5 and cases == [{}] * 5


def test_a_case_at_the_value_limit_is_read_one_value_more_is_refused(small):
    # Values: every string, number, array and object inside the case; not the keys.
    six = {"a": [1, 2], "b": {"c": "x"}, "d": None}  # [, 1, 2, {, "x", null
    assert read(case_file(six, six))[1] == 2  # counted again for each case
    seven = {**six, "a": [1, 2, 3]}
    assert refusal(case_file(six, seven)).startswith("case 2: a case holds more than 6 values;")


def test_pdfs_at_their_limits_are_read_past_them_refused(small):
    # A document's "pdf" may be longer than any other string, up to its own limit.
    def document(*pdfs):
        return {"documents": [{"pdf": pdf} for pdf in pdfs]}

    assert read(case_file(document("A" * 16)))[1] == 1
    message = refusal(case_file(document("A" * 17)))
    assert message.startswith("case 1: a PDF is longer than 16 characters of base64;")
    # The PDFs of one case together, counted anew for each case.
    assert read(case_file(document("A" * 16, "A" * 12), document("A" * 16, "A" * 12)))[1] == 2
    message = refusal(case_file(document("A" * 12), document("A" * 16, "A" * 13)))
    assert message.startswith("case 2: the PDFs of a case are longer than 28 characters")
    # A "pdf" at any level inside a case has the PDF limit; one in the header is an ordinary
    # string.
    assert read(case_file({"pdf": "A" * 16}))[1] == 1
    assert refusal(case_file(note={"pdf": "A" * 14})).startswith("a string is longer than 13")


def test_the_pdfs_of_a_case_may_total_exactly_the_case_limit(small):
    budget = stream._PdfBudget()  # a new case's
    budget.check("A" * 16, [])
    budget.check("A" * 12, [])
    with pytest.raises(InterchangeError, match="longer than 28 characters"):
        budget.check("A", [])


def test_the_header_is_what_the_header_check_reads_and_the_cases_are_counted():
    data = case_file({"summary": "x"}, {"summary": "y"}, personal_data=True, note={"a": [1]})
    header, count, cases = read(data)
    assert header == {"format": "tadasu-cases", "version": 1, "personal_data": True, "cases": []}
    assert count == 2 and cases == [{"summary": "x"}, {"summary": "y"}]
    assert [case["summary"] for case in stream.read_cases(io.BytesIO(data))] == ["x", "y"]


def test_a_list_is_not_a_case_file_whatever_it_holds(small):
    listed = json.dumps([{"documents": [{"pdf": "A" * 16}]}]).encode()
    assert refusal(listed) == 'not a Tadasu case file (expected "format": "tadasu-cases")'


def test_a_version_that_is_not_a_number_is_refused_quoting_it_as_written():
    message = refusal(case_file(version={"major": 1, "minor": [2]}))
    assert message == 'version {"major": 1, "minor": [2]} is not supported (expected 1 or 2)'


def test_a_file_at_exactly_the_size_limit_is_read_one_byte_more_is_refused(settings):
    settings.TADASU_IMPORT_MAX_MB = 1
    exact = case_file({})
    exact = exact[:-1] + b" " * (1024 * 1024 - len(exact)) + b"}"
    assert len(exact) == 1024 * 1024 and read(exact)[1] == 1
    message = refusal(exact + b" ")
    assert message == (
        "the file is larger than 1 MB (TADASU_IMPORT_MAX_MB); split it into several files"
    )


class Pipe(io.RawIOBase):
    """A file that cannot be read twice (standard input)."""

    def __init__(self, data: bytes):
        self.data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = self.data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_a_pipe_at_exactly_the_size_limit_is_read_one_byte_more_is_refused(settings):
    settings.TADASU_IMPORT_MAX_MB = 1
    exact = case_file({"summary": "x"})
    exact = exact[:-1] + b" " * (1024 * 1024 - len(exact)) + b"}"
    _, cases = stream.read_file(io.BufferedReader(Pipe(exact)))
    assert cases.count == 1 and list(cases) == [{"summary": "x"}]
    with pytest.raises(InterchangeError, match="larger than 1 MB"):
        stream.read_file(io.BufferedReader(Pipe(exact + b" ")))


def test_a_file_that_is_not_json_is_refused_with_the_parser_reason_only():
    with pytest.raises(stream.NotJSONError) as error:
        read(b'{"format": "tadasu-cases", "cases": [{"summary": "secret name" ]}')
    # yajl's reason, without the lines after it that quote the text around the error.
    assert str(error.value) == "parse error: after key and value, inside map, I expect ',' or '}'"
    with pytest.raises(stream.NotJSONError) as error:
        read(b'{"format": "\xff\xfe"}')
    assert str(error.value) == "lexical error: invalid bytes in UTF8 string."


def test_the_largest_pdfs_tadasu_accepts_fit_the_default_pdf_limits():
    # The largest PDF a document may hold (20 MiB) fits exactly, and 48 MiB of PDF in one case.
    assert stream.LIMITS.pdf_chars == len(base64.b64encode(bytes(PDF_MAX_BYTES)))
    assert stream.LIMITS.case_pdf_chars == len(base64.b64encode(bytes(48 * 1024 * 1024)))


def test_the_default_limits_at_their_exact_values():
    # 20 levels (the root object, "cases" and the case are 3 of them), strings of 100,000
    # characters, arrays of 100,000 items and 500,000 values in a case are read.
    assert read(case_file({"parties": nested(17)}))[1] == 1
    assert "nested more than 20 levels" in refusal(case_file({"parties": nested(18)}))
    assert read(case_file({"summary": "あ" * 100_000}))[1] == 1
    assert read(case_file({"parties": [0] * 100_000}))[1] == 1
    # 5 arrays of 99,999 numbers: 500,000 values.
    values = {str(n): [0] * 99_999 for n in range(5)}
    assert read(case_file(values))[1] == 1
    values["5"] = 0
    assert "holds more than 500,000 values" in refusal(case_file(values))


# ---- The first pass's fast reading of a case's events is the reading it replaced ----------


def _reference_header(file, parser):
    """remedies.interchange.stream._header as it was before its cases' events were read on
    a path of their own (commit 44e8303): the reference the new one is compared with.
    The document as the header check reads it: its "format" and "version", and its
    "cases" empty ([] for a list); and how many cases it holds. Everything else is only
    read, to see that it is JSON and within limits."""
    limits = stream.LIMITS
    builder = ijson.ObjectBuilder()
    stack = []
    case_values = cases = 0
    pdf = stream._PdfBudget()
    with stream._not_json():
        for event, value in parser.basic_parse(file, use_float=True):
            if event in ("end_map", "end_array"):
                if stack.pop().fed:
                    builder.event(event, value)
                continue
            if event == "map_key":
                stream._check_string(value, stack)
                top = stack[-1]
                top.key = value
                top.items += 1
                if top.items > limits.items and len(stack) > 1:
                    raise stream._refused("an object has more than {} keys", limits.items, stack)
                if top.fed and (len(stack) > 1 or value in (*stream._HEADER, "cases")):
                    builder.event(event, value)
                continue
            # A value: a scalar, or the start of an array or object.
            depth = len(stack)
            if depth == 0:
                fed = True
            elif depth == 1:
                root = stack[0]
                fed = root.is_map and root.key in (*stream._HEADER, "cases")
                if not root.is_map:
                    root.items += 1
            else:
                top = stack[-1]
                fed = top.fed and stack[0].key in stream._HEADER
                if not top.is_map:
                    top.items += 1
                    if top.items > limits.items and not (depth == 2 and stack[0].key == "cases"):
                        raise stream._refused(
                            "an array has more than {} items", limits.items, stack
                        )
                if stack[0].key == "cases":
                    case_values = 0 if depth == 2 else case_values + 1
                    if depth == 2:
                        pdf.chars = 0
                        cases += 1
                    if case_values > limits.case_values:
                        raise stream._refused(
                            "a case holds more than {} values", limits.case_values, stack
                        )
            if event == "string":
                if stack and stack[-1].key == "pdf" and stack[-1].is_map and depth > 2:
                    pdf.check(value, stack)
                else:
                    stream._check_string(value, stack)
            if event in ("start_map", "start_array"):
                if depth >= limits.depth:
                    raise stream._refused(
                        "arrays and objects are nested more than {} levels deep",
                        limits.depth,
                        stack,
                    )
                stack.append(stream._Open(event == "start_map", fed))
            if fed:
                builder.event(event, value)
    return builder.value, cases


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text("ab[]", max_size=18),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["pdf", "a", "b", "c", "cases", "format"]), inner, max_size=4
        )
    ),
    max_leaves=30,
)
_ROOT = st.one_of(
    st.fixed_dictionaries(
        {"format": st.just("tadasu-cases"), "version": st.just(2)},
        optional={"cases": st.lists(_JSON, max_size=4) | _JSON, "x": _JSON, "pdf": _JSON},
    ),
    st.lists(_JSON, max_size=3),
    _JSON,
)


def _outcome(read, data: bytes):
    try:
        return ("read", read(io.BytesIO(data), ijson))
    except (stream.NotJSONError, InterchangeError) as refused:
        return ("refused", type(refused).__name__, str(refused))


@settings(max_examples=400, deadline=None)
@given(document=_ROOT)
def test_the_first_pass_reads_any_document_as_the_reading_it_replaced(document):
    from unittest import mock

    data = json.dumps(document).encode()
    with mock.patch.object(stream, "LIMITS", SMALL):
        assert _outcome(stream._header, data) == _outcome(_reference_header, data)
