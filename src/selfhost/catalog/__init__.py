"""Catalog: pydantic schema, YAML loader with overlays, id lookup."""
