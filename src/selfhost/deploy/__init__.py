"""After the decision: the serving kit of a sized deployment, and the hybrid plan's router config."""

from selfhost.deploy.kit import KitResult, write_kit
from selfhost.deploy.spec import KitSettings, KitSpec, kit_spec

__all__ = ["KitResult", "KitSettings", "KitSpec", "kit_spec", "write_kit"]
