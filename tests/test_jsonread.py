"""engine/jsonread.py, the one strict JSON reader: every way a file can fail to be plain UTF-8
JSON is an InputError naming the file (and the JSON path of a repeated key), for the config,
state, saved plan and sandbox tenant files alike."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exoform.engine.cmdlets import CmdletCall
from exoform.engine.config import load_config
from exoform.engine.errors import InputError
from exoform.engine.jsonfile import read_json
from exoform.engine.jsonread import JsonFile, parse_json_bytes, read_json_file
from exoform.engine.planfile import read_plan
from exoform.engine.statefile import read_state_file
from exoform.providers.sandbox import TenantFile

KIND = JsonFile(noun="test file", max_bytes=64, content="a test file is a small object",
                fix="fix it there")


def refused(raw: bytes, kind: JsonFile = KIND) -> tuple[str, str]:
    """(path, message) of the first issue of reading `raw`."""
    with pytest.raises(InputError) as caught:
        parse_json_bytes(raw, kind, "t.json")
    assert caught.value.source == "t.json"
    issue = caught.value.issues[0]
    return issue.path, issue.message


@pytest.mark.parametrize("raw, fragment", [
    (b"", "is empty (not valid JSON); a test file is a small object"),
    (b" \n\t", "is empty (not valid JSON)"),
    (b'{"a": 1,}', "is not valid JSON: Expecting property name enclosed in double quotes at line 1, "
                   "column 9; fix it there"),
    (b'{"a": NaN}', "NaN is not a JSON value"),
    (b'{"a": Infinity}', "Infinity is not a JSON value"),
    (b'[-Infinity]', "-Infinity is not a JSON value"),
    (b'[1e999]', "the number 1e999 is too large to represent"),
    (b"[" * 100_000, "nests too deeply"),
    (b"[" + b"9" * 5000 + b"]", "is not valid JSON: Exceeds the limit"),
    (b'{"caf\xe9": 1}', "cannot read test file: not UTF-8 text (invalid byte at offset 5); "
                        "save the file as UTF-8"),
    ("{}".encode("utf-16"), "not UTF-8 text (it looks like UTF-16, with its byte order mark)"),
    (b"\xfe\xff\x00{\x00}", "it looks like UTF-16, with its byte order mark"),
    ('{"a": 1}'.encode("utf-16-le"), "it looks like UTF-16: every other byte is NUL"),
    ('{"a": 1}'.encode("utf-16-be"), "it looks like UTF-16: every other byte is NUL"),
])
def test_refused_with_a_clear_file_level_message(raw: bytes, fragment: str) -> None:
    kind = JsonFile(noun=KIND.noun, max_bytes=1 << 20, content=KIND.content, fix=KIND.fix)
    path, message = refused(raw, kind)
    assert path == "" and fragment in message


@pytest.mark.parametrize("raw, path", [
    (b'{"a": 1, "a": 2}', "a"),
    (b'{"x": [{"Name": "r"}, {"Name": "s", "Name": "t"}]}', "x[1].Name"),
    (b'{"x": {"y": {"z": 1, "z": 1}}}', "x.y.z"),
])
def test_repeated_key_is_refused_at_its_json_path(raw: bytes, path: str) -> None:
    assert refused(raw, JsonFile("test file", 1 << 20)) == (
        path, "appears more than once in this object; keep one (JSON readers silently use the last)")


def test_every_repeated_key_is_listed_in_path_order() -> None:
    with pytest.raises(InputError) as caught:
        parse_json_bytes(b'{"b": {"k": 1, "k": 2}, "a": 1, "a": 2}', KIND, "t.json")
    assert [issue.path for issue in caught.value.issues] == ["a", "b.k"]


def test_utf8_byte_order_mark_is_tolerated() -> None:
    assert parse_json_bytes(b'\xef\xbb\xbf{"a": [1, 2.5, null]}', KIND, "t.json") == {"a": [1, 2.5, None]}


def test_size_limit_is_the_callers() -> None:
    body = b'"' + b"x" * 62 + b'"'
    assert len(body) == KIND.max_bytes
    assert parse_json_bytes(body, KIND, "t.json") == "x" * 62


def test_file_larger_than_the_limit_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(b'"' + b"x" * 100 + b'"')
    with pytest.raises(InputError) as caught:
        read_json_file(path, KIND)
    assert caught.value.source == str(path)
    assert caught.value.issues[0].message == "is larger than 64 bytes; a test file is a small object"


def test_missing_file_folder_and_unreadable_file(tmp_path: Path) -> None:
    kind = JsonFile("test file", 1024, missing="check the path")
    with pytest.raises(InputError, match="test file not found; check the path"):
        read_json_file(tmp_path / "nope.json", kind)
    with pytest.raises(InputError, match="is a folder; pass the path of a JSON test file"):
        read_json_file(tmp_path, kind)
    locked = tmp_path / "locked.json"
    locked.write_text("{}")
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("running as root: permissions are not enforced")
        with pytest.raises(InputError, match="cannot read test file: permission denied"):
            read_json_file(locked, kind)
    finally:
        locked.chmod(0o600)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@given(json_values)
def test_plain_json_reads_back_as_written(value: Any) -> None:
    raw = json.dumps(value, ensure_ascii=False).encode("utf-8")
    assert parse_json_bytes(raw, JsonFile("test file", 1 << 20), "t.json") == value


# ---- every file exoform reads goes through it ------------------------------------------------

REPEATED = '{"format_version": 2, "format_version": 2, "resources": []}'


def _config(path: Path) -> object:
    return load_config(path)


def _state(path: Path) -> object:
    return read_state_file(path)


def _plan(path: Path) -> object:
    return read_plan(path)


def _tenant(path: Path) -> object:
    return TenantFile(path).run(CmdletCall.of("Get-TransportRule"))


@pytest.mark.parametrize("read", [_config, _state, _plan, _tenant], ids=["config", "state", "plan", "tenant"])
@pytest.mark.parametrize("raw, path, fragment", [
    (REPEATED.encode(), "format_version", "appears more than once"),
    (b'{"TransportRule": [{"Name": "r", "Priority": NaN}]}', "", "NaN is not a JSON value"),
    ('{"organization": "x.onmicrosoft.com"}'.encode("utf-16"), "", "looks like UTF-16"),
], ids=["repeated-key", "nan", "utf-16"])
def test_each_file_kind_refuses_what_the_config_refuses(
    tmp_path: Path, read: Callable[[Path], object], raw: bytes, path: str, fragment: str
) -> None:
    file = tmp_path / "f.json"
    file.write_bytes(raw)
    with pytest.raises(InputError) as caught:
        read(file)
    assert caught.value.source == str(file)
    assert caught.value.issues[0].path == path and fragment in caught.value.issues[0].message


def test_state_and_plan_messages_keep_their_wording(tmp_path: Path) -> None:
    file = tmp_path / "s.json"
    file.write_text('{"serial": ')
    with pytest.raises(InputError, match="not valid JSON: Expecting value at line 1, column 12; "
                                         "fix or restore the state file"):
        read_json(file, "state")
    with pytest.raises(InputError, match="saved plan file not found"):
        read_json(tmp_path / "none.plan", "saved plan")
