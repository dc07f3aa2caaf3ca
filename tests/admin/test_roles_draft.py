"""`chatbot roles draft`: the model's role, validated, written as a draft nobody loads."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from bot.cli_admin import admin_app
from bot.llm.client import OpenAICompatibleLLM
from bot.prompts import PromptLibrary, Role
from bot.roles_draft import DraftRejected, default_draft_path, draft_role, write_draft
from tests.fakes.llm_server import Answer, FakeLLMServer
from tests.harness import PROMPTS

JOB = "We are hiring a data engineer to build batch and streaming pipelines on PostgreSQL."


def drafted_role() -> dict[str, Any]:
    """What a good model returns: a complete role, here the shipped one under a new id."""
    role = PromptLibrary(PROMPTS).roles["python-backend"]
    data = role.model_dump(by_alias=True, exclude={"version"})
    data["id"] = "data-engineer"
    data["title"] = {"en": "Data engineer", "zh": "数据工程师"}
    return data


@pytest.fixture
def prompts(tmp_path: Path) -> Path:
    copy = tmp_path / "prompts"
    shutil.copytree(PROMPTS, copy)
    return copy


async def test_a_valid_draft_is_written_for_review_and_never_loaded(
    llm_server: FakeLLMServer, prompts: Path
) -> None:
    llm_server.enqueue(Answer(json=drafted_role()))
    llm = OpenAICompatibleLLM(llm_server.base_url, max_retries=0)
    try:
        draft = await draft_role(llm, JOB, "job.txt")
    finally:
        await llm.close()
    path = write_draft(draft, default_draft_path(prompts, draft.role.id))
    assert path == prompts / "roles" / "drafts" / "data-engineer.yaml"
    written = path.read_text(encoding="utf-8")
    assert written.startswith("# DRAFT - review before use.")
    role = Role.model_validate(yaml.safe_load(written))
    assert role.title.zh == "数据工程师" and len(role.questions) == 6
    assert role.competencies[0].anchors.five  # the "1"/"3"/"5" keys survive the round trip
    assert "data-engineer" not in PromptLibrary(prompts).roles
    # what the model was asked: the job as data, the role's schema without a version
    request = llm_server.requests[-1]
    assert f"<job_description>\n{JOB}\n</job_description>" in request["messages"][1]["content"]
    schema = request["response_format"]["json_schema"]["schema"]
    assert "version" not in schema["properties"] and "questions" in schema["required"]
    with pytest.raises(FileExistsError):
        write_draft(draft, path)


async def test_an_invalid_draft_is_refused_with_the_reasons(llm_server: FakeLLMServer) -> None:
    bad = drafted_role()
    bad["questions"][0]["competency"] = "astrology"
    llm_server.enqueue(Answer(json=bad), Answer(json=bad))  # and the repair attempt
    llm = OpenAICompatibleLLM(llm_server.base_url, max_retries=0)
    try:
        with pytest.raises(DraftRejected) as refused:
            await draft_role(llm, JOB)
    finally:
        await llm.close()
    assert any("unknown competency 'astrology'" in p for p in refused.value.problems)


async def test_the_cli_writes_a_draft_or_explains_why_not(
    llm_server: FakeLLMServer, prompts: Path, tmp_path: Path
) -> None:
    job = tmp_path / "job.txt"
    job.write_text(JOB, encoding="utf-8")
    env = {
        "BOT_LLM_BASE_URL": llm_server.base_url,
        "BOT_LLM_MAX_RETRIES": "0",
        "BOT_PROMPTS_DIR": str(prompts),
    }
    runner = CliRunner()

    def draft() -> Any:
        return runner.invoke(admin_app, ["roles", "draft", "--from", str(job)], env=env)

    llm_server.enqueue(Answer(json=drafted_role()))
    # the command runs its own event loop; the fake server keeps serving on this one
    done = await asyncio.to_thread(draft)
    assert done.exit_code == 0, done.output
    assert (prompts / "roles" / "drafts" / "data-engineer.yaml").exists()
    llm_server.enqueue(Answer(text="not json"), Answer(text="still not json"))
    refused = await asyncio.to_thread(draft)
    assert refused.exit_code == 1
    assert "not a valid role file" in refused.stderr and "not JSON" in refused.stderr
