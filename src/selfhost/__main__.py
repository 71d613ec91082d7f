"""`python -m selfhost` runs the CLI."""

from selfhost.cli.app import main

main()
