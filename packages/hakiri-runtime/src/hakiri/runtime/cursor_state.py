"""What the runtime keeps in a pipeline's cursor value.

A committed cursor says where the next run starts reading, exactly:

- ``position``: the source's watermark (or token) at the end of the last completed sweep;
  ``plan`` starts from it.
- ``frontier``: the pages still to read in a sweep that was interrupted (None when the last
  sweep completed). A run that finds a frontier resumes with those pages only, so nothing
  committed is read twice and nothing uncommitted is skipped.
- ``sweep``: the watermark reached so far by the interrupted sweep; it becomes ``position``
  when the sweep completes. (Mid-sweep it is not the position: a source need not return rows
  in cursor order, so moving the position before the sweep ends could skip rows.)
- ``run_id``: the run that committed this state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hakiri.core.cursor import JsonValue
from hakiri.core.records import Page

__all__ = ["CursorState"]


@dataclass(frozen=True, slots=True)
class CursorState:
    position: JsonValue = None
    frontier: tuple[Page, ...] | None = None
    sweep: JsonValue = None
    run_id: str | None = None

    @classmethod
    def from_value(cls, value: JsonValue) -> CursorState:
        if not isinstance(value, dict):
            return cls()
        frontier = value.get("frontier")
        return cls(
            position=value.get("position"),
            frontier=None if frontier is None else tuple(Page.from_dict(p) for p in frontier),
            sweep=value.get("sweep"),
            run_id=value.get("run_id"),
        )

    def to_value(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "frontier": None if self.frontier is None else [p.to_dict() for p in self.frontier],
            "sweep": self.sweep,
            "run_id": self.run_id,
        }

    @property
    def resuming(self) -> bool:
        return self.frontier is not None
