"""Options of the file source, and the format options the s3 source shares.

The JSON Schema of ``FileSourceConfig`` is the connector's spec.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "Compression",
    "CsvOptions",
    "FileSourceConfig",
    "Format",
    "FormatSettings",
    "JsonOptions",
    "arrow_type",
]

Format = Literal["csv", "jsonl", "json", "parquet"]
Compression = Literal["auto", "none", "gzip", "zstd", "bz2"]

_FORBID = ConfigDict(extra="forbid")
_STREAM = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_TIMESTAMP = re.compile(r"timestamp\[(s|ms|us|ns)(?:,\s*tz=([^\]]+))?\]")
_DECIMAL = re.compile(r"decimal128\(\s*(\d+)\s*,\s*(\d+)\s*\)")


def arrow_type(name: str) -> pa.DataType:
    """The Arrow type named ``name``: an alias pyarrow knows (``int64``, ``date32``,
    ``timestamp[s]``), ``timestamp[unit, tz=ZONE]`` or ``decimal128(precision, scale)``.
    Raises ``ValueError`` for anything else."""
    import pyarrow as pa

    arrow: Any = pa  # the stubs type these by literal overloads; names here are any text
    text = name.strip()
    timestamp = _TIMESTAMP.fullmatch(text)
    if timestamp:
        unit, tz = timestamp.groups()
        return cast("pa.DataType", arrow.timestamp(unit, tz=tz.strip() if tz else None))
    decimal = _DECIMAL.fullmatch(text)
    if decimal:
        return cast("pa.DataType", arrow.decimal128(int(decimal[1]), int(decimal[2])))
    try:
        return cast("pa.DataType", arrow.type_for_alias(text))
    except (ValueError, KeyError):
        raise ValueError(
            f"unknown column type {name!r} (use an Arrow type name such as string, int64, "
            "float64, bool, date32, timestamp[s], timestamp[ms, tz=UTC] or decimal128(12, 2))"
        ) from None


class CsvOptions(BaseModel):
    """How CSV files are parsed. Column types are inferred unless ``column_types`` says."""

    model_config = _FORBID
    delimiter: str = Field(default=",", description="Field separator, one character.")
    quote_char: str | None = Field(
        default='"', description="Quote character, one character; '' turns quoting off."
    )
    header: bool = Field(default=True, description="The first row holds the column names.")
    column_names: list[str] | None = Field(
        default=None,
        description="Column names to use. Without a header they name the columns (default "
        "f0, f1, …); with one they replace its names.",
    )
    column_types: dict[str, str] = Field(
        default_factory=dict,
        description="Arrow types of some columns, e.g. {id = 'int64', at = 'timestamp[s]'}; "
        "the others are inferred.",
    )
    null_values: list[str] | None = Field(
        default=None,
        description="Strings read as null (default: Arrow's list: '', 'NULL', 'null', 'NA', …).",
    )
    skip_rows: int = Field(default=0, ge=0, description="Rows to skip before the header.")
    encoding: str = Field(default="utf8", description="Text encoding of the files.")

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, value: str) -> str:
        if len(value) != 1 or value in "\r\n":
            raise ValueError("must be exactly one character (not a line break)")
        return value

    @field_validator("quote_char")
    @classmethod
    def _one_quote(cls, value: str | None) -> str | None:
        if value == "":
            return None  # TOML has no null: an empty string turns quoting off too
        if value is not None and (len(value) != 1 or value in "\r\n"):
            raise ValueError("must be exactly one character, or '' to turn quoting off")
        return value

    @field_validator("column_types")
    @classmethod
    def _known_types(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value.values():
            arrow_type(name)
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        import codecs

        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding {value!r}") from None
        return value

    @model_validator(mode="after")
    def _quote_is_not_delimiter(self) -> CsvOptions:
        if self.quote_char is not None and self.quote_char == self.delimiter:
            raise ValueError("quote_char and delimiter must differ")
        return self


class JsonOptions(BaseModel):
    """How ``.json`` documents are read (JSON Lines files need nothing)."""

    model_config = _FORBID
    records: str | None = Field(
        default=None,
        description="Dotted path to the records in each document, e.g. 'data' or "
        "'data.items'. Default: the document itself (an array gives one record per element, "
        "an object one record).",
    )


class FormatSettings(BaseModel):
    """The options that say how files become rows: shared by the file and s3 sources."""

    model_config = _FORBID
    format: Format | None = Field(
        default=None,
        description="csv, jsonl, json or parquet. Default: from each file's extension "
        "(.csv, .jsonl / .ndjson, .json, .parquet / .pq, optionally followed by .gz, .zst "
        "or .bz2).",
    )
    compression: Compression = Field(
        default="auto",
        description="Compression of CSV / JSON files: auto (from the extension), none, gzip, "
        "zstd or bz2. Parquet compresses inside the file.",
    )
    csv: CsvOptions = Field(default_factory=CsvOptions, description="CSV parsing.")
    json_options: JsonOptions = Field(
        default_factory=JsonOptions, alias="json", description="JSON document reading."
    )
    file_column: str | None = Field(
        default=None,
        description="Add a column of this name holding each row's file (e.g. '_file').",
    )
    stream: str | None = Field(
        default=None,
        description="Name of the stream discover() reports. Default: from the path or pattern.",
    )
    incremental: bool = Field(
        default=True,
        description="Read a file only when it is new or its content changed since the last "
        "committed run. False: every run reads every file.",
    )

    @field_validator("file_column")
    @classmethod
    def _column_name(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must be a non-empty column name")
        return value

    @field_validator("stream")
    @classmethod
    def _stream_name(cls, value: str | None) -> str | None:
        if value is not None and not _STREAM.fullmatch(value):
            raise ValueError("must be lower-case letters, digits and underscores")
        return value

    @model_validator(mode="after")
    def _parquet_is_not_compressed(self) -> FormatSettings:
        if self.format == "parquet" and self.compression not in ("auto", "none"):
            raise ValueError("Parquet files compress inside; compression must be auto or none")
        return self


class FileSourceConfig(FormatSettings):
    """Local files: CSV, JSON Lines, JSON or Parquet, one named file or a glob."""

    model_config = ConfigDict(extra="forbid", title="file source", populate_by_name=True)

    path: str = Field(
        description="A file or a glob ('data/*.csv', 'exports/**/*.parquet'); relative "
        "paths start at the project directory. '*' and '?' stay within one directory, "
        "'**' crosses directories."
    )
    always_hash: bool = Field(
        default=False,
        description="Hash every file on every plan. Default: a file whose size, mtime, ctime "
        "and inode are unchanged since it was hashed (and were settled then) keeps its hash.",
    )

    @field_validator("path")
    @classmethod
    def _non_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name a file or a glob")
        if "\x00" in value:
            raise ValueError("must not contain a NUL character")
        return value
