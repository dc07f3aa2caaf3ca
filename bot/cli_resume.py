"""`chatbot resume match FILE --role ROLE [--json]`: a résumé against a role's requirements,
the "Match with the role" section a hiring manager reads (never part of interview scores)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from bot.config import load_settings

resume_app = typer.Typer(help="Résumés matched to a role's requirements.", no_args_is_help=True)


@resume_app.command("match")
def match(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    role: Annotated[str, typer.Option(help="role id (prompts/roles/ROLE.yaml)")],
    as_json: Annotated[bool, typer.Option("--json", help="the RoleMatch as JSON")] = False,
    lang: Annotated[str, typer.Option(help="en or zh")] = "en",
) -> None:
    """Parse FILE (PDF or DOCX), strip hidden text and grader talk, judge each requirement."""
    from bot.app import build_llm
    from bot.prompts import PromptLibrary
    from bot.resume.match import clean_resume, match_resume
    from bot.resume.parse import UnreadableResume, parse_resume
    from bot.resume.report import render_match

    settings = load_settings()
    prompts = PromptLibrary(settings.prompts_dir)
    if role not in prompts.roles:
        raise typer.BadParameter(f"unknown role {role!r}", param_hint="--role")
    try:
        cleaned = clean_resume(parse_resume(file.read_bytes(), file.name))
    except UnreadableResume:
        typer.echo(f"chatbot: {file.name} is not a PDF or DOCX résumé we can read", err=True)
        raise typer.Exit(1) from None

    async def main() -> str:
        llm = build_llm(settings)
        try:
            result = await match_resume(llm, prompts.roles[role], cleaned)
        finally:
            await llm.close()
        return result.model_dump_json(indent=2) if as_json else render_match(result, lang)

    typer.echo(asyncio.run(main()))
