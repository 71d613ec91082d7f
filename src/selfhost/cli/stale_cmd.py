"""`selfhost catalog stale`: every catalog price older than N days."""

from __future__ import annotations

import typer

from selfhost.cli import options as o


def register(catalog_app: typer.Typer) -> None:
    """Add the `stale` command to the `catalog` group."""

    @catalog_app.command("stale")
    def stale(
        days: int = typer.Option(
            o.DEFAULTS["stale_days"],
            "--days",
            "--stale-days",
            min=0,
            help="Flag prices older than this many days. [days]",
        ),
        catalog: o.CatalogOpt = None,
        fmt: o.FormatOpt = o.OutputFormat.table,
        wide: o.WideOpt = False,
    ) -> None:
        """List catalog prices (rental offers, owned hardware, APIs) older than --days, oldest first.

        Every price has an as_of date. Commands that use a stale price say so (a note on
        stderr; `assumptions.stale_prices` in JSON); this lists all of them, to refresh
        before a budget review with an overlay (--catalog).

        Examples:

          selfhost catalog stale

          selfhost catalog stale --days 30 --format csv
        """
        from selfhost.cli.common import emit, guarded, load

        def run() -> None:
            from selfhost.analysis import Report
            from selfhost.render import Column, num0, text
            from selfhost.staleness import current_date, stale_prices

            cat = load(catalog)
            today = current_date()
            records = stale_prices(cat, days, today)
            columns = [
                Column("id", "Id", text, "left"),
                Column("kind", "Kind", text, "left", priority=2),
                Column("provider", "Provider", text, "left", priority=1),
                Column("item", "GPU / API model", text, "left", priority=3),
                Column("as_of", "As of", text, "left"),
                Column("age_days", "Age (days)", num0),
            ]
            report = Report(
                results=records,
                assumptions={"stale_after_days": days, "today": today.isoformat()},
            )
            emit(
                report,
                fmt,
                columns,
                f"Prices older than {days} days on {today.isoformat()} ({len(records)})",
                wide=wide,
            )

        guarded(run)
