"""Options of the http source. The JSON Schema of ``HttpSourceConfig`` is the connector's spec."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hakiri.connectors._http.retry import RetryConfig

__all__ = [
    "HttpSourceConfig",
    "IncrementalConfig",
    "LinkHeaderPagination",
    "NextTokenPagination",
    "NextUrlPagination",
    "NoPagination",
    "OffsetPagination",
    "PageNumberPagination",
    "Pagination",
    "ParamValue",
]

Scalar = str | int | float | bool
ParamValue = Scalar | list[Scalar]
"""A query parameter value; a list repeats the parameter."""

_FORBID = ConfigDict(extra="forbid")


class NoPagination(BaseModel):
    """One request returns everything."""

    model_config = _FORBID
    kind: Literal["none"] = "none"


class LinkHeaderPagination(BaseModel):
    """Follow the ``rel="next"`` URL of the RFC 8288 ``Link`` response header (GitHub)."""

    model_config = _FORBID
    kind: Literal["link_header"]


class NextUrlPagination(BaseModel):
    """Follow a next-page URL found in the response body; stop when it is null or absent."""

    model_config = _FORBID
    kind: Literal["next_url"]
    path: str = Field(
        description="Dotted path to the next URL in the response JSON, e.g. 'next' or "
        "'links.next'. Relative URLs are resolved against the request URL."
    )


class NextTokenPagination(BaseModel):
    """Send the continuation token found in the body as a query parameter."""

    model_config = _FORBID
    kind: Literal["next_token"]
    path: str = Field(description="Dotted path to the token in the response JSON.")
    param: str = Field(description="Query parameter the token is sent as on the next request.")


class PageNumberPagination(BaseModel):
    """Count pages: ``param=start``, ``start+1``, … Stops on an empty page, a page shorter
    than ``size`` (when ``size`` is set), or past ``total_pages_path``."""

    model_config = _FORBID
    kind: Literal["page_number"]
    param: str = Field(default="page", description="Query parameter holding the page number.")
    start: int = Field(default=1, ge=0, description="Number of the first page.")
    size_param: str | None = Field(
        default=None, description="Query parameter for the page size, e.g. 'per_page'."
    )
    size: int | None = Field(
        default=None, ge=1, description="Page size to request; a shorter page is the last."
    )
    total_pages_path: str | None = Field(
        default=None, description="Dotted path to the number of pages in the response JSON."
    )

    @model_validator(mode="after")
    def _size_needs_param(self) -> PageNumberPagination:
        if self.size_param is not None and self.size is None:
            raise ValueError("size_param needs size (the page size to request)")
        return self


class OffsetPagination(BaseModel):
    """Offset/limit: ``offset`` advances by the rows received. Stops on an empty page, a
    page shorter than ``limit``, or when ``total_path`` says everything was read."""

    model_config = _FORBID
    kind: Literal["offset"]
    param: str = Field(default="offset", description="Query parameter holding the offset.")
    limit_param: str = Field(default="limit", description="Query parameter holding the limit.")
    limit: int = Field(default=100, ge=1, description="Rows to request per page.")
    total_path: str | None = Field(
        default=None, description="Dotted path to the total row count in the response JSON."
    )


Pagination = Annotated[
    NoPagination
    | LinkHeaderPagination
    | NextUrlPagination
    | NextTokenPagination
    | PageNumberPagination
    | OffsetPagination,
    Field(discriminator="kind"),
]


class IncrementalConfig(BaseModel):
    """Read only what changed since the committed cursor."""

    model_config = _FORBID
    cursor_field: str = Field(
        description="Dotted path in a record to its watermark, e.g. 'updated_at'. The "
        "cursor moves to the largest value read."
    )
    param: str = Field(description="Query parameter the committed cursor is sent as, e.g. 'since'.")
    initial: str | int | float | None = Field(
        default=None, description="Value sent on the first run, before any cursor exists."
    )


class HttpSourceConfig(BaseModel):
    """A JSON REST API, paginated, optionally incremental.

    Strings in ``url``, ``params``, ``headers`` and ``body`` may reference secrets as
    ``secret://NAME``; the host substitutes them when the request is made.
    """

    model_config = ConfigDict(extra="forbid", title="http source")

    url: str = Field(description="URL of the first request (http or https).")
    method: Literal["GET", "POST"] = Field(default="GET", description="HTTP method.")
    params: dict[str, ParamValue] = Field(
        default_factory=dict, description="Query parameters sent with every request."
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Request headers, e.g. {Authorization = 'Bearer secret://API_TOKEN'}.",
    )
    body: Any = Field(default=None, description="JSON body of a POST request.")
    records: str | None = Field(
        default=None,
        description="Dotted path to the records in the response JSON, e.g. 'data' or "
        "'data.items'. Default: the response itself (an array gives one record per "
        "element, an object gives one record).",
    )
    pagination: Pagination = Field(
        default_factory=NoPagination, description="How to find the next page."
    )
    incremental: IncrementalConfig | None = Field(
        default=None, description="Read only records newer than the committed cursor."
    )
    timeout: float = Field(default=30.0, gt=0, description="Timeout per request, in seconds.")
    retry: RetryConfig = Field(default_factory=RetryConfig, description="Retry policy.")

    @field_validator("method", mode="before")
    @classmethod
    def _upper_method(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        scheme = value.split("://", 1)[0].lower() if "://" in value else ""
        if scheme not in ("http", "https") or not value.split("://", 1)[1].strip("/"):
            raise ValueError("must be an absolute http:// or https:// URL")
        return value

    @model_validator(mode="after")
    def _body_needs_post(self) -> HttpSourceConfig:
        if self.body is not None and self.method != "POST":
            raise ValueError("body is sent only with method = 'POST'")
        return self
