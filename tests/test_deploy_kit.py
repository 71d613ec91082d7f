"""Writing the kit: nothing overwritten without --force, secrets 0600 and never rewritten or shown,
and the `selfhost deploy` command that drives it."""

from __future__ import annotations

import json
import math
import re
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from deploy_cases import AWQ_LLAMA, llama_awq_2xa100, require
from selfhost.deploy.kit import ENV_FILE, write_kit
from selfhost.deploy.nginx import KEYS_FILE
from selfhost.deploy.spec import KitSettings
from selfhost.errors import InputError

SECRETS = (ENV_FILE, KEYS_FILE, "tls/key.pem")
LLAMA_ARGS = (
    "deploy",
    "-m",
    "llama-3.3-70b",
    "-g",
    "a100-80gb",
    "--gpus",
    "2",
    "-q",
    "awq-int4",
    "--weights",
    AWQ_LLAMA,
    "--rps",
    "5",
)


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def api_key(kit: Path) -> str:
    return next(
        line.split("=", 1)[1]
        for line in (kit / ENV_FILE).read_text().splitlines()
        if line.startswith("SELFHOST_API_KEY=")
    )


def test_secrets_are_mode_0600_and_the_key_is_in_env_and_map(tmp_path: Path) -> None:
    result = write_kit(tmp_path / "kit", llama_awq_2xa100(), KitSettings(), self_signed=True)
    kit = result.directory
    for name in SECRETS:
        assert mode(kit / name) == 0o600, name
    assert mode(kit / "serve.sh") == 0o755
    assert mode(kit / "tls" / "cert.pem") == 0o644
    key = api_key(kit)
    assert key.startswith("sk-selfhost-") and len(key) >= 12 + 43  # 32 random bytes, base64url
    assert f'"Bearer {key}" 1;' in (kit / KEYS_FILE).read_text()
    assert set(result.secrets_created) == {ENV_FILE, KEYS_FILE, "tls/cert.pem", "tls/key.pem"}


def test_keys_differ_between_kits(tmp_path: Path) -> None:
    a = write_kit(tmp_path / "a", llama_awq_2xa100(), KitSettings(), self_signed=True).directory
    b = write_kit(tmp_path / "b", llama_awq_2xa100(), KitSettings(), self_signed=True).directory
    assert api_key(a) != api_key(b)


def test_an_existing_kit_is_not_overwritten_without_force(tmp_path: Path) -> None:
    kit = tmp_path / "kit"
    write_kit(kit, llama_awq_2xa100(), KitSettings(), self_signed=True)
    (kit / "compose.yaml").write_text("# my edits\n")
    with pytest.raises(InputError, match=r"already holds .*compose\.yaml.*--force"):
        write_kit(kit, llama_awq_2xa100(), KitSettings(), self_signed=True)
    assert (kit / "compose.yaml").read_text() == "# my edits\n"


def test_force_rewrites_generated_files_but_keeps_every_secret(tmp_path: Path) -> None:
    kit = tmp_path / "kit"
    write_kit(kit, llama_awq_2xa100(), KitSettings(), self_signed=True)
    before = {n: (kit / n).read_bytes() for n in (*SECRETS, "tls/cert.pem")}
    (kit / "compose.yaml").write_text("# stale\n")
    result = write_kit(kit, llama_awq_2xa100(), KitSettings(), self_signed=True, force=True)
    assert (kit / "compose.yaml").read_text() != "# stale\n"
    assert {n: (kit / n).read_bytes() for n in before} == before
    assert result.secrets_created == ()
    assert set(result.secrets_kept) == {ENV_FILE, KEYS_FILE, "tls/cert.pem", "tls/key.pem"}


def test_new_secrets_replaces_the_key_only_when_asked(tmp_path: Path) -> None:
    kit = tmp_path / "kit"
    write_kit(kit, llama_awq_2xa100(), KitSettings(), self_signed=True)
    old = api_key(kit)
    write_kit(kit, llama_awq_2xa100(), KitSettings(), self_signed=True, force=True, new_secrets=True)
    assert api_key(kit) != old
    assert old not in (kit / KEYS_FILE).read_text()
    assert mode(kit / ENV_FILE) == 0o600


