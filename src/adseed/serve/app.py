"""The FastAPI application: one workspace, bound per request to the caller's principal.

Errors are translated here, at the edge: a denial is always 403 with one fixed body,
whether or not the object exists, so nobody can probe for existence; a missing or
unknown token is 401. Other adseed errors keep their message.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from adseed.config import Settings
from adseed.errors import AdseedError, NotFound, PermissionDenied, Unauthenticated
from adseed.tracing import use_workspace_store
from adseed.workspace import Workspace

DENIED_BODY = {"error_code": "PERMISSION_DENIED", "message": "Permission denied."}
_CODES = {400: "INVALID_PARAMETER_VALUE", 404: "NOT_FOUND", 409: "RESOURCE_CONFLICT"}


def create_app(settings: Settings, routers: Iterable[APIRouter] = ()) -> FastAPI:
    from adseed.serve.endpoints import router as serving_router
    from adseed.serve.files_api import router as files_router

    app = FastAPI(title="adseed", version="0.1.0")
    app.state.workspace = Workspace.load(settings)
    use_workspace_store(settings)  # requests' traces export in the background, not inline
    app.include_router(files_router)
    app.include_router(serving_router)
    for router in routers:
        app.include_router(router)
    app.add_exception_handler(AdseedError, _error_response)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid_body)  # type: ignore[arg-type]
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def caller(request: Request) -> Workspace:
    """The workspace acting for the principal of the request's bearer token."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send 'Authorization: Bearer <token>'")
    base: Workspace = request.app.state.workspace
    return base.as_token(token.strip())


Caller = Annotated[Workspace, Depends(caller)]


async def _invalid_body(request: Request, exc: RequestValidationError) -> JSONResponse:
    """A malformed body or parameter is a 400 saying where and what, like every adseed error."""
    problems = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        problems.append(f"{where}: {str(err.get('msg', 'invalid')).removeprefix('Value error, ')}")
    return JSONResponse(
        {"error_code": "BAD_REQUEST", "message": "; ".join(problems)}, status_code=400
    )


def _openapi(app: FastAPI) -> dict:
    """FastAPI's schema, with its default 422 validation response replaced by our 400."""
    from fastapi.openapi.utils import get_openapi

    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
    error_ref = {"$ref": "#/components/schemas/ErrorBody"}
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            responses = operation.get("responses", {})
            default = responses.get("422", {}).get("content", {}).get("application/json", {})
            if default.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
                del responses["422"]
            responses.setdefault("400", {"description": "malformed request"})
            responses["400"]["content"] = {"application/json": {"schema": error_ref}}
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    from adseed.serve.schemas import ErrorBody

    components.setdefault("ErrorBody", ErrorBody.model_json_schema())
    app.openapi_schema = schema
    return schema


async def _error_response(request: Request, exc: AdseedError) -> JSONResponse:
    if isinstance(exc, PermissionDenied):
        return JSONResponse(DENIED_BODY, status_code=403)
    if isinstance(exc, Unauthenticated):
        return JSONResponse(
            {"error_code": "UNAUTHENTICATED", "message": "Missing or invalid bearer token."},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="adseed"'},
        )
    status = exc.http_status if isinstance(exc, NotFound) or exc.http_status < 500 else 500
    code = _CODES.get(status, "INTERNAL_ERROR" if status >= 500 else "BAD_REQUEST")
    return JSONResponse({"error_code": code, "message": str(exc)}, status_code=status)
