"""dlt on the same data: the ``rest_api`` source to the ``filesystem`` destination as Parquet.

Defaults everywhere but what the run needs: a ``header_link`` paginator, the response root
as the records, a local directory as the bucket, and ``loader_file_format="parquet"``.
``--tuned`` applies what the issue found helps: intermediate files not gzipped, bigger
files, two normalize workers.

dlt's own state (pipelines dir, data dir, config lookup) stays under ``--workdir`` and
telemetry is off, so a run writes nothing elsewhere and sends nothing. The rows loaded are
counted from the Parquet files of the root table. Prints ``{"rows": R, "seconds": S}``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

TUNED = {
    "DATA_WRITER__DISABLE_COMPRESSION": "true",
    "DATA_WRITER__FILE_MAX_ITEMS": "200000",
    "NORMALIZE__WORKERS": "2",
}


def _isolate(workdir: Path, *, tuned: bool) -> None:
    """Point every dlt directory into ``workdir`` and turn telemetry off (before import)."""
    os.environ["DLT_DATA_DIR"] = str(workdir / "data")
    os.environ["DLT_PROJECT_DIR"] = str(workdir)
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    os.environ["RUNTIME__LOG_LEVEL"] = "WARNING"
    if tuned:
        os.environ.update(TUNED)
    os.chdir(workdir)


def run(url: str, per_page: int, workdir: Path) -> int:
    """Load every page into ``workdir/bucket``; returns the rows in the root table's files."""
    import dlt
    import pyarrow.parquet as pq
    from dlt.sources.rest_api import rest_api_source

    base_url, _, path = url.rpartition("/")
    endpoint = {"path": path, "params": {"per_page": per_page}, "data_selector": "$"}
    source = rest_api_source(
        {
            "client": {"base_url": base_url + "/", "paginator": {"type": "header_link"}},
            "resources": [{"name": "issues", "endpoint": endpoint}],
        }
    )
    bucket = workdir / "bucket"
    pipeline = dlt.pipeline(
        pipeline_name="bench",
        destination=dlt.destinations.filesystem(bucket_url=str(bucket)),
        dataset_name="bench",
        pipelines_dir=str(workdir / "pipelines"),
    )
    pipeline.run(source, loader_file_format="parquet")
    files = sorted((bucket / "bench" / "issues").glob("*.parquet"))
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the collection, e.g. http://…/issues")
    parser.add_argument("--per-page", type=int, default=100)
    parser.add_argument("--workdir", type=Path, required=True, help="an empty directory")
    parser.add_argument("--tuned", action="store_true", help="the tuned settings of the issue")
    args = parser.parse_args()
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    _isolate(workdir, tuned=args.tuned)
    started = time.perf_counter()
    rows = run(args.url, args.per_page, workdir)
    print(json.dumps({"rows": rows, "seconds": round(time.perf_counter() - started, 3)}))


if __name__ == "__main__":
    main()
