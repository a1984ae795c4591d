"""The document loader turns every kind of bad file into a clear error, never a traceback."""

from __future__ import annotations

from pathlib import Path

from twinsight.models.loader import documents_from_bytes, load_paths


def test_bom_is_accepted() -> None:
    docs, errors = documents_from_bytes(b'\xef\xbb\xbf[{"@id": "dtmi:a:B;1"}]', "m.json")
    assert errors == []
    assert docs[0].content == [{"@id": "dtmi:a:B;1"}]
    assert docs[0].name == "m.json"


def test_non_utf8_names_the_byte_and_line() -> None:
    docs, errors = documents_from_bytes(b'{\n "displayName": "caf\xe9"}', "latin1.json")
    assert docs == []
    (error,) = errors
    assert error.rule == "InvalidUtf8"
    assert error.document == "latin1.json"
    assert "byte 22" in error.message and "line 2" in error.message
    assert "UTF-8" in error.fix


def test_malformed_json_names_line_and_column() -> None:
    _, errors = documents_from_bytes(b'{"@id": "dtmi:a:B;1",\n  "@type": }', "bad.json")
    (error,) = errors
    assert error.rule == "InvalidJson"
    assert "line 2, column 12" in error.message


def test_oversized_document_is_refused_without_parsing() -> None:
    _, errors = documents_from_bytes(b"[" + b"1," * 100 + b"1]", "big.json", max_bytes=50)
    (error,) = errors
    assert error.rule == "DocumentTooLarge"
    assert "limit of 50" in error.message


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    _, errors = documents_from_bytes(b"[" * 100_000 + b"]" * 100_000, "deep.json")
    assert [e.rule for e in errors] == ["NestingTooDeep"]


def test_folders_are_searched_recursively_with_odd_names(tmp_path: Path) -> None:
    (tmp_path / "a b" / "c").mkdir(parents=True)
    (tmp_path / "a b" / "c" / "one model.json").write_text('{"@id": "dtmi:x:One;1"}')
    (tmp_path / "a b" / "two.json").write_bytes(b'\xef\xbb\xbf{"@id": "dtmi:x:Two;1"}')
    (tmp_path / "a b" / "notes.txt").write_text("not a model")
    docs, errors = load_paths([tmp_path])
    assert errors == []
    assert sorted(d.content["@id"] for d in docs) == ["dtmi:x:One;1", "dtmi:x:Two;1"]


def test_every_bad_file_is_reported_and_good_ones_still_load(tmp_path: Path) -> None:
    (tmp_path / "good.json").write_text('{"@id": "dtmi:x:Good;1"}')
    (tmp_path / "bad.json").write_text("{")
    (tmp_path / "worse.json").write_bytes(b"\xff\xfe")
    docs, errors = load_paths([tmp_path, tmp_path / "missing.json"], max_bytes=1024)
    assert [d.content["@id"] for d in docs] == ["dtmi:x:Good;1"]
    assert sorted(e.rule for e in errors) == ["FileNotFound", "InvalidJson", "InvalidUtf8"]


def test_large_file_on_disk_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_text("[" + "0," * 1000 + "0]")
    docs, errors = load_paths([big], max_bytes=100)
    assert docs == []
    assert errors[0].rule == "DocumentTooLarge"
    assert str(big) in str(errors[0])
