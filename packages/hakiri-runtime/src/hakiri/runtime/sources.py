"""Look at a pipeline's source without running it: its streams, and a few rows of one.

Neither function writes anything: no run, no catalog file, no store directory. They are
what ``hakiri source discover|sample`` print and what the agent surface's
``source.discover`` / ``source.list_tables`` / ``source.sample_table`` answer.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from hakiri.core.clock import SystemClock
from hakiri.core.errors import ConfigError
from hakiri.core.manifest import Project
from hakiri.core.plugins import open_catalog
from hakiri.core.ports import ConnectorFactory, Source
from hakiri.core.records import StreamInfo
from hakiri.runtime.host import LocalHost
from hakiri.runtime.pipeline import resolve_pipeline

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["discover_pipeline", "open_source", "sample_pipeline", "stream_dict"]


def stream_dict(stream: StreamInfo) -> dict[str, Any]:
    """A stream as JSON: its columns as ``{"name", "type", "nullable"}``, if known."""
    columns = None
    if stream.schema is not None:
        columns = [
            {"name": f.name, "type": str(f.type), "nullable": f.nullable}
            for f in stream.schema.to_arrow()
        ]
    return {
        "name": stream.name,
        "description": stream.description,
        "primary_key": list(stream.primary_key),
        "cursor_field": stream.cursor_field,
        "columns": columns,
        "options": stream.options,
    }


@contextmanager
def open_source(
    project: Project, pipeline: str, overrides: Mapping[str, Any] | None = None
) -> Iterator[tuple[ConnectorFactory, Source]]:
    """The source of ``pipeline``, its options updated with ``overrides``; closed on exit.

    The host's catalog is an empty in-memory one: looking never touches the store.
    """
    secrets = project.secrets()
    resolved = resolve_pipeline(project, pipeline, secrets)
    options = {**resolved.source_options, **(overrides or {})}
    catalog = open_catalog("memory://")
    host = LocalHost(project.root, project.store_root, secrets, SystemClock(), catalog)
    try:
        source: Source = resolved.source.create(options, host)
        try:
            yield resolved.source, source
        finally:
            source.close()
    finally:
        catalog.close()


def discover_pipeline(project: Project, pipeline: str) -> dict[str, Any]:
    """Every stream the pipeline's source offers, with schemas where they are cheap to know."""
    with open_source(project, pipeline) as (factory, source):
        streams = source.discover()
    return {
        "pipeline": pipeline,
        "connector": factory.name,
        "streams": [stream_dict(s) for s in streams],
    }


def sample_pipeline(
    project: Project, pipeline: str, *, stream: str | None = None, limit: int = 10
) -> pa.Table:
    """Up to ``limit`` rows of the pipeline's stream, or of another stream its source offers."""
    from hakiri.core.sampling import sample_source

    overrides: dict[str, Any] = {}
    if stream is not None:
        with open_source(project, pipeline) as (factory, source):
            streams = {s.name: s for s in source.discover()}
        if stream not in streams:
            known = ", ".join(sorted(streams)) or "none"
            raise ConfigError(
                f"{factory.name} source of pipeline {pipeline!r} has no stream {stream!r}",
                hint=f"streams: {known} (see `hakiri source discover {pipeline}`)",
            )
        overrides = dict(streams[stream].options)
    with open_source(project, pipeline, overrides) as (_, source):
        return sample_source(source, limit=limit)
