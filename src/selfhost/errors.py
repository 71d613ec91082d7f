"""Exception types of the core. The CLI translates them to one-line errors in one place.

Each carries the exit code the CLI ends with: 2 for a problem with what the user asked
(a usage error), 1 for a failure of the system around it (a file that cannot be written).
"""


class SelfhostError(Exception):
    """Base class: a problem the user can fix; the message says how."""

    exit_code = 2


class CatalogError(SelfhostError):
    """A catalog file is unreadable or invalid; the message names the file and each bad location."""


class UnknownIdError(SelfhostError):
    """An id that is not in the catalog; the message lists close matches and how to see valid ids."""


class InputError(SelfhostError):
    """A bad option value or combination (exit code 2 at the CLI)."""


class MeasurementError(SelfhostError):
    """A measurements file is unreadable or invalid; the message names the file and each bad location."""


class OutputError(SelfhostError):
    """A file cannot be written (permission, read-only or full file system); exit code 1."""

    exit_code = 1
