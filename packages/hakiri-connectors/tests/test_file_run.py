"""End to end: ``hakiri run`` reads files into the store, ``hakiri query`` counts them."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from hakiri.testing.cli import CliResult, run_hakiri
from hakiri.testing.project import store_fingerprint, write_manifest

MANIFEST = """[pipelines.orders]
[pipelines.orders.source]
connector = "file"
path = "data/**/*.*"
file_column = "_file"
"""


CHUNKED = "[pipelines.orders]\nchunk_rows = 50\n"


def _rows(project: Path, sql: str) -> list[list[object]]:
    rows: list[list[object]] = (
        run_hakiri("query", sql, "--format", "json", cwd=project).check().json()["rows"]
    )
    return rows


def _error_line(result: CliResult) -> str:
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error["), result.stderr
    return lines[0]


def test_run_reads_new_and_changed_files_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "2026").mkdir(parents=True)
    (data / "a.csv").write_text("id,amount\n1,10\n2,20\n")
    (data / "2026" / "b.jsonl").write_text('{"id": 3, "amount": 30}\n')
    pq.write_table(pa.table({"id": [4, 5], "amount": [40, 50]}), data / "2026" / "c.parquet")
    write_manifest(tmp_path, MANIFEST)

    first = run_hakiri("run", "orders", cwd=tmp_path).check()
    assert "5 rows in 3 pages" in first.stdout
    by_file = "select _file, count(*), sum(amount)::bigint from orders group by 1 order by 1"
    assert _rows(tmp_path, by_file) == [
        ["data/2026/b.jsonl", 1, 30],
        ["data/2026/c.parquet", 2, 90],
        ["data/a.csv", 2, 30],
    ]

    nothing = run_hakiri("run", "orders", cwd=tmp_path).check()
    assert "0 rows" in nothing.stdout

    (data / "a.csv").write_text("id,amount\n1,10\n2,20\n6,60\n")  # changed: read again
    (data / "d.csv").write_text("id,amount\n7,70\n")  # new
    run_hakiri("run", "orders", cwd=tmp_path).check()
    # Append keeps both versions of a.csv (2 + 3 rows); b and c were not read again.
    assert _rows(tmp_path, by_file) == [
        ["data/2026/b.jsonl", 1, 30],
        ["data/2026/c.parquet", 2, 90],
        ["data/a.csv", 5, 120],
        ["data/d.csv", 1, 70],
    ]


def test_a_malformed_file_fails_the_run_with_one_line_and_writes_nothing(
    tmp_path: Path,
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("id\n1\n")
    write_manifest(tmp_path, MANIFEST)
    run_hakiri("run", "orders", cwd=tmp_path).check()
    before = store_fingerprint(tmp_path / ".hakiri")

    (tmp_path / "data" / "b.csv").write_text("id\n2\n3,4\n")
    line = _error_line(run_hakiri("run", "orders", cwd=tmp_path))
    assert "data/b.csv" in line and "row 3" in line
    assert store_fingerprint(tmp_path / ".hakiri") == before


def test_a_missing_file_fails_before_anything_is_written(tmp_path: Path) -> None:
    write_manifest(tmp_path, MANIFEST.replace('"data/**/*.*"', '"data/orders.csv"'))
    line = _error_line(run_hakiri("run", "orders", cwd=tmp_path))
    assert "no such file" in line and "orders.csv" in line
    assert not (tmp_path / ".hakiri" / "context").exists()


def test_many_files_keep_pages_small_and_the_cursor_per_file(tmp_path: Path) -> None:
    # 300 one-row files, committed 50 rows at a time: every mid-sweep commit stores the
    # unread pages, the final one the folded {file: version}; a re-run reads the 3 changed.
    data = tmp_path / "data"
    data.mkdir()
    keys = [f"data/part-{i:04d}.jsonl" for i in range(300)]
    for i, key in enumerate(keys):
        (tmp_path / key).write_text(f'{{"id": {i}, "amount": 1}}\n')
    write_manifest(tmp_path, MANIFEST.replace("[pipelines.orders]\n", CHUNKED))
    first = run_hakiri("run", "orders", "--json", cwd=tmp_path).check().json()
    assert (first["rows"], first["commits"]) == (300, 6)

    described = run_hakiri("pipeline", "describe", "orders", "--json", cwd=tmp_path).check()
    cursor = described.json()["cursor"]
    assert cursor["kind"] == "keyed" and set(cursor["position"]) == set(keys)
    text = run_hakiri("pipeline", "describe", "orders", cwd=tmp_path).check().stdout
    assert "cursor       300 keys tracked (v" in text and "sha256" not in text

    for key in (keys[7], keys[150], keys[299]):
        (tmp_path / key).write_text(f'{{"id": {1000 + int(key[-10:-6])}, "amount": 2}}\n')
    for key in keys[10:20]:
        (tmp_path / key).unlink()
    plan = run_hakiri("plan", "orders", "--json", cwd=tmp_path).check().json()
    read = [p["key"] for p in plan["pages"] if p["key"].startswith("file:")]
    assert read == [f"file:{k}" for k in (keys[7], keys[150], keys[299])]
    assert all(len(json.dumps(p)) < 4 * 1024 for p in plan["pages"])
    assert "300 keys tracked" in run_hakiri("plan", "orders", cwd=tmp_path).check().stdout

    second = run_hakiri("run", "orders", "--json", cwd=tmp_path).check().json()
    assert second["rows"] == 3
    after = run_hakiri("pipeline", "describe", "orders", "--json", cwd=tmp_path).check()
    assert set(after.json()["cursor"]["position"]) == set(keys) - set(keys[10:20])
    assert _rows(tmp_path, "select count(*), sum(amount)::bigint from orders") == [[303, 306]]
