"""File contents → Arrow, with pyarrow's readers: CSV, JSON Lines, JSON documents, Parquet.

Readers take an open, seekable binary file (a local file, the temporary copy of an S3
object, a buffer) so the file and s3 sources share them. One call reads one whole file:
a file is one page. Malformed input becomes a ``SourceError`` naming the file and, where
the format has them, the row or line.

Types come from the formats: Parquet's own, pyarrow's inference for CSV (numbers, booleans,
ISO-8601 timestamps and dates; ``csv.column_types`` overrides it) and for JSON (numbers,
booleans, nested objects and arrays, ISO-8601 timestamps). Inference looks at the whole
file, so a value late in a file that does not fit an earlier guess widens the column
(e.g. to string) instead of failing it.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from hakiri.connectors.file.config import Format, FormatSettings, arrow_type
from hakiri.core.errors import SourceError

if TYPE_CHECKING:
    import pyarrow as pa

    from hakiri.core.schema import Schema

__all__ = [
    "FileFormat",
    "SNIFF_BYTES",
    "add_file_column",
    "read_table",
    "resolve_format",
    "sniff_schema",
    "stream_schema",
]

SNIFF_BYTES = 1 << 20
"""How much of a file ``sniff_schema`` looks at (one CSV / JSON block)."""

_FORMATS: dict[str, Format] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_CODECS = {".gz": "gzip", ".gzip": "gzip", ".zst": "zstd", ".zstd": "zstd", ".bz2": "bz2"}
_WRAP = "r"
"""The key a JSON document is wrapped under: Arrow's JSON reader wants an object."""


@dataclass(frozen=True, slots=True)
class FileFormat:
    """How one file is read: its format and the codec its bytes are compressed with."""

    format: Format
    codec: str | None = None


def _suffixes(name: str) -> tuple[str, str]:
    """The format extension and the compression extension of ``name`` (lower case)."""
    base = name.rsplit("/", 1)[-1].lower()
    parts = base.split(".")
    last = f".{parts[-1]}" if len(parts) > 1 else ""
    if last in _CODECS:
        inner = f".{parts[-2]}" if len(parts) > 2 else ""
        return inner, last
    return last, ""


def resolve_format(name: str, settings: FormatSettings) -> FileFormat:
    """The format of file ``name`` from ``settings.format`` or its extension.

    Raises ``SourceError`` when neither says, or when a Parquet file is compressed outside.
    """
    extension, compressed = _suffixes(name)
    fmt = settings.format or _FORMATS.get(extension)
    if fmt is None:
        raise SourceError(
            f"cannot tell the format of {name} from its extension",
            hint="set format = 'csv' | 'jsonl' | 'json' | 'parquet', or narrow the path / "
            "pattern to files with a known extension",
            file=name,
        )
    if settings.compression == "auto":
        codec = _CODECS.get(compressed)
    else:
        codec = None if settings.compression == "none" else settings.compression
    if fmt == "parquet" and codec is not None:
        raise SourceError(
            f"{name} is a compressed Parquet file ({codec}); Parquet compresses inside",
            hint="store Parquet files uncompressed, or set compression = 'none'",
            file=name,
        )
    return FileFormat(fmt, codec)


# -- reading ---------------------------------------------------------------------------------


def read_table(file: BinaryIO, fmt: FileFormat, settings: FormatSettings, *, name: str) -> pa.Table:
    """The whole of ``file`` (seekable, positioned anywhere) as one Arrow table."""
    import pyarrow as pa

    from hakiri.core.batch import normalize_table

    if file.seek(0, io.SEEK_END) == 0:
        return pa.table({})  # an empty file (an export with nothing in it) has no rows
    file.seek(0)
    if fmt.format == "parquet":
        table = _read_parquet(file, name)
    elif fmt.format == "csv":
        table = _read_csv(file, fmt, settings, name)
    elif fmt.format == "jsonl":
        table = _read_jsonl(file, fmt, name)
    else:
        table = _read_json_document(file, fmt, settings, name)
    return normalize_table(table)


def add_file_column(table: pa.Table, column: str | None, value: str, *, name: str) -> pa.Table:
    """``table`` with ``column`` holding ``value`` on every row (unchanged if no column)."""
    if column is None:
        return table
    import pyarrow as pa

    if column in table.column_names:
        raise SourceError(
            f"{name} already has a column {column!r}, the name file_column asks for",
            hint="choose another file_column",
            file=name,
        )
    return table.append_column(column, pa.repeat(pa.scalar(value, pa.string()), table.num_rows))


