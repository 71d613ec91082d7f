"""The `selfhost` console script (and ``python -m selfhost``): the app imported with the cyclic
garbage collector paused.

Importing the CLI (Typer and Click, then the command's module) makes tens of thousands of
objects that live until the process ends. The collector would scan them over and over while
they are made and once more at exit, and find nothing to free: about a tenth of the headline's
start-up (`benchmarks/bench.py`). So the collector is paused while the app is imported, what the
import made is moved out of its sight (`gc.freeze`), and it runs as usual for the command.
Library code never goes through here: importing `selfhost` leaves the collector alone.
"""

from __future__ import annotations

import gc


def main() -> None:
    """Import the app with the collector paused, freeze what the import made, run the app."""
    gc.disable()
    try:
        from selfhost.cli.app import main as run
    finally:
        gc.freeze()
        gc.enable()
    run()