def test_a_lone_env_or_keys_file_is_an_error_not_a_mismatch(tmp_path: Path) -> None:
    kit = tmp_path / "kit"
    write_kit(kit, llama_awq_2xa100(), KitSettings(), self_signed=True)
    (kit / KEYS_FILE).unlink()
    with pytest.raises(InputError, match=re.escape("has .env but not api_keys.map")):
        write_kit(kit, llama_awq_2xa100(), KitSettings(), self_signed=True, force=True)


def test_an_unrelated_directory_is_fine_and_its_files_untouched(tmp_path: Path) -> None:
    kit = tmp_path / "kit"
    kit.mkdir()
    (kit / "notes.txt").write_text("mine\n")
    write_kit(kit, llama_awq_2xa100(), KitSettings(), self_signed=True)
    assert (kit / "notes.txt").read_text() == "mine\n"


def test_serve_sh_is_valid_posix_shell(tmp_path: Path) -> None:
    kit = write_kit(tmp_path / "kit", llama_awq_2xa100(), KitSettings(), self_signed=True).directory
    done = subprocess.run(
        [require("sh"), "-n", str(kit / "serve.sh")], capture_output=True, text=True, timeout=10
    )
    assert done.returncode == 0, done.stderr


# --------------------------------------------------------------------------- the command


def test_without_a_rate_the_summary_says_how_to_size_the_replicas(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    args = list(LLAMA_ARGS)
    at = args.index("--rps")
    del args[at : at + 2]
    result = cli(*args, "--self-signed", "-o", str(tmp_path / "kit"))
    assert result.exit_code == 0, result.output
    assert "replicas for 0 req/s" not in result.stdout
    assert "replicas: 1 (no --rps given: pass it to size the replicas for your traffic)" in result.stdout


def test_deploy_writes_the_kit_and_never_prints_the_key(cli: Callable[..., Result], tmp_path: Path) -> None:
    kit = tmp_path / "kit"
    result = cli(*LLAMA_ARGS, "--self-signed", "-o", str(kit))
    assert result.exit_code == 0, result.output
    key = api_key(kit)
    assert key not in result.stdout and key not in result.stderr
    assert "vllm serve casperhansen/llama-3.3-70b-instruct-awq" in result.stdout
    assert "--tensor-parallel-size 2" in result.stdout
    # ceil(5 / (1.29 req/s x 0.7)) = ceil(5.53); the JSON test recomputes it
    assert "replicas for 5 req/s: 6" in result.stdout
    for name in (
        "README.md",
        "compose.yaml",
        "nginx.conf",
        "prometheus.yml",
        "alerts.yml",
        "client.py",
        "serve.sh",
    ):
        assert name in result.stdout
        assert (kit / name).is_file()


def test_deploy_json_has_the_sizing_and_no_secret(cli: Callable[..., Result], tmp_path: Path) -> None:
    kit = tmp_path / "kit"
    result = cli(*LLAMA_ARGS, "--self-signed", "-o", str(kit), "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    (only,) = doc["kits"]
    assert only["kit"]["tensor_parallel_size"] == 2
    sizing = only["kit"]
    # the replicas the plan needs: ceil(rate / (capacity per replica x target utilization))
    assert sizing["replicas"] == math.ceil(
        sizing["planned_rps"] / (sizing["capacity_rps_per_replica"] * sizing["target_utilization"])
    )
    assert sizing["replicas"] == 6  # 1.29 req/s per replica with the vLLM profile fitted to drain TPOTs
    assert only["serve_command"][:2] == ["vllm", "serve"]
    assert only["base_url"] == "https://localhost/v1"
    text = result.stdout
    assert api_key(kit) not in text
    assert "BEGIN" not in text  # no PEM either
    assert (kit / "tls" / "key.pem").read_text() not in text


def test_deploy_again_needs_force(cli: Callable[..., Result], tmp_path: Path) -> None:
    kit = tmp_path / "kit"
    assert cli(*LLAMA_ARGS, "--self-signed", "-o", str(kit)).exit_code == 0
    again = cli(*LLAMA_ARGS, "--self-signed", "-o", str(kit))
    assert again.exit_code == 2
    assert "already holds" in again.stderr and "--force" in again.stderr
    forced = cli(*LLAMA_ARGS, "--self-signed", "-o", str(kit), "--force")
    assert forced.exit_code == 0, forced.output
    assert "secrets kept as they were: .env, api_keys.map" in forced.stdout


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ((), "choose the TLS certificate"),
        (("--self-signed", "--tls-cert", "x.pem", "--tls-key", "x.key"), "exclude each other"),
        (("--tls-cert", "/nonexistent.pem", "--tls-key", "/nonexistent.key"), "does not exist"),
        (("--self-signed", "--engine", "tensorrt-llm"), "--engine 'tensorrt-llm'"),
        (("--self-signed", "--format", "csv"), "table or json"),
    ],
)
def test_deploy_usage_errors_are_one_line(
    cli: Callable[..., Result], tmp_path: Path, extra: tuple[str, ...], message: str
) -> None:
    result = cli(*LLAMA_ARGS, "-o", str(tmp_path / "kit"), *extra)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "kit").exists()  # nothing written on a usage error


