"""Deployment files agree with the code and with each other.

No container engine or cluster here: the files are parsed and their content checked
(variable names against Settings, probes against the HTTP server, the LLM URL against the
services that exist, the vLLM flags each model needs, the router's session affinity).
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from bot.config import ENV_PREFIX, Settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S = DEPLOY / "k8s"
YAML_FILES = sorted(p for p in DEPLOY.rglob("*") if p.suffix in (".yaml", ".yml"))
SETTING_VARS = {f"{ENV_PREFIX}{name.upper()}": name for name in Settings.model_fields}
DEFAULT_HTTP_PORT = Settings.model_fields["http_port"].default
SESSION_FLAGS = ["--enable-prefix-caching", "--enable-prompt-tokens-details"]
GPT_OSS_FLAGS = [
    *SESSION_FLAGS,
    "--reasoning-parser openai_gptoss",
    "--tool-call-parser openai",
    "--enable-auto-tool-choice",
]
QWEN_FLAGS = [*SESSION_FLAGS, "--tool-call-parser hermes", "--enable-auto-tool-choice"]


def has_flags(args: list[str], flags: list[str]) -> list[str]:
    """The flags (a "--flag value" pair is one entry) missing from an argument list."""
    joined = " " + " ".join(args) + " "
    return [flag for flag in flags if f" {flag} " not in joined]


def flag_value(args: list[str], flag: str) -> str | None:
    return args[args.index(flag) + 1] if flag in args else None


def interpolate(value: str) -> str:
    """Compose's ${VAR:-default} with an empty environment."""
    return re.sub(r"\$\{[A-Z_]+(?::?-([^}]*))?\}", lambda m: m.group(1) or "", value)


