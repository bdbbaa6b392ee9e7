"""RFC 9457 problem+json: one exception type, rendered once for every service."""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.contracts.text import NO_NUL

PROBLEM_MEDIA_TYPE = "application/problem+json"
FASTAPI_UNPARSABLE_BODY = "There was an error parsing the body"
"""FastAPI's 400 when ``json.loads`` fails outright (a UnicodeDecodeError,
or a RecursionError on deep nesting, caught before any route runs)."""
UNAVAILABLE_SQLSTATES = ("08", "53300", "57P01", "57P02", "57P03")
"""PostgreSQL's codes for a server that cannot serve now (connection lost,
too many connections, shutting down, starting up), not a bad request."""
TYPE_BASE = "https://mhpss.dev/problems/"


class FieldError(BaseModel):
    """One invalid field: where it is (JSON path) and what is wrong."""

    loc: list[str | int]
    msg: str
    type: str


class ProblemDetail(BaseModel):
    """The body of every error response."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] = Field(default_factory=list)
    current: dict[str, Any] | None = Field(
        default=None, description="The server's copy, on version conflicts."
    )


class Problem(Exception):
    """Base of every error a handler or service raises on purpose."""

    slug: ClassVar[str] = "about:blank"
    title: ClassVar[str] = "Error"
    status: ClassVar[int] = 400

    def __init__(
        self,
        detail: str,
        *,
        errors: Sequence[FieldError] = (),
        current: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors)
        self.current = current
        self.headers = headers or {}

    def to_body(self, instance: str | None = None) -> ProblemDetail:
        return ProblemDetail(
            type=TYPE_BASE + self.slug,
            title=self.title,
            status=self.status,
            detail=self.detail,
            instance=instance,
            errors=self.errors,
            current=self.current,
        )


class BadRequest(Problem):
    slug, title, status = "bad-request", "Bad request", 400


class UnknownParameters(Problem):
    """A query parameter no route reads: a typo would otherwise widen an
    answer silently (a filter ignored), so it is refused by name."""

    slug, title, status = "unknown-query-parameters", "Unknown query parameters", 400

    def __init__(self, unknown: Sequence[str], known: Sequence[str]) -> None:
        super().__init__(
            f"Unknown query parameters: {', '.join(unknown)}. This route reads: "
            f"{', '.join(known) or 'none'}.",
            errors=[
                FieldError(loc=["query", name], msg="unknown parameter", type="unknown")
                for name in unknown
            ],
        )


class MalformedJSON(Problem):
    slug, title, status = "malformed-json", "Malformed JSON", 400


class Unauthorized(Problem):
    slug, title, status = "unauthorized", "Not authenticated", 401

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(Problem):
    slug, title, status = "forbidden", "Not allowed", 403


class NotFound(Problem):
    slug, title, status = "not-found", "Not found", 404


class Conflict(Problem):
    slug, title, status = "conflict", "Conflict", 409


class VersionConflict(Problem):
    slug, title, status = "version-conflict", "Version conflict", 409


class ConsentMissing(Problem):
    slug, title, status = "consent-missing", "Consent missing", 409


class PayloadTooLarge(Problem):
    slug, title, status = "payload-too-large", "Payload too large", 413


class UnsupportedMediaType(Problem):
    slug, title, status = "unsupported-media-type", "Unsupported media type", 415


class Invalid(Problem):
    slug, title, status = "validation-error", "Invalid request", 422

    @classmethod
    def field(cls, loc: list[str | int], msg: str, kind: str, detail: str) -> Invalid:
        """One field's error: ``loc`` like ``["body", "project_id"]``."""
        return cls(detail, errors=[FieldError(loc=loc, msg=msg, type=kind)])


class PreconditionRequired(Problem):
    slug, title, status = "precondition-required", "Precondition required", 428


class TooManyRequests(Problem):
    slug, title, status = "too-many-requests", "Too many requests", 429

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class Unavailable(Problem):
    slug, title, status = "unavailable", "Service unavailable", 503

    def __init__(self, detail: str, retry_after: int = 5) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


def problem_response(problem: Problem, request: Request) -> Response:
    return render_problem(problem.to_body(request.url.path), problem.headers)


