"""Files as Slack serves them: a file's `url_private` answers only a request that carries a
token of the workspace; the sandbox page shows files as its user, as Slack's own client does
with its session."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, PlainTextResponse

from bot.sandbox.workspace import Sandbox

# What Slack answers a file's private URL asked for without a valid token: its sign-in
# page, with status 200 (a client that checks only the status gets HTML, not the file).
SIGN_IN_PAGE = (
    "<!DOCTYPE html><html><head><title>Sign in | Slack</title></head>"
    "<body><h1>Sign in to warroom-sandbox</h1></body></html>"
)


def add_download_routes(router: APIRouter, sandbox: Sandbox) -> None:
    """Add `url_private` (`/files/{id}/{name}`) and the page's own view of a file."""

    @router.get("/files/{file_id}/{name}")
    def download(file_id: str, name: str, request: Request, download: bool = False) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not sandbox.token_is_known(token.strip()):
            return HTMLResponse(SIGN_IN_PAGE)
        return _file(sandbox, file_id, download=download)

    @router.get("/ui/files/{user}/{file_id}/{name}")
    def page_file(user: str, file_id: str, name: str) -> Response:
        try:
            sandbox.token_for(user)
        except KeyError:
            return HTMLResponse(SIGN_IN_PAGE)
        return _file(sandbox, file_id)


def _file(sandbox: Sandbox, file_id: str, *, download: bool = False) -> Response:
    found = sandbox.file_content(file_id)
    if found is None:
        return PlainTextResponse("not found", status_code=404)
    filename, mimetype, data = found
    disposition = "attachment" if download else "inline"
    headers = {"Content-Disposition": f'{disposition}; filename="{filename}"'}
    return Response(data, media_type=mimetype, headers=headers)
