"""`chatbot chat` as a user runs it: a real process, stdin piped, the scripted model."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from bot.texts import text
from tests.cli import run_chatbot
from tests.fakes.llm_server import Answer, FakeLLMServer
from tests.flows.test_interview import ANSWERS, COMPLETE, evaluation_answers
from tests.harness import PROMPTS


def env(llm: FakeLLMServer, db_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "BOT_LLM_BASE_URL": llm.base_url,
        "BOT_DATABASE_URL": db_url,
        "BOT_PROMPTS_DIR": str(PROMPTS),
        "USER": "tester",
    }


async def chat(llm: FakeLLMServer, db_url: str, stdin: bytes, *args: str) -> tuple[int, str, str]:
    ran = await run_chatbot("chat", *args, env=env(llm, db_url), stdin=stdin)
    return ran.code, ran.out, ran.err


async def test_piped_support_chat_streams_two_answers_and_exits_0(
    llm_server: FakeLLMServer, db_url: str
) -> None:
    llm_server.enqueue("Hello! How can I help?", "Open vpn.example.com and click Forgot password.")
    code, out, err = await chat(
        llm_server, db_url, b"hello\nhow do I reset my VPN password?\n", "--flow", "support"
    )
    assert code == 0, err
    assert "bot> Hello! How can I help?\n" in out
    assert "bot> Open vpn.example.com and click Forgot password.\n" in out
    assert out.index("How can I help") < out.index("Forgot password")
    assert [m["messages"][-1]["content"] for m in llm_server.requests] == [
        "hello",
        "how do I reset my VPN password?",
    ]


async def test_bad_lines_get_clear_answers_in_the_terminal(
    llm_server: FakeLLMServer, db_url: str
) -> None:
    llm_server.enqueue("Hi there.")
    stdin = b"\n" + b"caf\xe9 \xff\xfe\n" + b"hello\n"
    code, out, err = await chat(llm_server, db_url, stdin, "--flow", "support")
    assert code == 0, err
    assert text("input_empty") in out and text("input_binary") in out
    assert "bot> Hi there." in out


async def test_unknown_role_is_refused_with_one_line(
    llm_server: FakeLLMServer, db_url: str
) -> None:
    code, _out, err = await chat(llm_server, db_url, b"", "--flow", "interview", "--role", "wizard")
    assert code == 2
    assert "unknown role 'wizard'" in err and "Traceback" not in err


async def test_a_bad_setting_stops_start_up_naming_the_variable(
    llm_server: FakeLLMServer, db_url: str, tmp_path: Path
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "chat",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={
            **env(llm_server, db_url),
            "BOT_HTTP_PORT": "eighty",
            "BOT_LLM_API_KEY": "sk-secret-123",
        },
        cwd=tmp_path,
    )
    _out, err = await process.communicate()
    assert process.returncode == 2
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chatbot: BOT_HTTP_PORT:")
    assert "sk-secret-123" not in err.decode()


async def test_scripted_interview_in_the_terminal_stores_an_evaluation(
    llm_server: FakeLLMServer, db_url: str
) -> None:
    for _ in ANSWERS:
        llm_server.enqueue(COMPLETE, "Thank you.")
    llm_server.enqueue(*evaluation_answers())
    stdin = ("1\n" + "".join(f"{a}\n" for a in ANSWERS)).encode()  # 1: the consent button
    code, out, err = await chat(
        llm_server, db_url, stdin, "--flow", "interview", "--role", "python-backend"
    )
    assert code == 0, err
    for n in range(1, 7):
        assert out.count(f"Question {n} of 6:") == 1
    assert text("interview_complete") in out
    from bot.store.sql import SqlStore

    store = SqlStore(db_url)
    try:
        [conversation] = await store.list_conversations(flow="interview")
        [evaluation] = await store.evaluations_for(conversation.id)
        assert evaluation.status == "ok" and evaluation.data["recommendation"] == "advance"
    finally:
        await store.close()


async def test_killed_mid_conversation_and_restarted_it_goes_on(
    llm_server: FakeLLMServer, db_url: str
) -> None:
    args = ("--flow", "interview", "--role", "python-backend")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "chat",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env(llm_server, db_url),
    )
    assert process.stdin is not None and process.stdout is not None
    slow = {"ttft": 0.0}

    def model(body: dict[str, object]) -> Answer:
        if "response_format" in body:
            return COMPLETE
        return Answer(text="Thank you.", ttft=slow["ttft"])

    llm_server.default = model
    process.stdin.write(f"1\n{ANSWERS[0]}\n".encode())
    await process.stdin.drain()
    seen = b""
    while b"Question 2 of 6:" not in seen:
        seen += await asyncio.wait_for(process.stdout.read(256), 30)
    slow["ttft"] = 30.0  # the next reply hangs: the process is killed while it waits
    process.stdin.write(f"{ANSWERS[1]}\n".encode())
    await process.stdin.drain()
    await llm_server.wait_until(
        lambda: llm_server.running == 1 and "response_format" not in llm_server.requests[-1],
        timeout_s=30,
    )
    process.send_signal(signal.SIGKILL)  # mid-turn: the second answer is being answered
    await process.wait()
    slow["ttft"] = 0.0
    # restarted with nothing new to say: the saved answer is answered, then the next question
    code, out, err = await chat(llm_server, db_url, b"", *args)
    assert code == 0, err
    assert "Question 3 of 6:" in out
    prompt = llm_server.requests[-1]["messages"]
    assert [m["content"] for m in prompt if m["role"] == "user"][-1].count(ANSWERS[1]) == 1
