"""The manifest: ``hakiri.toml`` plus ``pipelines/*.toml`` and ``pipelines/*.json``.

TOML and JSON load to the same models. Every validation error names the file, the line and
the key, so a person can fix it without guessing.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from hakiri.core._locate import locate_json_key, locate_toml_key
from hakiri.core.errors import ManifestError, UnknownPipeline
from hakiri.core.policies import SchemaPolicy, WriteDisposition
from hakiri.core.query_limits import QueryLimits

if TYPE_CHECKING:
    from hakiri.core.secrets import EnvSecretResolver

__all__ = [
    "MANIFEST_FILE",
    "DestinationSpec",
    "Manifest",
    "PipelineSpec",
    "Project",
    "ProjectSpec",
    "SourceSpec",
    "TransformSpec",
    "load_project",
    "manifest_json_schema",
]

MANIFEST_FILE = "hakiri.toml"
PIPELINES_DIR = "pipelines"
IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")
"""A pipeline or table name. Use ``fullmatch``: ``$`` would admit a trailing newline."""


def _check_identifier(value: str, what: str) -> str:
    if not IDENTIFIER.fullmatch(value):
        raise ValueError(
            f"{what} {value!r} must be lower-case letters, digits and underscores, starting "
            "with a letter or underscore (it becomes a SQL table name)"
        )
    return value


class SourceSpec(BaseModel):
    """Where a pipeline reads: a connector name plus that connector's own options."""

    model_config = ConfigDict(extra="allow")

    connector: str = Field(description="Connector name, e.g. 'http'.")

    @property
    def options(self) -> dict[str, Any]:
        """The connector-specific options (everything but ``connector``)."""
        return dict(self.model_extra or {})


class DestinationSpec(BaseModel):
    """Where a pipeline writes. Defaults: the local context store, a table named after the
    pipeline, appended to."""

    model_config = ConfigDict(extra="forbid")

    connector: str = "context"
    table: str | None = Field(default=None, description="Table name; defaults to the pipeline's.")
    write: WriteDisposition = WriteDisposition.APPEND
    primary_key: list[str] = Field(default_factory=list)
    schema_policy: SchemaPolicy = Field(
        default=SchemaPolicy.EVOLVE,
        description=(
            "What happens when a batch's schema differs from the table's: 'evolve' adds "
            "columns and widens types (an incompatible type fails the run); 'freeze' fails "
            "the run on any change; 'discard_row' keeps the schema and drops rows whose "
            "values do not fit; 'variant' evolves and keeps values of an incompatible type "
            "as JSON text in '<column>__variant'. Every decision is a catalog event."
        ),
    )

    @field_validator("table")
    @classmethod
    def _table_name(cls, value: str | None) -> str | None:
        return None if value is None else _check_identifier(value, "table name")

    @model_validator(mode="after")
    def _merge_key(self) -> DestinationSpec:
        # A merge without a key would quietly append; the key's columns are checked
        # against the data at the run's first page.
        if self.write is WriteDisposition.MERGE and not self.primary_key:
            raise ValueError(
                "write = 'merge' needs a primary_key: the columns that identify a row, "
                'e.g. primary_key = ["id"]'
            )
        if len(set(self.primary_key)) != len(self.primary_key) or "" in self.primary_key:
            raise ValueError("primary_key must name distinct, non-empty columns")
        return self


class TransformSpec(BaseModel):
    """A SQL transform over each batch; the batch is the relation ``batch``."""

    model_config = ConfigDict(extra="forbid")

    sql: str


class PipelineSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", description="Set from the manifest key or the file name.")
    description: str = ""
    source: SourceSpec
    destination: DestinationSpec = Field(default_factory=DestinationSpec)
    transforms: list[TransformSpec] = Field(default_factory=list)
    schedule: str | None = Field(
        default=None,
        description=(
            "When `hakiri serve` runs the pipeline: a 5-field cron expression in UTC "
            "('*/15 * * * *', '@hourly', '@daily' …) or an interval ('every 30s', 'every 15m', "
            "'every 1h30m', 'every 1d'). Never two runs of a pipeline at once; missed times "
            "(downtime, a long run) are caught up with one run, not a burst."
        ),
    )
    chunk_rows: int = Field(
        default=50_000,
        ge=1,
        description="Rows per commit: a crash loses at most one chunk of work.",
    )
    prefetch_pages: int = Field(
        default=4,
        ge=0,
        le=64,
        description="Pages read ahead while the run writes (0: read one page at a time).",
    )

    @property
    def table(self) -> str:
        return self.destination.table or self.name


class ProjectSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    store: str = Field(default=".hakiri", description="Directory of the context store.")
    catalog: str | None = Field(
        default=None, description="Catalog URL; defaults to sqlite:///<store>/catalog.db."
    )


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project: ProjectSpec
    pipelines: dict[str, PipelineSpec] = Field(default_factory=dict)
    query: QueryLimits = Field(
        default_factory=QueryLimits,
        description="Bounds on every query run for a person or an agent (docs/query-safety.md).",
    )

    @model_validator(mode="after")
    def _names_and_tables(self) -> Manifest:
        owners: dict[str, str] = {}
        for name, pipeline in self.pipelines.items():
            _check_identifier(name, "pipeline name")
            pipeline.name = name
            owner = owners.setdefault(pipeline.table, name)
            if owner != name:
                raise ValueError(
                    f"pipelines {owner!r} and {name!r} both write table {pipeline.table!r}; "
                    "give one of them another destination.table"
                )
        return self


