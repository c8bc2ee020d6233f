"""Ingest N demo issues over HTTP on 127.0.0.1 with `hakiri run`: rows/s and peak RSS.

The demo API is the stdlib server of hakiri-testing (in this process, on its own threads);
`hakiri run` is a separate process, measured from the outside.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from _measure import measure

from hakiri.testing.demo_api import DemoApi

HAKIRI = str(Path(sys.executable).with_name("hakiri"))

MANIFEST = """[project]
name = "bench"

[pipelines.issues]
chunk_rows = {chunk_rows}

[pipelines.issues.source]
connector = "http"
url = "{url}/issues"
params = {{ style = "link", per_page = {per_page} }}
pagination = {{ kind = "link_header" }}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--per-page", type=int, default=1000)
    parser.add_argument("--chunk-rows", type=int, default=50_000)
    args = parser.parse_args()
    with DemoApi(issues=args.rows) as api, tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp)
        (project / "hakiri.toml").write_text(
            MANIFEST.format(url=api.url, per_page=args.per_page, chunk_rows=args.chunk_rows)
        )
        result = measure([HAKIRI, "run", "issues", "--json"], cwd=project)
        assert result.returncode == 0, "hakiri run failed"
        summary = json.loads(result.stdout)
        assert summary["rows"] == args.rows
        rate = args.rows / result.seconds
        print("| rows | rows/page | wall time | rows/s | peak RSS |")
        print("|---|---|---|---|---|")
        print(
            f"| {args.rows:,} | {args.per_page} | {result.seconds:.2f} s | {rate:,.0f} "
            f"| {result.peak_rss_mb:.0f} MB |"
        )


if __name__ == "__main__":
    main()
