"""`--traffic FILE` on crossover and cost: a flat profile gives the sustained-rate numbers to the
last bit, a shaped one is priced fixed for its peak or autoscaled by the hour, and the figures
agree with computations done here by hand from the records' own capacity and prices."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

from selfhost.traffic_profile import read_profile

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "traffic"
FLAT = EXAMPLES / "flat-batch-pipeline.yaml"
BUSY = EXAMPLES / "business-hours-chat.yaml"
SPIKY = EXAMPLES / "spiky-consumer-app.yaml"
LLAMA = ("-m", "llama-3.3-70b")
Cli = Callable[..., Result]
TRAFFIC_KEYS = {
    "traffic_profile", "profile_mean_rps", "profile_peak_rps", "provisioning", "billing_hours",
    "replicas_peak", "replicas_mean", "gpu_hours_per_month", "idle_usd_per_month", "idle_share",
}  # fmt: skip


def doc(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def day_profile(path: Path, rates: list[float], tokens: str = "") -> Path:
    path.write_text(
        "traffic_profile:\n  hourly_rps: ["
        + ", ".join(repr(r) for r in rates)
        + "]\n"
        + tokens
        + "  source: {file: test, format: test, synthetic: true}\n",
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("provisioning", ["fixed", "autoscaled"])
@pytest.mark.parametrize("command", ["crossover", "cost"])
def test_a_flat_profile_gives_the_sustained_rate_numbers_exactly(cli: Cli, command: str, provisioning: str):
    flat = doc(cli(command, "--rps", "5", *LLAMA, "--format", "json"))
    profiled = doc(
        cli(command, "--traffic", str(FLAT), "--provisioning", provisioning, *LLAMA, "--format", "json")
    )
    assert len(profiled["results"]) == len(flat["results"]) > 0
    for mine, theirs in zip(profiled["results"], flat["results"], strict=True):
        assert {k: mine[k] for k in theirs} == theirs  # every figure, == on floats
        assert set(mine) >= TRAFFIC_KEYS
    echo = profiled["assumptions"]["traffic"]
    assert (echo["file"], echo["provisioning"], echo["mean_rps"], echo["peak_over_mean"]) == (
        str(FLAT),
        provisioning,
        5.0,
        1.0,
    )
    assert profiled["assumptions"]["rps"] == 5.0


def test_a_flat_profile_scaled_by_rps_is_that_sustained_rate(cli: Cli, tmp_path: Path):
    day = day_profile(tmp_path / "flat.yaml", [0.3] * 24)
    scaled = doc(cli("crossover", "--traffic", str(day), "--rps", "7", *LLAMA, "--format", "json"))
    flat = doc(cli("crossover", "--rps", "7", *LLAMA, "--format", "json"))
    for mine, theirs in zip(scaled["results"], flat["results"], strict=True):
        assert {k: mine[k] for k in theirs} == theirs
    assert scaled["assumptions"]["traffic"]["file_mean_rps"] == 0.3


def test_fixed_provisioning_pays_the_peak_rate_all_month(cli: Cli):
    """The cheapest fixed deployment of the business-hours profile costs what `cost --rps PEAK`
    says for the same deployment, and the API bills the mean rate."""
    peak = read_profile(BUSY).peak_rps
    # --rps 5: the file's rates are written to 6 digits, so its own mean is 5 to about 1e-6
    profiled = doc(cli("crossover", "--traffic", str(BUSY), "--rps", "5", *LLAMA, "--format", "json"))
    at_peak = doc(cli("cost", "--rps", repr(peak), *LLAMA, "--limit", "0", "--format", "json"))
    at_mean = doc(cli("crossover", "--rps", "5", *LLAMA, "--format", "json"))
    for r in profiled["results"]:
        same = [
            c
            for c in at_peak["results"]
            if (c["gpu"], c["quant"], c["gpus_per_replica"], c["price_option"])
            == (r["gpu"], r["quant"], r["gpus_per_replica"], r["price_option"])
        ]
        assert same and same[0]["self_hosted_usd_per_month"] == pytest.approx(
            r["self_hosted_usd_per_month"], rel=1e-12
        )
        assert r["replicas"] == same[0]["replicas"] and r["provisioning"] == "fixed"
        api = next(a for a in at_mean["results"] if a["api"] == r["api"])
        assert r["api_usd_per_month"] == pytest.approx(
            api["api_usd_per_month"], rel=1e-9
        )  # JSON floats carry 10 significant digits
    # the same deployment cannot cost less for a peakier load of the same mean
    assert (
        profiled["results"][0]["self_hosted_usd_per_month"]
        >= at_mean["results"][0]["self_hosted_usd_per_month"]
    )


def instance_gpus(gpu_id: str) -> dict[str, int]:
    """GPUs per rentable instance of each on-demand price option of a GPU, from the catalog."""
    from selfhost.catalog.loader import load_catalog
    from selfhost.scenarios import price_options

    catalog = load_catalog(include_builtin=True, env={})
    gpu = next(g for g in catalog.gpus if g.id == gpu_id)
    return {
        p.id: p.instance_gpus
        for p in price_options(catalog, gpu, pricing=["on-demand"], providers=(), hours_per_month=730.0)
    }


def test_autoscaling_bills_each_hours_replicas_as_computed_by_hand(cli: Cli):
    """Monthly = ops + the mean over the week's hours of the billing units each hour needs,
    max(units for 1 replica, ceil(rate / (capacity x 0.7 x replicas per unit))), times the unit's
    GPUs x $/GPU-h x 730 h, a unit being lcm(GPUs per replica, GPUs per instance) GPUs; idle is
    the part of those GPU-hours no request used."""
    rates = read_profile(SPIKY).hourly_rps
    result = doc(
        cli("cost", "--traffic", str(SPIKY), *LLAMA, "--provisioning", "autoscaled", "-g", "h100-sxm",
            "-n", "1", "-n", "2", "--limit", "0", "--format", "json")
    )  # fmt: skip
    instances = instance_gpus("h100-sxm-80gb")
    assert len(result["results"]) >= 2
    for r in result["results"]:
        n, cap = r["gpus_per_replica"], r["capacity_rps_per_replica"]
        unit_gpus = math.lcm(n, instances[r["price_option"]])
        per_unit = unit_gpus // n  # replicas in one billing unit
        units = [max(math.ceil(1 / per_unit), math.ceil(x / (cap * 0.7 * per_unit))) for x in rates]
        unit_usd = unit_gpus * r["usd_per_gpu_hour"] * 730
        gpu_usd = sum(units) / len(units) * unit_usd
        used = [min(1.0, x / (u * per_unit * cap)) for x, u in zip(rates, units, strict=True)]
        idle_usd = sum(u * (1 - f) for u, f in zip(units, used, strict=True)) / len(rates) * unit_usd
        assert r["self_hosted_usd_per_month"] == pytest.approx(gpu_usd + 4000, rel=1e-9)
        assert r["replicas_peak"] == max(units) * per_unit
        assert r["replicas_mean"] == pytest.approx(
            sum(units) * per_unit / 168, rel=1e-9
        )  # JSON floats carry 10 significant digits
        assert r["idle_usd_per_month"] == pytest.approx(idle_usd, rel=1e-9)
        assert r["idle_share"] == pytest.approx(idle_usd / (gpu_usd + 4000), rel=1e-9)
        assert r["provisioning"] == "autoscaled" and r["billing_hours"] == 1


@pytest.mark.parametrize("profile", [BUSY, SPIKY], ids=["business-hours", "spiky"])
def test_a_shaped_profile_crosses_later_fixed_and_autoscaling_closes_the_gap(cli: Cli, profile: Path):
    def best(*args: str) -> dict[str, Any]:
        records = doc(cli("crossover", *args, *LLAMA, "--api", "openai-gpt-5-mini", "--format", "json"))[
            "results"
        ]
        assert len(records) == 1
        return records[0]

    flat = best("--rps", "5")
    fixed = best("--traffic", str(profile), "--rps", "5")  # the file's own mean is 5 to 6 digits
    scaled = best("--traffic", str(profile), "--rps", "5", "--provisioning", "autoscaled")
    assert fixed["api_usd_per_month"] == pytest.approx(
        flat["api_usd_per_month"], rel=1e-9
    )  # JSON floats carry 10 significant digits
    assert scaled["self_hosted_usd_per_month"] <= fixed["self_hosted_usd_per_month"]

    # 'never' (null) is later than any rate: provisioned for the spiky profile's peak, own GPUs never
    # beat the API, and autoscaling brings the crossover back
    def rate(r: dict[str, Any]) -> float:
        return math.inf if r["crossover_rps"] is None else float(r["crossover_rps"])

    assert rate(fixed) > rate(flat)
    assert rate(scaled) < rate(fixed)
    for r in (fixed, scaled):
        if r["crossover_rps"] is None:
            assert r["crossover_multiple_of_mean"] is None and r["crossover_note"].startswith("never")
        else:
            assert r["crossover_rps"] == pytest.approx(
                r["crossover_multiple_of_mean"] * 5.0, rel=1e-9
            )  # JSON floats carry 10 significant digits
        assert 0 < r["idle_share"] < 1
    assert fixed["idle_share"] > scaled["idle_share"]


def test_billing_blocks_cost_at_least_hourly_billing(cli: Cli):
    def usd(hours: str) -> float:
        args = ("--traffic", str(BUSY), "--provisioning", "autoscaled", "--billing-hours", hours)
        records = doc(cli("cost", *args, *LLAMA, "-g", "h100-sxm", "--limit", "1", "--format", "json"))[
            "results"
        ]
        return records[0]["self_hosted_usd_per_month"]

    hourly, four, day = usd("1"), usd("4"), usd("24")
    assert hourly <= four <= day


def test_the_table_shows_the_mean_crossover_its_multiple_and_the_idle_share(cli: Cli):
    result = cli("crossover", "--traffic", str(BUSY), *LLAMA, "--provisioning", "autoscaled", "--wide")
    assert result.exit_code == 0, result.output
    head = result.stdout
    assert "traffic business-hours-chat.yaml: mean 5 req/s, peak 14.5" in head
    assert "Crossover mean req/s" in head and "x mean" in head and "Idle" in head and "autoscaled" in head
    assert "At a mean of 5 req/s (peak 14.5, autoscaled by the hour" in head
    assert "synthetic profile" in result.stderr


def test_the_profiles_tokens_price_the_requests(cli: Cli, tmp_path: Path):
    tokens = "  tokens:\n    input: {mean: 2500.4}\n    output: {mean: 80.6}\n"
    path = day_profile(tmp_path / "long.yaml", [2.0] * 12 + [6.0] * 12, tokens)
    result = doc(cli("crossover", "--traffic", str(path), *LLAMA, "--format", "json"))
    a = result["assumptions"]
    assert (a["input_tokens"], a["output_tokens"], a["rps"]) == (2500, 81, 4.0)
    assert a["traffic"]["tokens_from_profile"] == ["input", "output"]
    flat = doc(
        cli(
            "crossover",
            "--rps",
            "4",
            "--input-tokens",
            "2500",
            "--output-tokens",
            "81",
            *LLAMA,
            "--format",
            "json",
        )
    )
    for mine, theirs in zip(result["results"], flat["results"], strict=True):
        assert mine["api_usd_per_month"] == pytest.approx(
            theirs["api_usd_per_month"], rel=1e-9
        )  # JSON floats carry 10 significant digits


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--rps", "5", "--provisioning", "autoscaled"), "--provisioning autoscaled needs --traffic FILE"),
        (("--traffic", str(BUSY), "--provisioning", "elastic"), "unknown --provisioning 'elastic'"),
        (
            ("--traffic", str(BUSY), "--billing-hours", "5"),
            "--billing-hours 5 must be a whole number of hours",
        ),
        (("--traffic", str(BUSY), "--uncertainty", "100"), "--uncertainty models a sustained --rps"),
        (("--traffic", str(BUSY), "--chart"), "--chart models a sustained --rps"),
        (
            ("--traffic", str(BUSY), "--input-tokens", "2000"),
            "--input-tokens 2000 disagrees with the profile",
        ),
        (("--traffic", str(BUSY), "--rps", "0"), "--rps 0 cannot scale a traffic profile"),
        (("--traffic", "nope.yaml"), "nope.yaml"),
        ((), "give the request rate (--rps), or a traffic profile (--traffic FILE)"),
    ],
)
def test_bad_traffic_options_are_one_line_usage_errors(cli: Cli, args: tuple[str, ...], message: str):
    result = cli("crossover", *args, *LLAMA)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.output


def test_report_on_a_profile_prices_it_as_crossover_does_and_says_what_it_leaves_out(
    cli: Cli, tmp_path: Path
):
    out = tmp_path / "review.md"
    args = ("--traffic", str(BUSY), "--provisioning", "autoscaled", *LLAMA)
    result = cli("report", *args, "-o", str(out))
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    crossed = doc(cli("crossover", *args, "--format", "json"))["results"]
    from selfhost.render import usd

    for r in crossed:
        assert usd(r["self_hosted_usd_per_month"]) in text and usd(r["api_usd_per_month"]) in text
        assert f"{r['idle_share']:.0%} of the self-hosted bill is idle capacity" in text
    assert "| Crossover mean req/s |" in text and "## Left out with a traffic profile" in text
    assert "| Provisioning | autoscaled by the hour, billed in blocks of 1 h |" in text
    assert "Sensitivity" not in text and "P10 / P50 / P90" not in text
    assert f"--traffic {BUSY} --provisioning autoscaled --format json" in text and " --chart" not in text