def test_deploy_without_weights_for_awq_names_the_option(cli: Callable[..., Result], tmp_path: Path) -> None:
    result = cli(
        "deploy",
        "-m",
        "llama-3.3-70b",
        "-g",
        "a100-80gb",
        "--gpus",
        "2",
        "-q",
        "awq-int4",
        "--self-signed",
        "-o",
        str(tmp_path / "k"),
    )
    assert result.exit_code == 2
    assert "pass --weights" in result.stderr


def test_deploy_picks_the_fewest_gpus_that_serve(cli: Callable[..., Result], tmp_path: Path) -> None:
    result = cli(
        "deploy",
        "-m",
        "deepseek-v3",
        "-g",
        "h200",
        "-q",
        "fp8",
        "--self-signed",
        "-o",
        str(tmp_path / "k"),
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["kits"][0]["kit"]["gpus_per_replica"] == 8  # 671B FP8 needs all eight


def test_deploy_from_a_saved_plan_writes_one_kit_per_deployment(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    plan = cli(
        "plan",
        "examples/chat-assistant.yaml",
        "--gpu",
        "h100-sxm-80gb",
        "--quant",
        "fp8",
        "--self-hosted-base-url",
        "https://llm.corp.example:8443/v1",
        "--format",
        "json",
    )
    assert plan.exit_code == 0, plan.output
    doc = json.loads(plan.stdout)
    (tmp_path / "plan.json").write_text(plan.stdout)
    result = cli(
        "deploy",
        "--from-plan",
        str(tmp_path / "plan.json"),
        "--self-signed",
        "-o",
        str(tmp_path / "kits"),
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    kits = json.loads(result.stdout)["kits"]
    assert [Path(k["directory"]).name for k in kits] == [d["deployment"] for d in doc["deployments"]]
    for k, d in zip(kits, doc["deployments"], strict=True):
        assert k["kit"]["replicas"] == d["replicas"]
        assert k["kit"]["gpus_per_replica"] == d["gpus_per_replica"]
        assert k["base_url"] == "https://llm.corp.example:8443/v1"
        assert "listen 8443 ssl;" in (Path(k["directory"]) / "nginx.conf").read_text()


def test_deploy_with_sglang_writes_sglang_flags_and_metrics(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    kit = tmp_path / "kit"
    result = cli(*LLAMA_ARGS, "--engine", "sglang", "--self-signed", "-o", str(kit))
    assert result.exit_code == 0, result.output
    assert "python3 -m sglang.launch_server --model-path" in result.stdout
    assert "--mem-fraction-static 0.88" in result.stdout
    assert "sglang:token_usage" in (kit / "alerts.yml").read_text()
    assert "lmsysorg/sglang:v0.5.23" in (kit / "compose.yaml").read_text()


def test_bad_plan_files_and_a_file_as_output_are_one_line_errors(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    (tmp_path / "not-a-plan.json").write_text('{"results": []}')
    (tmp_path / "broken.json").write_text("{")
    (tmp_path / "afile").write_text("x")
    for args, message in (
        (("--from-plan", str(tmp_path / "not-a-plan.json")), "is not a plan"),
        (("--from-plan", str(tmp_path / "broken.json")), "cannot read plan file"),
        (("--from-plan", str(tmp_path / "missing.json")), "does not exist"),
    ):
        result = cli("deploy", *args, "--self-signed", "-o", str(tmp_path / "kits"))
        assert result.exit_code == 2, args
        assert message in result.stderr and "Traceback" not in result.stderr
    result = cli(*LLAMA_ARGS, "--self-signed", "-o", str(tmp_path / "afile"))
    assert result.exit_code == 2 and "is a file" in result.stderr
    assert (tmp_path / "afile").read_text() == "x"
