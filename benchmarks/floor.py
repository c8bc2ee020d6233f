"""The bare floor: the simplest fast loop from a paginated JSON API to one Parquet file.

One ``httpx.Client`` follows ``Link: rel="next"`` from ``--url``; each page becomes an Arrow
table (``pyarrow.json`` or ``orjson`` + ``pa.array``); tables are buffered into row groups
and written by one zstd ``ParquetWriter``. With ``--prefetch`` a thread fetches pages ahead
through a bounded queue while the main thread decodes and writes. No retries, no catalog,
no schema evolution: what Hakiri costs on top of this is what the ingest benchmark measures.

Prints one JSON line: ``{"rows": R, "seconds": S}`` (S from the first request to the closed
file; the harness measures the whole process from the outside).
"""

from __future__ import annotations

import argparse
import io
import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import orjson
import pyarrow as pa
import pyarrow.json as pa_json
import pyarrow.parquet as pq

Decoder = Callable[[bytes, pa.Schema | None], pa.Table]


def decode_arrow(body: bytes, schema: pa.Schema | None) -> pa.Table:
    """pyarrow's JSON reader over the page wrapped as one object: ``{"a": [...]}``.

    Its reader wants objects, not an array; wrapping keeps the page's bytes as they are
    (splitting into lines would need a JSON-aware scan).
    """
    options = pa_json.ReadOptions(block_size=len(body) + 64, use_threads=False)
    parse = None
    if schema is not None:
        parse = pa_json.ParseOptions(
            explicit_schema=pa.schema([("a", pa.list_(pa.struct(list(schema))))])
        )
    wrapped = pa_json.read_json(io.BytesIO(b'{"a":' + body + b"}"), options, parse)
    records = wrapped.column("a").chunk(0).flatten()
    return pa.Table.from_struct_array(records)


def decode_orjson(body: bytes, schema: pa.Schema | None) -> pa.Table:
    """orjson to Python objects, then ``pa.array`` with the first page's type."""
    rows = orjson.loads(body)
    if schema is None:
        return pa.Table.from_pylist(rows)
    return pa.Table.from_struct_array(pa.array(rows, type=pa.struct(list(schema))))


DECODERS: dict[str, Decoder] = {"arrow": decode_arrow, "orjson": decode_orjson}


def pick_decoder(name: str, per_page: int) -> Decoder:
    # auto: what measured fastest here (2 cores, ~770-byte records): per-call overhead
    # favours orjson on small pages, the C++ parser wins on large ones.
    if name == "auto":
        name = "orjson" if per_page < 500 else "arrow"
    return DECODERS[name]


def fetch_pages(client: httpx.Client, url: str) -> Iterator[bytes]:
    """Every page's body from ``url`` on, following the Link header."""
    next_url: str | None = url
    while next_url is not None:
        response = client.get(next_url)
        response.raise_for_status()
        yield response.content
        next_url = response.links.get("next", {}).get("url")


def prefetched(pages: Iterator[bytes], depth: int) -> Iterator[bytes]:
    """``pages``, fetched ahead by a thread into a queue of at most ``depth`` pages."""
    done = object()
    ahead: queue.Queue[object] = queue.Queue(maxsize=depth)
    failure: list[BaseException] = []

    def fetch() -> None:
        try:
            for page in pages:
                ahead.put(page)
        except BaseException as exc:  # re-raised in the consumer
            failure.append(exc)
        finally:
            ahead.put(done)

    thread = threading.Thread(target=fetch, name="prefetch", daemon=True)
    thread.start()
    while (item := ahead.get()) is not done:
        assert isinstance(item, bytes)
        yield item
    thread.join()
    if failure:
        raise failure[0]


def run(url: str, out: Path, decoder: Decoder, *, prefetch: int, row_group: int) -> int:
    """Read every page into ``out``; returns the number of rows written."""
    rows = 0
    schema: pa.Schema | None = None
    writer: pq.ParquetWriter | None = None
    buffered: list[pa.Table] = []
    buffered_rows = 0
    with httpx.Client(timeout=60) as client:
        pages = fetch_pages(client, url)
        for body in prefetched(pages, prefetch) if prefetch else pages:
            table = decoder(body, schema)
            if schema is None:
                schema = table.schema
                writer = pq.ParquetWriter(out, schema, compression="zstd")
            buffered.append(table)
            buffered_rows += table.num_rows
            if buffered_rows >= row_group:
                assert writer is not None
                writer.write_table(pa.concat_tables(buffered), row_group_size=row_group)
                rows += buffered_rows
                buffered, buffered_rows = [], 0
    if writer is None:
        return 0
    if buffered:
        writer.write_table(pa.concat_tables(buffered), row_group_size=row_group)
        rows += buffered_rows
    writer.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url", required=True, help="first page, e.g. http://…/issues?per_page=1000"
    )
    parser.add_argument("--out", type=Path, required=True, help="the Parquet file to write")
    parser.add_argument("--decoder", choices=["auto", *DECODERS], default="auto")
    parser.add_argument("--prefetch", action="store_true", help="fetch pages in a thread")
    parser.add_argument("--prefetch-depth", type=int, default=4)
    parser.add_argument("--row-group", type=int, default=65_536, help="rows per row group")
    args = parser.parse_args()
    per_page = int(httpx.URL(args.url).params.get("per_page", "100"))
    decoder = pick_decoder(args.decoder, per_page)
    started = time.perf_counter()
    rows = run(
        args.url,
        args.out,
        decoder,
        prefetch=args.prefetch_depth if args.prefetch else 0,
        row_group=args.row_group,
    )
    print(json.dumps({"rows": rows, "seconds": round(time.perf_counter() - started, 3)}))


if __name__ == "__main__":
    main()
