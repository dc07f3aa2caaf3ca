"""Files in the fake Bot API: what a user uploads (voice notes, audio, video notes) and the
two steps a bot takes to fetch one, `getFile` then `GET /file/bot<token>/<file_path>`.

Strict like Telegram: an unknown file_id is "Bad Request: invalid file_id"; a file over the
Bot API's 20 MB download limit is "Bad Request: file is too big" and never served.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from tests.fakes.telegram.server import FakeTelegram

DOWNLOAD_LIMIT = 20 * 1024 * 1024


@dataclass
class FileStore:
    files: dict[str, bytes] = field(default_factory=dict)  # file_id -> content
    sizes: dict[str, int] = field(default_factory=dict)  # what the update claims
    paths: dict[str, str] = field(default_factory=dict)  # file_path -> file_id
    downloads: list[str] = field(default_factory=list)  # file_ids served
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def add(self, data: bytes, suffix: str, claimed_size: int | None = None) -> str:
        file_id = f"file-{next(self._ids)}"
        self.files[file_id] = data
        self.sizes[file_id] = claimed_size if claimed_size is not None else len(data)
        return file_id


def get_file(store: FileStore, params: dict[str, Any]) -> dict[str, Any]:
    from tests.fakes.telegram.methods import ApiError

    file_id = str(params.get("file_id", ""))
    if file_id not in store.files:
        raise ApiError(400, "Bad Request: invalid file_id")
    size = store.sizes[file_id]
    if size > DOWNLOAD_LIMIT:
        raise ApiError(400, "Bad Request: file is too big")
    path = f"voice/{file_id}.oga"
    store.paths[path] = file_id
    return {
        "file_id": file_id,
        "file_unique_id": f"u-{file_id}",
        "file_size": size,
        "file_path": path,
    }


def download_route(tg: FakeTelegram) -> web.RouteDef:
    async def download(request: web.Request) -> web.Response:
        if request.match_info["token"] != tg.token:
            return web.Response(status=401, text="Unauthorized")
        file_id = tg.file_store.paths.get(request.match_info["path"])
        if file_id is None:  # getFile was never called for it
            return web.Response(status=404, text="Not Found")
        tg.file_store.downloads.append(file_id)
        return web.Response(body=tg.file_store.files[file_id])

    return web.get("/file/bot{token}/{path:.+}", download)


async def send_audio(
    tg: FakeTelegram,
    chat_id: int,
    user_id: int,
    data: bytes,
    *,
    kind: str = "voice",
    duration: int = 3,
    mime_type: str = "audio/ogg",
    claimed_size: int | None = None,
    language_code: str | None = None,
) -> int:
    """The user sends a voice note (or `audio`, `video_note`); returns the update id."""
    file_id = tg.file_store.add(data, ".oga", claimed_size)
    payload: dict[str, Any] = {
        "file_id": file_id,
        "file_unique_id": f"u-{file_id}",
        "duration": duration,
        "file_size": tg.file_store.sizes[file_id],
    }
    if kind == "video_note":
        payload["length"] = 240
    else:
        payload["mime_type"] = mime_type
    message = tg._user_message(chat_id, user_id, None, f"[{kind}]", None, language_code)
    message[kind] = payload
    return await tg.push_update({"message": message})


async def send_document(
    tg: FakeTelegram,
    chat_id: int,
    user_id: int,
    data: bytes,
    *,
    file_name: str = "cv.pdf",
    mime_type: str = "application/pdf",
    claimed_size: int | None = None,
    language_code: str | None = None,
) -> int:
    """The user sends a file as a document (a résumé); returns the update id."""
    file_id = tg.file_store.add(data, "", claimed_size)
    message = tg._user_message(chat_id, user_id, None, "[document]", None, language_code)
    message["document"] = {
        "file_id": file_id,
        "file_unique_id": f"u-{file_id}",
        "file_name": file_name,
        "mime_type": mime_type,
        "file_size": tg.file_store.sizes[file_id],
    }
    return await tg.push_update({"message": message})
