"""`selfhost plan`: the hybrid plan for several workloads, self-hosted where it pays, APIs elsewhere."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from selfhost.cli import options as o
from selfhost.cli.common import guarded, load, note, stdout_console

if TYPE_CHECKING:
    from selfhost.plan import PlanReport
    from selfhost.question import Scenario
    from selfhost.render import Column

#: The placeholder base URL of self-hosted workloads; plan.DEFAULT_SELF_HOSTED_BASE_URL, repeated
#: so that --help needs no NumPy.
DEFAULT_SELF_HOSTED_BASE_URL = "https://llm.internal.example/v1"


class PlanFormat(str, Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"
    markdown = "markdown"


PlanFormatOpt = Annotated[
    PlanFormat,
    typer.Option(
        "--format",
        "-f",
        help="Output: tables, JSON (workloads, deployments, totals), JSONL or CSV (one row per workload), "
        "or a Markdown document.",
    ),
]


def _totals_rows(totals: dict[str, Any]) -> list[dict[str, Any]]:
    """The totals as table rows: the plan, its parts, and what the alternatives would cost."""
    return [
        {"option": "Plan", "usd_per_month": totals["total_usd_per_month"], "saving": None, "note": ""},
        {"option": "  on APIs", "usd_per_month": totals["api_usd_per_month"], "saving": None, "note": ""},
        {
            "option": "  self-hosted GPUs",
            "usd_per_month": totals["self_hosted_gpu_usd_per_month"],
            "saving": None,
            "note": "",
        },
        {
            "option": "  operations (once)",
            "usd_per_month": totals["ops_usd_per_month"],
            "saving": None,
            "note": "",
        },
        {
            "option": "All on APIs",
            "usd_per_month": totals["all_api_usd_per_month"],
            "saving": totals["saving_vs_all_api_usd_per_month"],
            "note": totals["all_api_note"],
        },
        {
            "option": "All self-hosted",
            "usd_per_month": totals["all_self_hosted_usd_per_month"],
            "saving": totals["saving_vs_all_self_hosted_usd_per_month"],
            "note": totals["all_self_hosted_note"],
        },
        {
            "option": "Plan without shared replicas",
            "usd_per_month": totals["without_sharing_usd_per_month"],
            "saving": totals["saving_from_sharing_usd_per_month"],
            "note": "every self-hosted workload on its own deployment",
        },
    ]


def _columns() -> tuple[list[Column], list[Column], list[Column]]:
    from selfhost.render import Column, num0, num1, sig3, text, usd, usd_cents, yes_no

    def percent(value: Any) -> str:
        return "-" if value is None else f"{value:.0%}"

    workloads = [
        Column("workload", "Workload", text, "left"), Column("requests_per_s", "Req/s", sig3),
        Column("runs_on", "Runs on", text, "left"), Column("usd_per_month", "$/month", usd),
        Column("switch_usd_per_month", "Other way +$/mo", usd, priority=1),
        Column("mix", "In+out tok", text, priority=2),
        Column("privacy_sensitive", "Private", yes_no, "left", priority=2),
        Column("wants", "Wants", text, "left", priority=3),
        Column("base_url", "Base URL", text, "left", priority=4),
        Column("model_name", "Model name", text, "left", priority=4),
    ]  # fmt: skip
    deployments = [
        Column("deployment", "Deployment", text, "left"), Column("replica", "Replicas × one replica", text, "left"),
        Column("self_hosted_usd_per_month", "$/month", usd),
        Column("workload_list", "Workloads", text, "left", priority=1),
        Column("provider", "Provider", text, "left", priority=1),
        Column("load_of_planned_capacity", "Load of target", percent, priority=2),
        Column("requests_per_s", "Req/s", num1, priority=2),
        Column("gpus_billed", "GPUs billed", num0, priority=3),
        Column("usd_per_gpu_hour", "$/GPU-h", usd_cents, priority=3),
    ]  # fmt: skip
    totals = [
        Column("option", "", text, "left"),
        Column("usd_per_month", "$/month", usd),
        Column("saving", "Plan saves $/month", usd),
        Column("note", "Note", text, "left", priority=1),
    ]
    return workloads, deployments, totals


def _decorate(report: PlanReport) -> None:
    """Table-only labels on the records (kept out of JSON and CSV)."""
    from selfhost.render import deployment_words

    for r in report.results:
        r["mix"] = f"{r['input_tokens']}+{r['output_tokens']}"
    for d in report.deployments:
        d["replica"] = deployment_words(d, provider=False) + f" ({d['engine']})"
        d["workload_list"] = ", ".join(d["workloads"])


def _markdown_table(records: list[dict[str, Any]], columns: list[Column]) -> str:
    """A GFM table; every cell escaped (`selfhost.escape.md_cell`): catalog and workload text
    (names, descriptions, URLs) can hold ``<script>``, ``|`` or line breaks."""
    from selfhost.escape import md_cell

    def cell(col: Column, r: dict[str, Any]) -> str:
        return md_cell(col.fmt(r.get(col.key)))

    align = {"left": ":---", "right": "---:"}
    lines = [
        "| " + " | ".join(md_cell(c.header) if c.header else " " for c in columns) + " |",
        "|" + "|".join(align.get(c.justify, "---") for c in columns) + "|",
    ]
    lines += ["| " + " | ".join(cell(c, r) for c in columns) + " |" for r in records]
    return "\n".join(lines)


def render_markdown(report: PlanReport, title: str) -> str:
    """The plan as a Markdown document: verdict, workloads, deployments, totals, notes."""
    workload_cols, deployment_cols, totals_cols = _columns()
    _decorate(report)
    from selfhost.escape import md_text

    parts = [f"# {md_text(title)}", "", md_text(report.verdict or ""), "", "## Workloads", ""]
    parts.append(_markdown_table(report.results, workload_cols))
    parts += ["", "## Self-hosted deployments", ""]
    parts.append(
        _markdown_table(report.deployments, deployment_cols)
        if report.deployments
        else "None: every workload uses an API."
    )
    parts += ["", "## Totals", "", _markdown_table(_totals_rows(report.totals), totals_cols)]
    if report.notes:
        parts += ["", "## Notes", ""] + [f"- {md_text(n)}" for n in report.notes]
    return "\n".join(parts) + "\n"


@o.question_options(
    o.PLAN,
    max_tpot_ms=(o.DefaultTpotOpt, o.DEFAULTS["max_tpot_ms"]),
    max_ttft_ms=(o.DefaultTtftOpt, o.DEFAULTS["max_ttft_ms"]),
)
def plan(
    scenario: Scenario,
    workloads_file: Path = typer.Argument(
        ...,
        metavar="WORKLOADS.yaml",
        help="YAML file with a 'workloads:' list (see examples/ and docs/plan.md).",
    ),
    self_hosted_base_url: str = typer.Option(
        DEFAULT_SELF_HOSTED_BASE_URL,
        "--self-hosted-base-url",
        help="Base URL self-hosted workloads call (your gateway); '{model}' and '{deployment}' "
        "are replaced by the model id and the deployment name.",
    ),
    router: str | None = typer.Option(
        None,
        "--router",
        help="Also write the plan as a router config: 'litellm' (a LiteLLM proxy config, one alias per "
        "workload). To --output, else to stdout in place of the plan.",
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="File --router writes (e.g. router.yaml)."
    ),
    force: o.ForceOpt = False,
    provisioning: o.ProvisioningOpt = o.DEFAULTS["provisioning"],
    billing_hours: o.BillingHoursOpt = o.DEFAULTS["billing_hours"],
    fmt: PlanFormatOpt = PlanFormat.table,
    wide: o.WideOpt = False,
) -> None:
    """Hybrid plan: self-host what pays (sharing replicas), send the rest to APIs, cheapest in total.

    Reads several workloads (rate, tokens, model or quality tier, privacy, latency targets,
    allowed APIs) and decides for each whether it runs on your own GPUs, on which deployment,
    or on which API, minimizing the total monthly cost exactly. Workloads on the same model
    share replicas; the operations cost is paid once if anything is self-hosted;
    privacy-sensitive workloads are never sent to an API. Each workload gets the base URL
    it should call: switch the URL, not the code. The totals compare the plan with sending
    everything to APIs and with self-hosting everything.

    Examples:

      selfhost plan examples/hybrid.yaml

      selfhost plan examples/chat-assistant.yaml --format json

      selfhost plan workloads.yaml --pricing committed --self-hosted-base-url https://llm.corp.example/v1 --format markdown > plan.md

      selfhost plan examples/hybrid.yaml --router litellm -o router.yaml

    A workload may name a traffic_profile file (selfhost workload -o): its deployment's
    replicas then follow the hours, fixed for the busiest hour or --provisioning autoscaled.

    With --router litellm, each workload becomes a LiteLLM model alias: self-hosted ones point at
    their deployment's base URL (openai/<model> with api_base), API ones at the provider's model;
    keys are os.environ/ references. The other way is a commented line beside each: moving a
    workload is a one-line change.
    """

    def run() -> None:
        from selfhost import questions
        from selfhost.errors import InputError

        if router is not None and router != "litellm":
            raise InputError(f"--router '{router}': the router config offered is 'litellm'")
        if output is not None and router is None:
            raise InputError("--output is where --router writes; add --router litellm")
        if output is not None:
            from selfhost.files import refuse_existing

            refuse_existing(output, "--output", force=force)
        cat = load(scenario.catalog_overlays)
        report = questions.plan(
            cat,
            scenario,
            workloads_file,
            self_hosted_base_url=self_hosted_base_url,
            provisioning=provisioning,
            billing_hours=billing_hours,
        )
        if router is not None:
            from selfhost.deploy.router import router_yaml

            text = router_yaml(report.results, report.deployments, cat, source=workloads_file.name)
            if output is None:
                sys.stdout.write(text)
                for line in report.notes:
                    note(line)
                return
            from selfhost.files import write_file

            write_file(output, text, what="--output", force=force)
            note(f"wrote the LiteLLM router config to {output}")
        title = f"Hybrid plan for {workloads_file.name} (ops ${scenario.priced.ops_usd_per_month:,.0f}/mo)"
        write_plan(report, fmt, title, wide)

    guarded(run)


def write_plan(report: PlanReport, fmt: PlanFormat, title: str, wide: bool = False) -> None:
    """The plan on stdout in the chosen format; notes on stderr."""
    from selfhost.cli.common import whole
    from selfhost.render import render_table, write_csv, write_json, write_jsonl

    if report.selection_note:
        note(report.selection_note)
    workload_cols, deployment_cols, totals_cols = _columns()
    if fmt is PlanFormat.json:
        doc = report.document()
        doc["notes"] = report.notes
        write_json(doc, sys.stdout)
    elif fmt is PlanFormat.jsonl:
        write_jsonl(report.results, sys.stdout)
    elif fmt is PlanFormat.csv:
        write_csv(report.results, sys.stdout)
        if report.verdict:
            note(report.verdict)
    elif fmt is PlanFormat.markdown:
        sys.stdout.write(render_markdown(report, title))
    else:
        _decorate(report)
        console = stdout_console()
        full = whole(wide)
        render_table(report.results, workload_cols, console, title=title, wide=full)
        if report.deployments:
            render_table(
                report.deployments, deployment_cols, console, title="Self-hosted deployments", wide=full
            )
        render_table(_totals_rows(report.totals), totals_cols, console, title="Totals", wide=full)
        if report.verdict:
            console.print(report.verdict)
    for text in report.notes:
        note(text)


def register(app: typer.Typer) -> None:
    app.command()(plan)