def _input(file: BinaryIO, fmt: FileFormat) -> Any:
    """``file`` from its start as an Arrow stream, decompressing on the way."""
    import pyarrow as pa

    file.seek(0)
    # Typed Any: the stubs accept neither a BinaryIO here nor a NativeFile in the readers,
    # though pyarrow takes both.
    stream: Any = pa.PythonFile(cast(Any, file), mode="r")
    if fmt.codec is None:
        return stream
    return pa.CompressedInputStream(stream, cast(Any, fmt.codec))


def _arrow_errors() -> tuple[type[BaseException], ...]:
    import pyarrow as pa

    # OSError: a truncated or corrupt compressed stream; UnicodeDecodeError: bad encoding.
    return (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OSError, ValueError)


def _read_parquet(file: BinaryIO, name: str) -> pa.Table:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(pa.PythonFile(cast(Any, file), mode="r"))
    except _arrow_errors() as exc:
        raise SourceError(
            f"cannot read {name} as Parquet: {_detail(exc)}",
            hint="check that the file is a complete Parquet file (or set format)",
            file=name,
        ) from None


def _csv_options(settings: FormatSettings, *, threads: bool, block: int | None = None) -> Any:
    import pyarrow.csv as pc

    csv = settings.csv
    skip = csv.skip_rows
    names = csv.column_names
    if names is not None and csv.header:
        skip += 1  # the header row is there but its names are replaced
    read = pc.ReadOptions(
        use_threads=threads,
        skip_rows=skip,
        column_names=names,
        autogenerate_column_names=names is None and not csv.header,
        encoding=csv.encoding,
        **({"block_size": block} if block else {}),
    )
    parse = pc.ParseOptions(
        delimiter=csv.delimiter,
        quote_char=csv.quote_char if csv.quote_char is not None else False,
    )
    convert_args: dict[str, Any] = {
        "column_types": {column: arrow_type(t) for column, t in csv.column_types.items()}
    }
    if csv.null_values is not None:
        convert_args.update(null_values=csv.null_values, strings_can_be_null=True)
    return read, parse, pc.ConvertOptions(**convert_args)


def _read_csv(file: BinaryIO, fmt: FileFormat, settings: FormatSettings, name: str) -> pa.Table:
    import pyarrow.csv as pc

    read, parse, convert = _csv_options(settings, threads=True)
    try:
        return pc.read_csv(
            _input(file, fmt), read_options=read, parse_options=parse, convert_options=convert
        )
    except _arrow_errors() as exc:
        detail = _detail(exc)
    if detail == "Empty CSV file":
        import pyarrow as pa

        return pa.table({})  # e.g. a compressed empty file
    if "Row #" not in detail:
        # Only the single-threaded reader knows row numbers: read again to say where.
        read, parse, convert = _csv_options(settings, threads=False)
        try:
            pc.read_csv(
                _input(file, fmt), read_options=read, parse_options=parse, convert_options=convert
            )
        except _arrow_errors() as exc:
            detail = _detail(exc)
    detail = re.sub(r"Row #(\d+)", r"row \1", detail)
    raise SourceError(
        f"cannot read {name} as CSV: {detail}",
        hint="check the file, or the csv options (delimiter, quote_char, header, column_types)",
        file=name,
    )


def _decompressed(file: BinaryIO, fmt: FileFormat, name: str, *, as_what: str) -> bytes:
    """The whole of ``file``, decompressed; a broken compressed stream is a ``SourceError``
    (``cannot read {name}{as_what}: …``)."""
    try:
        body: bytes = _input(file, fmt).read()
    except _arrow_errors() as exc:
        raise SourceError(
            f"cannot read {name}{as_what}: {_detail(exc)}",
            hint="check the file's compression",
            file=name,
        ) from None
    return body


def _record(value: Any) -> dict[str, Any]:
    """A JSON value as a record: an object as it is, anything else under ``value``."""
    return value if isinstance(value, dict) else {"value": value}


