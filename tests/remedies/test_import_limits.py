"""import_cases refuses a file nested too deep or too large, with a clear message and in
bounded memory (issue 17: a 400 KB file of nested arrays grew to 23 GB; nesting of 2,500
raised RecursionError)."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django_scopes import scopes_disabled

from cases.models import Case
from remedies.interchange import InterchangeError, import_cases

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
