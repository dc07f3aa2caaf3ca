"""Files in the fake Slack, as the real one hands them out: a file shared in a message is
announced in the event (`subtype: file_share`, `files: [...]`), described by files.info (a
bot token with the `files:read` scope; an unknown id is `file_not_found`), and downloaded
from its url_private only with `Authorization: Bearer <bot token>`; without it Slack
redirects to its sign-in page, an HTML page, not the file."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from tests.fakes.slack.server import FakeSlack

JSONBody = dict[str, Any]
SIGN_IN = "<!DOCTYPE html><html><body>Sign in to Fake Team</body></html>"


def file_object(slack: FakeSlack, file_id: str, stored: JSONBody) -> JSONBody:
    """A file as files.info and a message event show it (no content)."""
    url = f"{slack.base_url}/files-pri/{slack.team_id}-{file_id}/{stored['name']}"
    return {
        "id": file_id,
        "created": int(stored["created"]),
        "name": stored["name"],
        "title": stored["name"],
        "mimetype": stored["mimetype"],
        "filetype": stored["filetype"],
        "user": stored["user"],
        "size": stored["size"],
        "mode": "hosted",
        "is_external": False,
        "url_private": url,
        "url_private_download": f"{url}?download=1",
    }


async def files_info(slack: FakeSlack, params: JSONBody) -> JSONBody:
    from tests.fakes.slack.methods import ApiError

    if "files:read" not in slack.scopes:
        raise ApiError("missing_scope")
    file_id = str(params.get("file") or "")
    stored = slack.workspace.files.get(file_id)
    if stored is None:
        raise ApiError("file_not_found")
    return {"file": file_object(slack, file_id, stored)}


async def download(slack: FakeSlack, request: web.Request) -> web.StreamResponse:
    team_and_id = request.match_info["team_file"]
    file_id = team_and_id.split("-", 1)[-1]
    if request.headers.get("Authorization", "") != f"Bearer {slack.bot_token}":
        slack.file_downloads.append((file_id, False))
        raise web.HTTPFound(f"{slack.base_url}/signin?redir=%2Ffiles-pri%2F{team_and_id}")
    stored = slack.workspace.files.get(file_id)
    if stored is None:
        return web.Response(status=404, text="Not found")
    slack.file_downloads.append((file_id, True))
    return web.Response(body=stored["content"], content_type=stored["mimetype"])


async def sign_in(request: web.Request) -> web.Response:
    return web.Response(text=SIGN_IN, content_type="text/html")
