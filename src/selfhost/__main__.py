"""`python -m selfhost` runs the CLI, as the `selfhost` console script does."""

from selfhost.cli.console import main

main()