def render_problem(body: ProblemDetail, headers: dict[str, str]) -> Response:
    return Response(
        body.model_dump_json(exclude_none=True),
        status_code=body.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def problem_responses(*problems: type[Problem]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for the problems a route may raise."""
    return {
        p.status: {
            "model": ProblemDetail,
            "description": p.title,
            "content": {PROBLEM_MEDIA_TYPE: {}},
        }
        for p in problems
    }


def field_errors_from_validation(exc: RequestValidationError) -> list[FieldError]:
    return [_field_error(err) for err in exc.errors()]


def _field_error(err: dict[str, Any]) -> FieldError:
    """Pydantic's error, with ``Text``'s NUL rule said in words, not a regex."""
    loc = [part for part in err.get("loc", ()) if isinstance(part, str | int)]
    if (err.get("ctx") or {}).get("pattern") == NO_NUL:
        return FieldError(
            loc=loc,
            msg="Text must not contain a NUL character (U+0000).",
            type="text_nul",
        )
    return FieldError(
        loc=loc, msg=str(err.get("msg", "")), type=str(err.get("type", ""))
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Render every error of the app as problem+json."""

    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        return problem_response(exc, request)

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = field_errors_from_validation(exc)
        if any(e.type == "json_invalid" for e in errors):
            return problem_response(
                MalformedJSON("The request body is not valid JSON.", errors=errors),
                request,
            )
        return problem_response(
            Invalid("The request has invalid fields.", errors=errors), request
        )

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 400 and exc.detail == FASTAPI_UNPARSABLE_BODY:
            return problem_response(
                MalformedJSON(
                    "The request body is not JSON that can be read: invalid "
                    "UTF-8, or nested deeper than a few hundred levels."
                ),
                request,
            )
        status = HTTPStatus(exc.status_code)
        body = ProblemDetail(
            type=TYPE_BASE + status.phrase.lower().replace(" ", "-"),
            title=status.phrase,
            status=exc.status_code,
            detail=str(exc.detail),
            instance=request.url.path,
        )
        return render_problem(body, dict(exc.headers or {}))

    async def on_integrity(request: Request, exc: Exception) -> Response:
        return problem_response(
            Conflict("A concurrent request wrote the same record; retry."), request
        )

    async def on_database_down(request: Request, exc: Exception) -> Response:
        return problem_response(
            Unavailable("The database is unavailable or busy; try again shortly."),
            request,
        )

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(IntegrityError, on_integrity)
    app.add_exception_handler(OperationalError, on_database_down)
    app.add_exception_handler(PoolTimeout, on_database_down)
    # a refused or reset connection (asyncpg raises these unwrapped on connect)
    app.add_exception_handler(ConnectionError, on_database_down)
    app.add_exception_handler(InterfaceError, on_database_down)

    async def on_database_error(request: Request, exc: Exception) -> Response:
        """asyncpg's errors while PostgreSQL restarts reach SQLAlchemy as a
        bare DBAPIError; any other such error stays a 500."""
        assert isinstance(exc, DBAPIError)
        sqlstate = str(getattr(exc.orig, "sqlstate", "") or "")
        if exc.connection_invalidated or sqlstate.startswith(UNAVAILABLE_SQLSTATES):
            return await on_database_down(request, exc)
        raise exc

    app.add_exception_handler(DBAPIError, on_database_error)


COMMON_PROBLEMS: dict[int, type[Problem]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    422: Invalid,
    429: TooManyRequests,
    503: Unavailable,
}


def _common_statuses(path: str, method: str, operation: dict[str, Any]) -> list[int]:
    """The problems any such operation may answer with, whatever its code:
    the guard (413, 415), authentication and its rate limit (401, 403, 429),
    validation (400, 422), a missing record (404, where the path names one),
    a concurrent write (409) and an unavailable database (503)."""
    if not path.startswith("/v1/"):
        return [503]
    statuses = [400, 401, 403, 429, 503]
    if "{" in path:
        statuses.append(404)
    if operation.get("parameters") or operation.get("requestBody"):
        statuses.append(422)
    if method in {"post", "put", "patch", "delete"}:
        statuses.append(409)
    if method in {"post", "put", "patch"}:
        statuses += [413, 415]
    return statuses


def _title(status: int) -> str:
    known = COMMON_PROBLEMS.get(status)
    return known.title if known else HTTPStatus(status).phrase


def _is_problem(status: str, response: dict[str, Any]) -> bool:
    """An error response as routes or FastAPI wrote it: ours (problem+json)
    or FastAPI's default 422, which this app renders as problem+json too."""
    if not status.isdigit() or int(status) < 400:
        return False
    content = response.get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    return (
        not content
        or PROBLEM_MEDIA_TYPE in content
        or schema.get("$ref", "").endswith("/HTTPValidationError")
    )


def document_problems(app: FastAPI) -> None:
    """Declare the common problem+json responses on every operation of the
    app's OpenAPI, in one place, next to what each route declares itself."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        problem = ProblemDetail.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        components.update(problem.pop("$defs", {}))
        components.setdefault("ProblemDetail", problem)
        reference = {"$ref": "#/components/schemas/ProblemDetail"}
        for path, methods in schema.get("paths", {}).items():
            for method, operation in methods.items():
                responses = operation.setdefault("responses", {})
                for status in _common_statuses(path, method, operation):
                    responses.setdefault(str(status), {})
                for status, response in responses.items():
                    if _is_problem(status, response):
                        response["content"] = {
                            PROBLEM_MEDIA_TYPE: {"schema": reference}
                        }
                        response.setdefault("description", _title(int(status)))
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
