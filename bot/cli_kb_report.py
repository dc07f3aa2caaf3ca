"""`chatbot kb report`: what the handbook's owners should read, the questions the help desk
declined and the answers people rated down, newest first, with the desk's counts."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Annotated

import typer

from bot.config import load_settings
from bot.store.api import HelpDeskCounts, ReportLine


def register_report(kb_app: typer.Typer) -> None:
    kb_app.command("report")(report)


def report(
    limit: Annotated[int, typer.Option(help="at most this many questions")] = 200,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object")] = False,
) -> None:
    """Declined and thumbs-down questions, for the handbook's owners."""
    counts, lines = asyncio.run(_read(limit))
    if as_json:
        typer.echo(json.dumps(_as_json(counts, lines), ensure_ascii=False, indent=1))
        return
    typer.echo(render(counts, lines))


async def _read(limit: int) -> tuple[HelpDeskCounts, list[ReportLine]]:
    from bot.store.feedback import SqlHelpDesk
    from bot.store.sql import SqlStore

    store = SqlStore(load_settings().database_url)
    try:
        await store.upgrade()
        desk = SqlHelpDesk(store)
        return await desk.help_desk_counts(), await desk.help_desk_report(limit)
    finally:
        await store.close()


def render(counts: HelpDeskCounts, lines: list[ReportLine]) -> str:
    rated = counts.answered + counts.pinned
    cited = f"{counts.cited / counts.answered:.0%}" if counts.answered else "-"
    out = [
        f"answered {counts.answered} (cited {cited}), pinned {counts.pinned}, "
        f"declined {counts.declined}, escalated {counts.escalated}, "
        f"feedback +{counts.feedback_up} / -{counts.feedback_down} on {rated} answers",
        "",
    ]
    if not lines:
        out.append("No declined or thumbs-down questions.")
    for line in lines:
        why = "declined" if line.outcome == "declined" else f"thumbs-down x{line.thumbs_down}"
        question = " ".join(line.question.split())[:200]
        out.append(f"{line.asked_at:%Y-%m-%d %H:%M}  {why:<16} {question}")
    return "\n".join(out)


def _as_json(counts: HelpDeskCounts, lines: list[ReportLine]) -> dict[str, object]:
    return {
        "counts": dataclasses.asdict(counts),
        "questions": [
            {
                "answer_id": line.answer_id,
                "question": line.question,
                "outcome": line.outcome,
                "thumbs_down": line.thumbs_down,
                "asked_at": line.asked_at.isoformat(),
            }
            for line in lines
        ],
    }