@dataclass(frozen=True, slots=True)
class Project:
    """A loaded project: its directory, its manifest, and where each pipeline came from."""

    root: Path
    manifest: Manifest
    origins: dict[str, Path]

    @property
    def name(self) -> str:
        return self.manifest.project.name

    @property
    def store_root(self) -> Path:
        return (self.root / self.manifest.project.store).resolve()

    @property
    def catalog_url(self) -> str:
        return self.manifest.project.catalog or f"sqlite:///{self.store_root / 'catalog.db'}"

    def secrets(self) -> EnvSecretResolver:
        """The resolver of the project's ``secret://NAME`` references: ``$NAME``, else
        ``NAME=…`` in the project's ``.env``."""
        from hakiri.core.secrets import EnvSecretResolver

        return EnvSecretResolver(self.root)

    def locate(self, pipeline: str, key: tuple[str, ...]) -> str:
        """``file:line`` of a key inside a pipeline's definition, for error messages."""
        path = self.origins.get(pipeline, self.root / MANIFEST_FILE)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            return str(path)
        if path.suffix == ".json":
            line = locate_json_key(text, key)
        elif path.name == MANIFEST_FILE:
            line = locate_toml_key(text, ("pipelines", pipeline, *key))
        else:
            line = locate_toml_key(text, key)
        return f"{path}:{line or 1}"

    def pipeline(self, name: str) -> PipelineSpec:
        try:
            return self.manifest.pipelines[name]
        except KeyError:
            known = ", ".join(sorted(self.manifest.pipelines)) or "none"
            raise UnknownPipeline(
                f"no pipeline named {name!r} in {self.root / MANIFEST_FILE}",
                hint=f"pipelines: {known}",
            ) from None


def manifest_json_schema() -> dict[str, Any]:
    """The JSON Schema of ``hakiri.toml`` (and, per pipeline, of ``pipelines/*``)."""
    schema = Manifest.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "hakiri.toml"
    return schema


def find_project_root(start: Path) -> Path:
    """The nearest directory at or above ``start`` that holds a ``hakiri.toml``."""
    start = start.resolve()
    for candidate in (start, *start.parents):
        if (candidate / MANIFEST_FILE).is_file():
            return candidate
    raise ManifestError(
        f"no {MANIFEST_FILE} in {start} or any parent directory",
        hint="run `hakiri init NAME` to create a project, or pass --project DIR",
    )


def _read_toml(path: Path) -> tuple[dict[str, Any], str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None) or _line_from_message(str(exc))
        if line is None and "end of document" in str(exc):
            line = text.count("\n") + 1
        where = f"{path}:{line}" if line else str(path)
        raise ManifestError(f"{where}: invalid TOML: {_first_clause(str(exc))}") from exc


def _read_json(path: Path) -> tuple[dict[str, Any], str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise ManifestError(f"{path}:1: a pipeline file must hold one JSON object")
    return data, text


def _line_from_message(message: str) -> int | None:
    match = re.search(r"line (\d+)", message)
    return int(match.group(1)) if match else None


def _first_clause(message: str) -> str:
    return re.sub(r"\s*\(at line \d+, column \d+\)", "", message).strip()


@dataclass(frozen=True, slots=True)
class _Origin:
    path: Path
    text: str
    prefix: tuple[str, ...]
    """Key path of this file's root inside the merged manifest."""
    is_json: bool


def load_project(root: Path) -> Project:
    """Load ``root/hakiri.toml`` and ``root/pipelines/*``; raise ``ManifestError`` on any
    problem, naming the file, line and key."""
    manifest_path = root / MANIFEST_FILE
    if not manifest_path.is_file():
        raise ManifestError(
            f"no {MANIFEST_FILE} in {root}", hint="run `hakiri init NAME` to create a project"
        )
    data, text = _read_toml(manifest_path)
    origins: dict[str, _Origin] = {"": _Origin(manifest_path, text, (), False)}
    pipelines = data.setdefault("pipelines", {})
    if not isinstance(pipelines, dict):
        line = locate_toml_key(text, ("pipelines",))
        raise ManifestError(f"{manifest_path}:{line or 1}: 'pipelines' must be a table")
    pipeline_files: dict[str, Path] = {}
    extra_dir = root / PIPELINES_DIR
    if extra_dir.is_dir():
        for path in sorted(extra_dir.iterdir()):
            if path.suffix not in (".toml", ".json") or not path.is_file():
                continue
            body, body_text = _read_json(path) if path.suffix == ".json" else _read_toml(path)
            name = path.stem
            if name in pipelines:
                first = pipeline_files.get(name, manifest_path)
                raise ManifestError(
                    f"{path}: pipeline {name!r} is already defined in {first}",
                    hint="rename one of them",
                )
            pipelines[name] = body
            pipeline_files[name] = path
            origins[name] = _Origin(path, body_text, ("pipelines", name), path.suffix == ".json")
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as exc:
        raise _manifest_error(exc, origins) from None
    resolved = {name: pipeline_files.get(name, manifest_path) for name in manifest.pipelines}
    return Project(root=root.resolve(), manifest=manifest, origins=resolved)


def _manifest_error(exc: ValidationError, origins: dict[str, _Origin]) -> ManifestError:
    errors = exc.errors()
    first = errors[0]
    loc = tuple(str(part) for part in first["loc"])
    origin = origins[""]
    if len(loc) >= 2 and loc[0] == "pipelines" and loc[1] in origins:
        origin = origins[loc[1]]
    local = loc[len(origin.prefix) :]
    locate = locate_json_key if origin.is_json else locate_toml_key
    line = locate(origin.text, local) or 1
    key = ".".join(loc) if loc else "(manifest)"
    message = _describe(first)
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return ManifestError(
        f"{origin.path}:{line}: {key}: {message}" + (more if len(errors) > 1 else ""),
        file=str(origin.path),
        line=line,
        key=key,
    )


def _describe(error: Any) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")
