"""Typer CLI: parses options, calls the library, renders results. No arithmetic here."""
