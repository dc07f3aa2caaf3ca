"""`chatbot kb index` and `chatbot kb search --json` as a user runs them, with the embedded
multilingual model: a Chinese question finds the Chinese AND the English page, an English
question finds a Chinese page."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.cli import run_chatbot

ENGLISH = {
    "leave-shenzhen.md": "# Annual leave in Shenzhen\n\nShenzhen employees get 15 days of annual leave per year.",
    "vpn.md": "# VPN\n\nInstall NorthGate Connect and use the gateway vpn.lumora.example.",
    "phishing.md": "# Phishing\n\nForward suspicious email to phish@lumora.example.",
    "expenses.md": "# Expenses\n\nSubmit expense claims in Ledgerly within 45 days.",
    "printing.md": "# Printing\n\nTap your badge on the printer to release a print job.",
    "parking.md": "# Parking\n\nThere is no company parking; transport passes are refunded at 50%.",
    "laptops.md": "# Laptops\n\nLaptops are replaced every 36 months.",
    "wifi.md": "# Wi-Fi\n\nStaff devices use the LUMORA-STAFF network.",
    "onboarding.md": "# First day\n\nArrive at 09:30; your buddy meets you at reception.",
}
CHINESE = {
    "年假.md": "# 深圳年假\n\n深圳员工每年有 15 天带薪年假。",
    "班车.md": "# 班车\n\n早班车 07:40 从深圳湾地铁站出发。",
    "餐补.md": "# 餐补\n\n每个工作日的餐补是 35 元，充值到鲸卡。",
    "公积金.md": "# 住房公积金\n\n公司和员工各按工资的 12% 缴纳住房公积金。",
    "门禁.md": "# 门禁卡\n\n遗失门禁卡需支付 50 元补办费。",
    "春节.md": "# 春节放假\n\n2027 年春节从 2 月 5 日放假到 2 月 12 日。",
    "出差.md": "# 出差\n\n国内出差每天补贴 120 元。",
    "医保.md": "# 补充医疗保险\n\n门诊报销比例为 90%。",
    "年会.md": "# 年会\n\n年会在 1 月 29 日晚上举行。",
}


async def chatbot(db_url: str, *args: str) -> str:
    env = {**os.environ, "BOT_DATABASE_URL": db_url, "HF_HUB_OFFLINE": "1"}
    ran = await run_chatbot("kb", *args, env=env, limit_s=300)
    assert ran.code == 0, ran.err
    return ran.out


async def test_search_finds_documents_in_both_languages(tmp_path: Path) -> None:
    folder = tmp_path / "handbook"
    folder.mkdir()
    for name, body in {**ENGLISH, **CHINESE}.items():
        (folder / name).write_text(body + "\n", encoding="utf-8")
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"

    indexed = await chatbot(db_url, "index", str(folder))
    assert "18 added" in indexed

    hits = json.loads(
        await chatbot(db_url, "search", "深圳员工每年有多少天年假？", "--k", "3", "--json")
    )
    assert all(set(hit) == {"source", "title", "score", "text"} for hit in hits)
    assert [hit["score"] for hit in hits] == sorted((hit["score"] for hit in hits), reverse=True)
    names = [Path(hit["source"]).name for hit in hits]
    assert "leave-shenzhen.md" in names and "年假.md" in names

    english = json.loads(
        await chatbot(db_url, "search", "What is the daily meal allowance?", "--json")
    )
    assert "餐补.md" in [Path(hit["source"]).name for hit in english[:3]]
