"""The Whisper deployment: the bot's BOT_ASR_BASE_URL reaches a server that exists, on the
port it listens on, in compose (both ASR profiles) and in Kubernetes."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_compose_asr_profiles_answer_where_the_bot_sends_voice() -> None:
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    url = urlsplit(services["bot"]["environment"]["BOT_ASR_BASE_URL"])
    assert url.path == "/v1"
    for name, profile in (("whisper", "whisper"), ("whisper-cpu", "whisper-cpu")):
        service = services[name]
        assert service["profiles"] == [profile]
        assert url.hostname in service["networks"]["default"]["aliases"]
        command = service["command"]
        assert command[command.index("--port") + 1] == str(url.port)
    assert services["whisper"]["command"][1] == "openai/whisper-large-v3-turbo"
    assert services["whisper-cpu"]["command"][:4] == ["chatbot", "model", "serve", "--asr"]
    assert "/health" in " ".join(services["whisper-cpu"]["healthcheck"]["test"])


def test_kubernetes_whisper_is_its_own_gpu_deployment_behind_a_service() -> None:
    objects = {(d["kind"], d["metadata"]["name"]): d for d in docs(DEPLOY / "k8s" / "whisper.yaml")}
    deployment = objects[("Deployment", "whisper")]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    args = container["args"]
    assert args[args.index("--model") + 1] == "openai/whisper-large-v3-turbo"
    port = int(args[args.index("--port") + 1])
    assert str(container["resources"]["limits"]["nvidia.com/gpu"]) == "1"
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": port}
    service = objects[("Service", "whisper")]
    assert service["spec"]["selector"] == deployment["spec"]["template"]["metadata"]["labels"]
    config = docs(DEPLOY / "k8s" / "configmap.yaml")[0]["data"]
    url = urlsplit(config["BOT_ASR_BASE_URL"])
    assert url.hostname == "whisper" and url.port == service["spec"]["ports"][0]["port"] == port
    assert config["BOT_ASR_MODEL"] == "openai/whisper-large-v3-turbo"
    kustomization = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    assert "whisper.yaml" in kustomization["resources"]
