"""The FastAPI application: one workspace, bound per request to the caller's principal.

Errors are translated here, at the edge: a denial is always 403 with one fixed body,
whether or not the object exists, so nobody can probe for existence; a missing or
unknown token is 401. Other adseed errors keep their message.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from adseed.config import Settings
from adseed.errors import AdseedError, NotFound, PermissionDenied, Unauthenticated
from adseed.workspace import Workspace

DENIED_BODY = {"error_code": "PERMISSION_DENIED", "message": "Permission denied."}
_CODES = {400: "INVALID_PARAMETER_VALUE", 404: "NOT_FOUND", 409: "RESOURCE_CONFLICT"}


def create_app(settings: Settings, routers: Iterable[APIRouter] = ()) -> FastAPI:
    from adseed.serve.files_api import router as files_router

    app = FastAPI(title="adseed", version="0.1.0")
    app.state.workspace = Workspace.load(settings)
    app.include_router(files_router)
    for router in routers:
        app.include_router(router)
    app.add_exception_handler(AdseedError, _error_response)  # type: ignore[arg-type]
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