def load_docs(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def k8s_objects(*dirs: Path) -> dict[tuple[str, str], dict[str, Any]]:
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for folder in dirs:
        for path in sorted(folder.glob("*.yaml")):
            for doc in load_docs(path):
                if "kind" in doc and doc["kind"] != "Kustomization":
                    found[(doc["kind"], doc["metadata"]["name"])] = doc
    return found


def settings_from(env: dict[str, str]) -> Settings:
    """Validate a deployment's values with the real Settings (no .env, no process env)."""
    values = {SETTING_VARS[key]: value for key, value in env.items() if key in SETTING_VARS}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    return list(deployment["spec"]["template"]["spec"]["containers"])


def probe_port(container: dict[str, Any], probe: dict[str, Any]) -> int:
    port = probe["httpGet"]["port"]
    if isinstance(port, str):  # a named port
        port = next(p["containerPort"] for p in container["ports"] if p["name"] == port)
    return int(port)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def k8s() -> dict[tuple[str, str], dict[str, Any]]:
    return k8s_objects(K8S)


@pytest.fixture(scope="module")
def k8s_env(k8s: dict[tuple[str, str], dict[str, Any]]) -> dict[str, str]:
    env = dict(k8s[("ConfigMap", "chatbot-config")]["data"])
    env.update(k8s[("Secret", "chatbot-secrets")]["stringData"])
    return env


# --- every file, every variable ---------------------------------------------------------


def test_deploy_has_the_expected_files() -> None:
    for name in [
        "Dockerfile",
        "compose.yaml",
        ".env.example",
        "README.md",
        "k8s/kustomization.yaml",
    ]:
        assert (DEPLOY / name).is_file(), name
    assert len(YAML_FILES) >= 8


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_yaml_file_parses(path: Path) -> None:
    docs = load_docs(path)
    assert docs and all(isinstance(doc, dict) for doc in docs)


def test_every_bot_variable_named_anywhere_is_a_setting() -> None:
    named: dict[str, set[str]] = {}
    for path in DEPLOY.rglob("*"):
        if path.is_file():
            for var in re.findall(r"\bBOT_[A-Z0-9_]+", path.read_text()):
                named.setdefault(var, set()).add(str(path.relative_to(DEPLOY)))
    unknown = {var: files for var, files in named.items() if var not in SETTING_VARS}
    assert not unknown, f"not fields of bot.config.Settings: {unknown}"
    assert "BOT_LLM_BASE_URL" in named  # the scan did find the files


def test_env_example_lists_every_setting_and_sets_none_empty() -> None:
    text = (DEPLOY / ".env.example").read_text()
    listed = set(re.findall(r"^#? ?(BOT_[A-Z0-9_]+)=", text, re.MULTILINE))
    assert listed == set(SETTING_VARS)
    # "BOT_X=" is an empty string, not "unset": an empty token would start an adapter.
    empty = re.findall(r"^(BOT_[A-Z0-9_]+)=\s*$", text, re.MULTILINE)
    assert not empty


def test_settings_without_default_are_set_everywhere(
    compose: dict[str, Any], k8s_env: dict[str, str]
) -> None:
    required = [
        f"{ENV_PREFIX}{n.upper()}" for n, f in Settings.model_fields.items() if f.is_required()
    ]
    compose_env = compose["services"]["bot"]["environment"]
    for var in required:
        assert var in compose_env, var
        assert var in k8s_env, var


def test_deployment_values_pass_settings_validation(
    compose: dict[str, Any], k8s_env: dict[str, str]
) -> None:
    compose_env = {
        k: interpolate(str(v)) for k, v in compose["services"]["bot"]["environment"].items() if v
    }
    for env in (compose_env, k8s_env):
        settings = settings_from(env)
        assert settings.database_url.startswith("postgresql+asyncpg://")
        assert settings.http_host == "0.0.0.0"


# --- Dockerfile ----------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def test_dockerfile_runs_the_bot_as_a_non_root_user() -> None:
    steps = dockerfile_instructions()
    froms = [arg for op, arg in steps if op == "FROM"]
    assert froms and all(arg.startswith("python:3.11-slim") for arg in froms)
    assert json.loads([arg for op, arg in steps if op == "CMD"][-1]) == ["chatbot", "run"]
    assert any(op == "RUN" and "pip install ." in arg for op, arg in steps)
    user = [arg for op, arg in steps if op == "USER"][-1]
    assert user.split(":")[0] not in ("root", "0")
    assert "8080" in [arg for op, arg in steps if op == "EXPOSE"][-1].split()
    env = " ".join(arg for op, arg in steps if op == "ENV")
    assert "BOT_HTTP_HOST=0.0.0.0" in env
    assert f"BOT_HTTP_PORT={DEFAULT_HTTP_PORT}" in env or "BOT_HTTP_PORT" not in env


def test_dockerfile_healthcheck_hits_healthz() -> None:
    checks = [arg for op, arg in dockerfile_instructions() if op == "HEALTHCHECK"]
    assert len(checks) == 1
    assert "/healthz" in checks[0]
    assert "BOT_HTTP_PORT" in checks[0] and f"'{DEFAULT_HTTP_PORT}'" in checks[0]


# --- compose -------------------------------------------------------------------------------


def test_compose_bot_reaches_a_vllm_that_exists_in_each_profile(compose: dict[str, Any]) -> None:
    services = compose["services"]
    url = urlsplit(services["bot"]["environment"]["BOT_LLM_BASE_URL"])
    assert url.path == "/v1"
    for profile in ("gpt-oss", "qwen"):
        active = [s for s in services.values() if profile in s.get("profiles", [])]
        assert len(active) == 1, profile
        (vllm,) = active
        aliases = vllm["networks"]["default"]["aliases"]
        assert url.hostname in aliases
        assert flag_value(vllm["command"], "--port") == str(url.port)
        assert "vllm/vllm-openai" in vllm["image"]
        devices = vllm["deploy"]["resources"]["reservations"]["devices"]
        assert any("gpu" in d["capabilities"] for d in devices)
        check = " ".join(vllm["healthcheck"]["test"])
        assert f":{url.port}/health'" in check


def test_compose_profiles_have_their_models_flags(compose: dict[str, Any]) -> None:
    by_profile = {p: s for s in compose["services"].values() for p in s.get("profiles", [])}
    gpt_oss, qwen = by_profile["gpt-oss"]["command"], by_profile["qwen"]["command"]
    assert flag_value(gpt_oss, "--model") == "openai/gpt-oss-20b"
    assert flag_value(qwen, "--model") == "Qwen/Qwen2.5-7B-Instruct"
    assert not has_flags(gpt_oss, GPT_OSS_FLAGS)
    assert not has_flags(qwen, QWEN_FLAGS)


def test_compose_bot_waits_for_healthy_dependencies(compose: dict[str, Any]) -> None:
    services = compose["services"]
    bot = services["bot"]
    depends = bot["depends_on"]
    assert depends["postgres"]["condition"] == "service_healthy"
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["postgres"]["image"].startswith("postgres:16")
    profiled = [name for name, s in services.items() if s.get("profiles")]
    for name in profiled:  # only one profile runs, so each vLLM dependency is optional
        assert depends[name] == {"condition": "service_healthy", "required": False}
    migrate = next(s for s in services.values() if s.get("command") == ["chatbot", "db", "upgrade"])
    assert migrate["environment"]["BOT_DATABASE_URL"] == bot["environment"]["BOT_DATABASE_URL"]
    assert bot["build"]["dockerfile"] == "deploy/Dockerfile"
    assert bot["build"]["context"] == ".."
    assert any(str(e["path"] if isinstance(e, dict) else e) == ".env" for e in bot["env_file"])
    db_host = urlsplit(interpolate(bot["environment"]["BOT_DATABASE_URL"])).hostname
    assert db_host in services


def test_compose_publishes_the_bot_http_port(compose: dict[str, Any]) -> None:
    bot = compose["services"]["bot"]
    port = int(bot["environment"].get("BOT_HTTP_PORT", DEFAULT_HTTP_PORT))
    assert any(str(p).split(":")[-1] == str(port) for p in bot["ports"])


# --- Kubernetes ----------------------------------------------------------------------------


def test_kustomization_lists_exactly_the_manifests() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk
    overlay = yaml.safe_load((K8S / "qwen" / "kustomization.yaml").read_text())
    assert overlay["resources"] == [".."]
    for patch in overlay["patches"]:
        assert (K8S / "qwen" / patch["path"]).is_file()


def test_every_workload_has_readiness_and_liveness_probes(
    k8s: dict[tuple[str, str], dict[str, Any]],
) -> None:
    workloads = [o for (kind, _), o in k8s.items() if kind in ("Deployment", "StatefulSet")]
    assert len([o for o in workloads if o["kind"] == "Deployment"]) >= 3
    for workload in workloads:
        for container in containers(workload):
            assert "readinessProbe" in container, workload["metadata"]["name"]
            assert "livenessProbe" in container, workload["metadata"]["name"]


def test_bot_deployment(
    k8s: dict[tuple[str, str], dict[str, Any]], k8s_env: dict[str, str]
) -> None:
    bot = k8s[("Deployment", "chatbot")]
    assert bot["spec"]["replicas"] >= 2
    (container,) = containers(bot)
    port = int(k8s_env.get("BOT_HTTP_PORT", DEFAULT_HTTP_PORT))
    # ready only when the database and the model answer; alive as long as the process is
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
    for probe in (container["readinessProbe"], container["livenessProbe"]):
        assert probe_port(container, probe) == port
    assert container["resources"]["requests"] and container["resources"]["limits"]
    sources = {next(iter(s.values()))["name"] for s in container["envFrom"]}
    assert sources == {"chatbot-config", "chatbot-secrets"}
    assert k8s_env["BOT_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert urlsplit(k8s_env["BOT_DATABASE_URL"]).hostname in {n for k, n in k8s if k == "Service"}
    init = bot["spec"]["template"]["spec"].get("initContainers", [])
    jobs = [o for (kind, _), o in k8s.items() if kind == "Job"]
    migrations = [c for c in init + [c for j in jobs for c in containers(j)]]
    assert any(c.get("command") == ["chatbot", "db", "upgrade"] for c in migrations)


def test_vllm_deployment(k8s: dict[tuple[str, str], dict[str, Any]]) -> None:
    vllm = k8s[("Deployment", "vllm")]
    assert vllm["spec"]["replicas"] >= 2
    (container,) = containers(vllm)
    assert str(container["resources"]["limits"]["nvidia.com/gpu"]) == "1"
    port = int(flag_value(container["args"], "--port") or 0)
    assert port == 8000
    for kind in ("readinessProbe", "livenessProbe"):
        assert container[kind]["httpGet"]["path"] == "/health"
        assert probe_port(container, container[kind]) == port
    assert flag_value(container["args"], "--model") == "openai/gpt-oss-20b"
    assert not has_flags(container["args"], GPT_OSS_FLAGS)


def test_qwen_overlay_switches_model_flags_and_bot_model() -> None:
    overlay = k8s_objects(K8S / "qwen")
    (container,) = containers(overlay[("Deployment", "vllm")])
    assert flag_value(container["args"], "--model") == "Qwen/Qwen2.5-7B-Instruct"
    assert not has_flags(container["args"], QWEN_FLAGS)
    assert "openai_gptoss" not in container["args"]
    assert (
        overlay[("ConfigMap", "chatbot-config")]["data"]["BOT_LLM_MODEL"]
        == "Qwen/Qwen2.5-7B-Instruct"
    )


def test_router_routes_sessions_on_x_session_id_to_the_vllm_pods(
    k8s: dict[tuple[str, str], dict[str, Any]],
) -> None:
    router = k8s[("Deployment", "vllm-router")]
    (container,) = containers(router)
    args = container["args"]
    assert flag_value(args, "--routing-logic") == "session"
    assert flag_value(args, "--session-key") == "X-Session-ID"
    assert flag_value(args, "--service-discovery") == "k8s"
    vllm = k8s[("Deployment", "vllm")]
    pod_labels = vllm["spec"]["template"]["metadata"]["labels"]
    key, _, value = (flag_value(args, "--k8s-label-selector") or "").partition("=")
    assert pod_labels.get(key) == value
    assert flag_value(args, "--k8s-port") == flag_value(containers(vllm)[0]["args"], "--port")
    namespace = yaml.safe_load((K8S / "kustomization.yaml").read_text())["namespace"]
    assert flag_value(args, "--k8s-namespace") == namespace
    account = router["spec"]["template"]["spec"]["serviceAccountName"]
    binding = k8s[("RoleBinding", "vllm-router-pod-reader")]
    assert binding["subjects"][0]["name"] == account
    rules = k8s[("Role", binding["roleRef"]["name"])]["rules"]
    assert any("pods" in r["resources"] and {"list", "watch"} <= set(r["verbs"]) for r in rules)


def test_bot_llm_url_points_at_the_router_service(
    k8s: dict[tuple[str, str], dict[str, Any]], k8s_env: dict[str, str]
) -> None:
    url = urlsplit(k8s_env["BOT_LLM_BASE_URL"])
    assert url.path == "/v1"
    service = k8s[("Service", str(url.hostname))]
    (port,) = [p for p in service["spec"]["ports"] if p["port"] == url.port]
    router = k8s[("Deployment", "vllm-router")]
    assert (
        service["spec"]["selector"].items()
        <= router["spec"]["template"]["metadata"]["labels"].items()
    )
    (container,) = containers(router)
    target = port["targetPort"]
    if isinstance(target, str):
        target = next(p["containerPort"] for p in container["ports"] if p["name"] == target)
    assert str(target) == flag_value(container["args"], "--port")


# --- vLLM launch scripts ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "model", "flags"),
    [
        ("gpt-oss.sh", "openai/gpt-oss-20b", GPT_OSS_FLAGS),
        ("qwen.sh", "Qwen/Qwen2.5-7B-Instruct", QWEN_FLAGS),
    ],
)
def test_vllm_launch_scripts(script: str, model: str, flags: list[str]) -> None:
    text = (DEPLOY / "vllm" / script).read_text()
    words = shlex.split(text.replace("\\\n", " "), comments=True)
    assert words[words.index("serve") + 1] == model
    assert not has_flags(words, flags)
