"""The Files API, in the shape of the lakehouse's ``/api/2.0/fs``: files and directory listings.

Every call acts for the caller's principal through :class:`Workspace`, so the checks,
the audit records and the path rules are exactly those of the CLI and the Python API.
Authorisation runs before the file system is consulted: a 404 is only ever seen by
someone allowed to read the volume.
"""

from __future__ import annotations

import mimetypes

from fastapi import APIRouter, Request, Response

from adseed.errors import InvalidInput
from adseed.serve.app import Caller

router = APIRouter(prefix="/api/2.0/fs", tags=["files"])


def _volume_path(path: str) -> str:
    return "/" + path


@router.get("/files/{path:path}")
def download(path: str, ws: Caller) -> Response:
    data = ws.read_file(_volume_path(path))
    media = mimetypes.guess_type(path)[0] or "application/octet-stream"
    return Response(content=data, media_type=media)


@router.put("/files/{path:path}", status_code=204)
async def upload(path: str, request: Request, ws: Caller, overwrite: bool = False) -> Response:
    limit = ws.settings.max_file_bytes
    declared = int(request.headers.get("content-length") or 0)
    if declared > limit:
        raise InvalidInput(f"file too large: {declared} bytes (limit {limit})")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise InvalidInput(f"file too large: over {limit} bytes")
    ws.write_file(_volume_path(path), bytes(body), overwrite=overwrite)
    return Response(status_code=204)


@router.delete("/files/{path:path}", status_code=204)
def delete(path: str, ws: Caller) -> Response:
    ws.delete_file(_volume_path(path))
    return Response(status_code=204)


@router.get("/directories/{path:path}")
def list_directory(path: str, ws: Caller) -> dict:
    return {"contents": ws.list_dir(_volume_path(path))}