def _read_jsonl(file: BinaryIO, fmt: FileFormat, name: str) -> pa.Table:
    import pyarrow.json as pj

    try:
        return pj.read_json(_input(file, fmt))
    except _arrow_errors():
        pass
    # Arrow refuses a file whose field changes kind (a number here, an object there) and
    # names no line for a syntax error: read it line by line, which does both.
    import orjson

    from hakiri.core.batch import records_to_table

    body = _decompressed(file, fmt, name, as_what=" as JSON Lines")
    records: list[dict[str, Any]] = []
    for number, line in enumerate(body.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise SourceError(
                f"cannot read {name} as JSON Lines: line {number}: {exc.msg}",
                hint="each line must be one JSON object (or set format)",
                file=name,
                line=number,
            ) from None
        records.append(_record(value))
    return records_to_table(records)


def _read_json_document(
    file: BinaryIO, fmt: FileFormat, settings: FormatSettings, name: str
) -> pa.Table:
    records_path = settings.json_options.records
    body = _decompressed(file, fmt, name, as_what="")
    table = _json_columnar(body, records_path)
    if table is not None:
        return table
    return _json_by_record(body, records_path, name)


def _json_columnar(body: bytes, records_path: str | None) -> pa.Table | None:
    """The records of a JSON document read by Arrow, or None when it needs the Python path."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.json as pj

    document = b'{"' + _WRAP.encode() + b'":' + body + b"}"
    options = pj.ParseOptions(newlines_in_values=True)
    read = pj.ReadOptions(use_threads=False, block_size=len(document) + 1)
    try:
        parsed = pj.read_json(io.BytesIO(document), read_options=read, parse_options=options)
        column: Any = parsed.column(_WRAP).combine_chunks()
        for part in [p for p in (records_path or "").split(".") if p]:
            if not pa.types.is_struct(column.type) or column.type.get_field_index(part) < 0:
                return None  # the Python path says what is missing
            column = pc.struct_field(column, part)
        if column.null_count == len(column):
            return pa.table({})
        if pa.types.is_struct(column.type):
            return pa.Table.from_struct_array(column)
        if not pa.types.is_list(column.type):
            return None
        items = column.flatten()
        if len(items) and (not pa.types.is_struct(items.type) or items.null_count):
            return None  # elements that are not objects
        return pa.Table.from_struct_array(items) if len(items) else pa.table({})
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None


def _json_by_record(body: bytes, records_path: str | None, name: str) -> pa.Table:
    import orjson

    from hakiri.connectors._http.select import MISSING, get_path
    from hakiri.core.batch import records_to_table

    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise SourceError(
            f"cannot read {name} as JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}",
            hint="check the file (or set format: 'jsonl' for one object per line)",
            file=name,
            line=exc.lineno,
        ) from None
    selected = get_path(document, records_path) if records_path else document
    if selected is MISSING:
        raise SourceError(
            f"{name} has no {records_path!r} (json.records)",
            hint="point json.records at the array of records",
            file=name,
        )
    if selected is None:
        return records_to_table([])
    if isinstance(selected, dict):
        return records_to_table([selected])
    if not isinstance(selected, list):
        what = repr(records_path) if records_path else "the document"
        raise SourceError(
            f"{what} in {name} is a {type(selected).__name__}, not an array or object",
            hint="point json.records at the array of records",
            file=name,
        )
    return records_to_table([_record(r) for r in selected])


def _detail(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    for prefix in ("CSV parse error: ", "JSON parse error: "):
        text = text.removeprefix(prefix)
    return text or type(exc).__name__


def _sniff_errors() -> tuple[type[BaseException], ...]:
    return (SourceError, *_arrow_errors())


# -- schemas without reading whole files -----------------------------------------------------


def sniff_schema(
    file: BinaryIO, fmt: FileFormat, settings: FormatSettings, *, name: str, size: int
) -> pa.Schema | None:
    """The schema of ``file`` from its metadata or first block; None when that is not cheap.

    Parquet: the footer. CSV / JSON Lines: the first block (the whole file may widen a type
    later). JSON documents: only when the file is small enough to read whole.
    """
    import pyarrow as pa
    import pyarrow.csv as pc
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    try:
        file.seek(0)
        if fmt.format == "parquet":
            schema: pa.Schema = pq.read_schema(pa.PythonFile(cast(Any, file), mode="r"))
        elif fmt.format == "csv":
            read, parse, convert = _csv_options(settings, threads=False, block=SNIFF_BYTES)
            reader = pc.open_csv(
                _input(file, fmt), read_options=read, parse_options=parse, convert_options=convert
            )
            schema = reader.schema
        elif fmt.format == "jsonl":
            block = pj.ReadOptions(use_threads=False, block_size=SNIFF_BYTES)
            schema = pj.open_json(_input(file, fmt), read_options=block).schema
        elif size <= SNIFF_BYTES:
            schema = read_table(file, fmt, settings, name=name).schema
        else:
            return None
    except _sniff_errors():
        return None
    from hakiri.core.batch import normalize_table

    return normalize_table(schema.empty_table()).schema


def stream_schema(arrow: pa.Schema | None, column: str | None, *, name: str) -> Schema | None:
    """The schema of a stream of files like ``name``, whose schema ``sniff_schema`` found to
    be ``arrow``: with the ``file_column`` ``column`` when set. None when ``arrow`` is."""
    if arrow is None:
        return None
    from hakiri.core.schema import Schema

    table = add_file_column(arrow.empty_table(), column, "", name=name)
    return Schema.from_arrow(table.schema)
