"""selfhost: when does running an open-weight LLM on your own GPUs beat paying an API?"""

from selfhost._version import __version__

__all__ = ["__version__"]
