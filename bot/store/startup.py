"""What start-up says about the database when it cannot be opened: never the password."""

from __future__ import annotations

from bot.store import connect


def redacted_url(url: str) -> str:
    """The URL as the operator wrote it, password masked."""
    try:
        return connect.parse_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - whatever it is, it must not be echoed back
        return "(a URL that does not parse)"
