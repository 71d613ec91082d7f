"""`selfhost workload`: real usage in, an hourly traffic profile out."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from selfhost.cli import options as o

if TYPE_CHECKING:
    from rich.console import Console


class Shape(str, Enum):
    auto = "auto"
    week = "week"
    day = "day"


class UsageFormat(str, Enum):
    openai_usage_json = "openai-usage-json"
    openai_usage_csv = "openai-usage-csv"
    litellm_spend_logs = "litellm-spend-logs"
    jsonl_access_log = "jsonl-access-log"
    traffic_profile = "traffic-profile"


BAR_WIDTH = 30  # characters of the widest bar in the shape tables


def register(app: typer.Typer) -> None:
    @app.command()
    def workload(
        usage_file: Path = typer.Argument(
            ...,
            metavar="FILE",
            help="OpenAI Usage API completions JSON or dashboard CSV, LiteLLM spend logs (JSON, JSON lines, "
            "CSV), a JSON-lines access log with token counts, or a traffic profile.",
        ),
        output: Path | None = typer.Option(
            None,
            "--output",
            "-o",
            help="Write the traffic profile (YAML) here; an existing file is replaced only with --force.",
        ),
        force: o.ForceOpt = False,
        fmt: o.FormatOpt = o.OutputFormat.table,
        shape: Shape = typer.Option(
            Shape.auto,
            "--shape",
            help="Profile over a typical week (168 h; needs a week of usage) or day (24 h).",
        ),
        utc_offset: float = typer.Option(
            0.0, "--utc-offset", min=-12, max=14, help="Read hours in this time zone (offset from UTC). [h]"
        ),
        only_model: str | None = typer.Option(
            None, "--only-model", help="Count only rows of this model (the file's own model name)."
        ),
        format_hint: UsageFormat | None = o.format_hint_option(UsageFormat),
        description: str = typer.Option(
            "", "--description", help="A line describing the workload, kept in the profile."
        ),
    ) -> None:
        """Read real usage and print its traffic profile: mean, p95-hour and peak request rate,
        the hourly shape of a typical day and week, and tokens per request (mean, p50, p95).

        With -o, writes the profile (the request rate of each hour of the week, the token
        means, where it came from) for the cost commands. Hours are counted in UTC unless
        --utc-offset says otherwise. Formats and fields: docs/traffic-profile.md.

        Examples:

          selfhost workload spend_logs.json -o chat-profile.yaml

          selfhost workload completions_usage.json --format json

          selfhost workload access.log.jsonl --utc-offset -5 --shape day
        """
        from selfhost.cli.common import guarded, note, stdout_console

        def run() -> None:
            from selfhost.limits import check_number
            from selfhost.traffic import profile_from_file, summary_record
            from selfhost.traffic_profile import hour_label, write_profile

            check_number(utc_offset, "--utc-offset", "h", low=-12, high=14)  # Typer's range lets NaN through
            if output is not None:
                from selfhost.files import refuse_existing

                refuse_existing(output, "-o", force=force)
            w = profile_from_file(
                usage_file,
                hint=format_hint.value if format_hint else None,
                only_model=only_model,
                shape=shape.value,
                utc_offset_hours=utc_offset,
                description=description,
            )
            summary = summary_record(w)
            hours = [
                {"hour": h, "label": hour_label(h, len(w.profile.hourly_rps)), "rps": rps}
                for h, rps in enumerate(w.profile.hourly_rps)
            ]
            if fmt is o.OutputFormat.json:
                from selfhost.render import write_json

                write_json(
                    {
                        "results": hours,
                        "summary": summary,
                        "assumptions": {
                            "file": str(usage_file),
                            "shape": shape.value,
                            "utc_offset_hours": utc_offset,
                        },
                    },
                    sys.stdout,
                )
            elif fmt is o.OutputFormat.jsonl:
                from selfhost.render import write_jsonl

                write_jsonl(hours, sys.stdout)
            elif fmt is o.OutputFormat.csv:
                from selfhost.render import write_csv

                write_csv(hours, sys.stdout, fallback_header=["hour", "label", "rps"])
            else:
                _render(w, usage_file.name, stdout_console())
            for line in w.profile.source.notes:
                note(line)
            if output is not None:
                header = (
                    f"Traffic profile written by `selfhost workload {usage_file.name}`"
                    f" from {w.format} ({w.stats.hours} h, {w.stats.requests:,.0f} requests)."
                )
                write_profile(output, w.profile, header, force=force)
                sys.stderr.write(f"wrote {output}\n")

        guarded(run)


def _bar(value: float, top: float) -> str:
    return "#" * round(BAR_WIDTH * value / top) if top > 0 else ""


def _render(w: object, title: str, out: object) -> None:
    """Summary, tokens, and the shape of a typical day and week as Rich tables (80 columns)."""
    from rich.console import Console
    from rich.table import Table

    from selfhost.render import Column, render_table
    from selfhost.traffic import WorkloadProfile, daily_shape, weekly_shape
    from selfhost.traffic_profile import DAYS

    assert isinstance(w, WorkloadProfile) and isinstance(out, Console)
    s, p = w.stats, w.profile

    def rate(v: object) -> str:
        return f"{v:,.3g}" if isinstance(v, int | float) else "-"

    def tokens(v: object) -> str:
        return f"{v:,.0f}" if isinstance(v, int | float) else "-"

    tz = "UTC" if p.utc_offset_hours == 0 else f"UTC{p.utc_offset_hours:+g}"
    if p.source.synthetic:
        observed, requests = "synthetic: made up, not observed", "-"
    else:
        observed = f"{s.first[:16]} to {s.last[:16]} ({s.hours:,} h)" if s.first else f"{s.hours:,} h"
        requests = f"{s.requests:,.0f}"
    rows = [
        ("format", w.format),
        ("observed", observed),
        ("requests", requests),
        ("mean rate [req/s]", rate(s.mean_rps)),
        ("p95 hour [req/s]", rate(s.p95_hour_rps)),
        ("peak hour [req/s]", f"{rate(s.peak_hour_rps)} ({s.peak_hour_rps / s.mean_rps:.1f}x mean)"),
        (f"profile ({p.shape}, {tz})", f"mean {rate(p.mean_rps)}, peak {rate(p.peak_rps)} req/s"),
    ]
    table = Table(title=f"Traffic profile of {title}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    for what, value in rows:
        table.add_row(what, value)
    out.print(table)
    statistics = (("mean", "Mean"), ("p50", "p50"), ("p95", "p95"))  # (field of the stats, header)
    token_rows = [
        {"kind": name, **({k: getattr(stats, k) for k, _ in statistics} if stats else {})}
        for name, stats in (
            ("input", p.tokens.input),
            ("output", p.tokens.output),
            ("cached input", p.tokens.cached_input),
        )
    ]
    columns = [
        Column("kind", "Tokens per request", str, "left"),
        *(Column(k, h, tokens) for k, h in statistics),
    ]
    render_table(token_rows, columns, out)
    day = daily_shape(p)
    _shape_table(
        [f"{h:02d}:00" for h in range(len(day))],
        [float(v) for v in day],
        "Hour",
        f"Typical day ({tz})",
        rate,
        out,
    )
    week = weekly_shape(p)
    if week is not None:
        _shape_table(
            list(DAYS), [float(v) for v in week], "Day", "Typical week (mean of each day)", rate, out
        )


def _shape_table(
    labels: list[str],
    rps: Sequence[float],
    heading: str,
    title: str,
    rate: Callable[[object], str],
    out: Console,
) -> None:
    """A profile's shape as a table of mean req/s per hour or day, with a bar scaled to the top value."""
    from selfhost.render import Column, render_table

    top = float(max(rps))
    render_table(
        [
            {"when": label, "rps": float(v), "bar": _bar(float(v), top)}
            for label, v in zip(labels, rps, strict=True)
        ],
        [Column("when", heading, str, "left"), Column("rps", "req/s", rate), Column("bar", "", str, "left")],
        out,
        title=title,
    )
