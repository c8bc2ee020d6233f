"""GitHub's failures as one line that names the repository and says what to do."""

from __future__ import annotations

import math

from hakiri.connectors.github.config import GithubSourceConfig
from hakiri.core.errors import SourceError, SourceHttpError

__all__ = ["repository_error", "transport_error"]


def transport_error(exc: SourceError, config: GithubSourceConfig) -> SourceError:
    """A failure before GitHub answered (unreachable, timeout, a broken response), with
    the github connector's option names in the hint."""
    hint = "check base_url"
    if exc.hint and "timeout" in exc.hint:
        hint = "check base_url, or raise timeout"
    return type(exc)(f"github: {exc.message}", hint=hint, **exc.details)


def repository_error(
    exc: SourceHttpError, repo: str, config: GithubSourceConfig
) -> SourceHttpError:
    """``exc`` (from the http client, reading ``repo``) restated for a GitHub user."""
    status = exc.details.get("status")
    url = exc.details.get("url")
    where = f"GET {url}" if url else config.base_url
    details = dict(exc.details)
    details["repository"] = repo
    token = config.token
    if exc.details.get("rate_limited"):
        reset_at, wait = exc.details.get("reset_at"), exc.details.get("retry_after")
        if not isinstance(reset_at, str) or not isinstance(wait, int | float):
            message = f"github: reading {repo}: {exc.message}"  # refused again and again
        else:
            message = (
                f"github: the rate limit is used up reading {repo}; it resets at {reset_at} "
                f"(in {math.ceil(wait)} s), more than max_rate_limit_wait = "
                f"{config.max_rate_limit_wait:g} s"
            )
        return SourceHttpError(
            message,
            hint="run again after the reset, or raise max_rate_limit_wait",
            **details,
        )
    if status == 401:
        if token is None:
            hint = "this API wants a token: set token = 'secret://GITHUB_TOKEN'"
        else:
            name = token.removeprefix("secret://")
            hint = f"check the secret {name}: is it a current token that is not revoked?"
        return SourceHttpError(
            f"github: the token was rejected reading {repo} (HTTP 401 from {where})",
            hint=hint,
            **details,
        )
    if status == 404:
        return SourceHttpError(
            f"github: repository {repo!r} not found (HTTP 404 from {where})",
            hint="check repos (owner/name); a private repository answers 404 to a token "
            "that cannot read it",
            **details,
        )
    if status == 403:
        return SourceHttpError(
            f"github: access to {repo} refused (HTTP 403 from {where})",
            hint="check that the token may read this repository's issues, pull requests "
            "and contents",
            **details,
        )
    if status == 422:
        return SourceHttpError(
            f"github: the request for {repo} was refused (HTTP 422 from {where})",
            hint="check state and since",
            **details,
        )
    return SourceHttpError(f"github: reading {repo}: {exc.message}", hint=exc.hint, **details)
