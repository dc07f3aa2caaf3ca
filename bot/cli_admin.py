"""Admin commands for hiring teams: `chatbot roles draft`, `chatbot export interviews`,
`chatbot audit`. Mounted on the `chatbot` app without a name, so they sit at its top level.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from bot.config import Settings, load_settings
from bot.errors import LLMError
from bot.export import FORMATS, ExportFormat, export_interviews
from bot.roles_draft import DraftRejected, default_draft_path, draft_role, write_draft
from bot.store.sql import SqlStore

admin_app = typer.Typer(no_args_is_help=True)
roles_app = typer.Typer(help="Role files.", no_args_is_help=True)
export_app = typer.Typer(help="Exports for hiring teams (audited).", no_args_is_help=True)
admin_app.add_typer(roles_app, name="roles")
admin_app.add_typer(export_app, name="export")

T = TypeVar("T")


def _settings() -> Settings:
    settings = load_settings()
    logging.basicConfig(level="WARNING", format="%(levelname)s %(name)s: %(message)s")
    return settings


def _default_actor() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (a container without a passwd entry)
        return "unknown"


def _with_store(settings: Settings, work: Callable[[SqlStore], Awaitable[T]]) -> T:
    async def main() -> T:
        store = SqlStore(settings.database_url)
        try:
            await store.upgrade()
            return await work(store)
        finally:
            await store.close()

    return asyncio.run(main())


@roles_app.command("draft")
def roles_draft(
    source: Annotated[
        Path,
        typer.Option(
            "--from", exists=True, dir_okay=False, readable=True, help="the job description"
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(help="where to write it; default prompts/roles/drafts/ROLE_ID.yaml"),
    ] = None,
    force: Annotated[bool, typer.Option(help="replace an existing draft")] = False,
) -> None:
    """Ask the model for a draft role file from a job description, for a person to review.
    Drafts are never loaded; move a reviewed file to prompts/roles/ to use it."""
    from bot.app import build_llm

    settings = _settings()
    description = source.read_text(encoding="utf-8")

    async def main() -> Path:
        llm = build_llm(settings)
        try:
            draft = await draft_role(llm, description, source.name)
        finally:
            await llm.close()
        path = output or default_draft_path(settings.prompts_dir, draft.role.id)
        return write_draft(draft, path, overwrite=force)

    try:
        path = asyncio.run(main())
    except DraftRejected as exc:
        typer.echo("chatbot: the model's draft is not a valid role file:", err=True)
        for problem in exc.problems:
            typer.echo(f"  - {problem}", err=True)
        typer.echo("Nothing was written. Run it again, or write the role by hand.", err=True)
        raise typer.Exit(1) from None
    except LLMError as exc:
        typer.echo(f"chatbot: the model could not be asked: {exc}", err=True)
        raise typer.Exit(1) from None
    except FileExistsError as exc:
        typer.echo(f"chatbot: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"Draft written to {path}. Review it, then move it to prompts/roles/ to use it.")


@export_app.command("interviews")
def export_interviews_command(
    format_name: Annotated[str, typer.Option("--format", help="json, csv or md")] = "json",
    output: Annotated[Path | None, typer.Option(help="a file; default: standard output")] = None,
    actor: Annotated[
        str | None, typer.Option(help="who exports, for the audit log; default: your login")
    ] = None,
) -> None:
    """One row per interview: candidate, role, status, times, recommendation, scores,
    flags, follow-ups and the decision. Each export is written to the audit log."""
    if format_name not in FORMATS:
        raise typer.BadParameter(f"must be one of {', '.join(FORMATS)}", param_hint="--format")
    fmt: ExportFormat = format_name
    settings = _settings()
    who = actor or _default_actor()
    rendered = _with_store(settings, lambda store: export_interviews(store, fmt, who))
    if output is None:
        sys.stdout.write(rendered)
    else:
        output.write_text(rendered, encoding="utf-8")
        typer.echo(f"Exported to {output}.", err=True)


@admin_app.command("calibration")
def calibration_command(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Per role, how often the recommendation agreed with the hiring manager's decision:
    the confusion table and Cohen's kappa."""
    from bot.interview.calibration import calibration, format_calibration

    settings = _settings()
    roles = _with_store(settings, calibration)
    if not as_json:
        typer.echo(format_calibration(roles), nl=False)
        return
    rows = [
        {
            "role": entry.role,
            "decided": entry.decided,
            "agreed": entry.agreed,
            "kappa": entry.kappa,
            "table": [
                {"recommendation": rec, "decision": dec, "count": count}
                for (rec, dec), count in sorted(entry.table.items())
            ],
        }
        for entry in roles
    ]
    typer.echo(json.dumps(rows, indent=2))


@admin_app.command("audit")
def audit(
    limit: Annotated[int, typer.Option(min=1, help="how many entries, newest first")] = 50,
) -> None:
    """The audit log: evaluations, decisions, deletions, exports, reminders, expiries."""
    settings = _settings()
    entries = _with_store(settings, lambda store: store.audit_log(limit))
    if not entries:
        typer.echo("The audit log is empty.")
    for entry in entries:
        details = json.dumps(entry.details, ensure_ascii=False, sort_keys=True)
        typer.echo(
            f"{entry.at.isoformat(timespec='seconds')}  {entry.event:<15} "
            f"{entry.actor:<20} {entry.subject}  {details}"
        )
