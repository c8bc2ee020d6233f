"""The errors of the step protocol; the daemon maps their codes to HTTP statuses.

A step naming no such run raises ``hakiri.core.errors.UnknownRun``, the agent's error for an
unknown run id too."""

from __future__ import annotations

from hakiri.core.errors import HakiriError

__all__ = ["RunNotOpen", "StepsMissing", "UnknownPage"]


class UnknownPage(HakiriError):
    """The page id is not one of the run's plan."""

    code = "unknown_page"
    exit_code = 2


class RunNotOpen(HakiriError):
    """The run already finished: failed, or interrupted (superseded by a newer plan or run)."""

    code = "run_not_open"


class StepsMissing(HakiriError):
    """A step needs steps not done yet: a commit every pull, a pull the one before it."""

    code = "steps_missing"
