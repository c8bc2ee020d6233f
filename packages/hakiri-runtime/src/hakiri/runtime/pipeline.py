"""Resolve a pipeline into validated connectors — everything checked, nothing written.

Bad input (bad schedule, unknown connector, invalid option, missing secret) fails here, before the
catalog or the store is touched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hakiri.core.manifest import PipelineSpec, Project
from hakiri.core.options import validate_options
from hakiri.core.plugins import load_connector
from hakiri.core.ports import ConnectorFactory, SecretResolver
from hakiri.core.schedule import pipeline_schedule
from hakiri.core.secrets import find_secret_refs

__all__ = ["ResolvedPipeline", "resolve_pipeline"]


@dataclass(frozen=True, slots=True)
class ResolvedPipeline:
    project: Project
    spec: PipelineSpec
    source: ConnectorFactory
    source_options: dict[str, Any]
    destination: ConnectorFactory
    destination_options: dict[str, Any]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def table(self) -> str:
        return self.spec.table


def resolve_pipeline(project: Project, name: str, secrets: SecretResolver) -> ResolvedPipeline:
    spec = project.pipeline(name)
    pipeline_schedule(project, name)  # a bad schedule is bad input even for a manual run
    source_where = project.locate(name, ("source", "connector"))
    source = load_connector(spec.source.connector, kind="source", where=source_where)
    source_options = spec.source.options
    _validate(project, name, "source", source, source_options)
    dest_where = project.locate(name, ("destination", "connector"))
    destination = load_connector(spec.destination.connector, kind="destination", where=dest_where)
    destination_options: dict[str, Any] = {}
    _validate(project, name, "destination", destination, destination_options)
    for secret in find_secret_refs(source_options):
        secrets.resolve(secret)
    return ResolvedPipeline(project, spec, source, source_options, destination, destination_options)


def _validate(
    project: Project,
    pipeline: str,
    section: str,
    factory: ConnectorFactory,
    options: Mapping[str, Any],
) -> None:
    """Check ``options`` with the one options validator (``hakiri.core.options``), its
    message led by the manifest's ``file:line: key`` of the first offending option."""

    def locate(path: tuple[str, ...]) -> tuple[str, str]:
        key = ".".join(("pipelines", pipeline, section, *path))
        return project.locate(pipeline, (section, *path)), key

    validate_options(factory.config_model, options, factory.name, locate=locate)
