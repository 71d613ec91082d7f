"""Exception types of the core. The CLI translates them to one-line errors in one place."""


class SelfhostError(Exception):
    """Base class: a problem the user can fix; the message says how."""


class CatalogError(SelfhostError):
    """A catalog file is unreadable or invalid; the message names the file and each bad location."""


class UnknownIdError(SelfhostError):
    """An id that is not in the catalog; the message lists close matches and how to see valid ids."""


class InputError(SelfhostError):
    """A bad option value or combination (exit code 2 at the CLI)."""


class MeasurementError(SelfhostError):
    """A measurements file is unreadable or invalid; the message names the file and each bad location."""
