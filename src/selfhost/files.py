"""Write the user's files: the one writer of every file a command creates or changes.

Every command that writes (``report -o``, ``plan --router -o``, ``workload -o``, ``deploy -o``,
``catalog import-config --into``, ``measurements import --into``) goes through here, so the same
promises hold for all of them:

- **Nothing is clobbered without --force.** Without it, the file is published with a hard link,
  which fails if the name exists, so even a file created a moment before (by another run) is
  never replaced; where the file system has no hard links, the check is made under the lock.
- **Atomic.** The content is written to a temporary file beside the target, flushed to disk and
  renamed over it: a reader (or a crash, or a full disk) sees the old file or the new one,
  never half of one. An existing file keeps its permission bits.
- **Read-modify-write under a lock.** `update_file` holds an exclusive lock (``flock``) on the
  target's directory while it reads the file, computes the new text and replaces it, so two
  runs adding to the same file at once both land, one after the other.
- **Symbolic links are followed, deliberately.** A link to an existing file is resolved and
  its *target* is replaced (the link stays a link, and the file it points at gets the change,
  as an editor would save it). A dangling link is refused: creating a file wherever a link
  points is how a planted link makes a program write somewhere unexpected.
- Only regular files are replaced: a directory, FIFO or device (``/dev/null``) at the path is
  refused.

Usage problems (the file exists, a dangling link, a missing directory) are `InputError` (exit
code 2); failures of the file system itself (permission denied, read-only, disk full,
``/proc``) are `OutputError` (exit code 1). Both name the path.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from selfhost.errors import InputError, OutputError

#: Permission bits of a new file before the umask, as ``open()`` would create it.
NEW_FILE_MODE = 0o666


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _io_error(action: str, path: Path, exc: OSError) -> OutputError:
    return OutputError(f"cannot {action} '{path}': {exc.strerror or exc}")


def real_target(path: str | Path, what: str) -> Path:
    """The file that writing to ``path`` changes: ``path`` itself, or the existing file a
    symbolic link at ``path`` points to (resolved through every link).

    Raises:
        InputError: ``path`` is a dangling link, a directory or not a regular file, or its
            directory does not exist.
    """
    p = Path(path)
    try:
        return _real_target(p, what)
    except OSError as exc:  # a name too long, a component that is a file (ENOTDIR), a loop
        raise InputError(f"{what} '{p}' cannot be used as a path: {exc.strerror or exc}") from None


def _real_target(p: Path, what: str) -> Path:
    if p.is_symlink():
        try:
            target = p.resolve(strict=True)
        except (FileNotFoundError, RuntimeError):  # RuntimeError: a loop of links (Python < 3.13)
            raise InputError(
                f"{what} '{p}' is a symbolic link to '{os.readlink(p)}', which does not exist; selfhost "
                "does not create files through links: remove the link or give the target's path"
            ) from None
        except OSError as exc:
            raise InputError(
                f"{what} '{p}' is a symbolic link that cannot be followed: {exc.strerror}"
            ) from None
    else:
        target = p
    try:
        info = os.stat(target)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EIO):
            raise _io_error("write", p, exc) from None
        raise  # the path itself is unusable: real_target says so
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise InputError(f"{what} '{p}' is a directory; give the path of a file")
    if info is not None and not stat.S_ISREG(info.st_mode):
        raise InputError(
            f"{what} '{p}' is not a regular file (a pipe, socket or device); give the path of a file"
        )
    parent = target.parent
    if not parent.is_dir():
        raise InputError(
            f"{what} '{p}': directory '{parent}' does not exist; create it or choose another path"
        )
    return target


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``directory`` (``flock`` on it; waits for another holder)."""
    try:
        import fcntl
    except ImportError:  # no flock (Windows): one writer at a time is then the user's to ensure
        yield
        return
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise _io_error("lock the directory", directory, exc) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as exc:
            if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
                raise _io_error("lock the directory", directory, exc) from None
            # a file system without locks (some network mounts): write without one
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _temporary(target: Path, data: bytes, mode: int) -> Path:
    """A temporary file beside ``target`` holding ``data`` (flushed to disk), with ``mode``."""
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    tmp = Path(name)
    try:
        os.fchmod(fd, mode)  # before any byte is written (secrets are born private)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _publish(tmp: Path, target: Path, *, replace: bool, shown: Path) -> None:
    """Move ``tmp`` to ``target``: replacing it when ``replace``, else only if no such name exists."""
    if replace:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)  # fails with EEXIST if the name exists: no window to clobber in
    except FileExistsError:
        raise InputError(f"'{shown}' exists; pass --force to replace it") from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.EXDEV):
            raise
        if os.path.lexists(target):  # no hard links here: checked under the lock instead
            raise InputError(f"'{shown}' exists; pass --force to replace it") from None
        os.replace(tmp, target)
        return
    tmp.unlink()


def _put(target: Path, data: bytes, mode: int, *, replace: bool, shown: Path) -> None:
    """Write ``data`` to ``target`` through a temporary file (`_temporary`, then `_publish`); the
    temporary never stays behind, whatever happens."""
    tmp = _temporary(target, data, mode)
    try:
        _publish(tmp, target, replace=replace, shown=shown)
    finally:
        tmp.unlink(missing_ok=True)


def _kept_mode(target: Path, exists: bool) -> int:
    """Permission bits for a file written at ``target``: the existing file's, else 0666 less the umask."""
    return stat.S_IMODE(os.stat(target).st_mode) if exists else NEW_FILE_MODE & ~_umask()


def refuse_existing(path: str | Path, what: str, *, force: bool) -> None:
    """Refuse, before any work, an existing ``path`` without ``force``: the check `write_file`
    makes again when it writes, run early so a long computation is not thrown away.

    Raises:
        InputError: ``{what} 'PATH' exists; pass --force to replace it``, or whatever
            `real_target` refuses (a dangling link, a directory, a missing directory).
    """
    if real_target(path, what).exists() and not force:
        raise InputError(f"{what} '{path}' exists; pass --force to replace it")


def write_file(
    path: str | Path,
    content: str | bytes,
    *,
    what: str = "output file",
    force: bool = False,
    mode: int | None = None,
) -> Path:
    """Write ``content`` (text as UTF-8) to ``path`` atomically; returns the file written.

    Without ``force`` an existing file is never replaced. ``mode``: permission bits of the new
    file (default: an existing file's, else 0666 less the umask).

    Raises:
        InputError: the file exists and ``force`` is not set, a dangling link, not a regular
            file, or its directory is missing.
        OutputError: the file system refused (permission, read-only, full, ``/proc``).
    """
    data = content.encode("utf-8") if isinstance(content, str) else content
    shown = Path(path)
    target = real_target(path, what)
    try:
        with locked(target.parent):
            exists = target.exists()
            if exists and not force:
                raise InputError(f"{what} '{shown}' exists; pass --force to replace it")
            bits = mode if mode is not None else _kept_mode(target, exists)
            _put(target, data, bits, replace=force, shown=shown)
    except OSError as exc:
        raise _io_error("write", shown, exc) from None
    return target


def update_file(
    path: str | Path,
    change: Callable[[str | None, Path], str | None],
    *,
    what: str,
    read: Callable[[Path], str],
) -> tuple[Path, bool]:
    """Read-modify-write ``path`` under the directory lock; returns (the file, whether it was written).

    ``read(target)`` gives the current text (called only if the file exists); ``change(text,
    target)`` returns the new text, or None to leave the file as it is (``text`` is None for a
    file that does not exist yet). It may raise to refuse; nothing is written then.

    Raises:
        InputError: a dangling link, not a regular file, its directory is missing; or whatever
            ``read`` and ``change`` raise.
        OutputError: the file system refused the write.
    """
    shown = Path(path)
    target = real_target(path, what)
    try:
        with locked(target.parent):
            exists = target.exists()
            old = read(target) if exists else None
            new = change(old, target)
            if new is None:
                return target, False
            _put(target, new.encode("utf-8"), _kept_mode(target, exists), replace=exists, shown=shown)
    except OSError as exc:
        raise _io_error("write", shown, exc) from None
    return target, True


def check_directory(path: str | Path, what: str) -> Path:
    """``path`` if it can be a directory to write into: one already, or nothing yet (made by
    `make_directory`), not a file and not a dangling link.

    Raises:
        InputError: ``path`` is a file, a dangling link, or not usable as a path (too long).
    """
    p = Path(path)
    try:
        if p.is_symlink() and not p.exists():
            raise InputError(
                f"{what} '{p}' is a symbolic link to '{os.readlink(p)}', which does not exist; remove the "
                "link or give the target's path"
            )
        if p.exists() and not p.is_dir():
            raise InputError(f"{what} '{p}' is a file; give a directory")
    except OSError as exc:
        raise InputError(f"{what} '{p}' cannot be used as a path: {exc.strerror or exc}") from None
    return p


def make_directory(path: str | Path, what: str) -> Path:
    """``path`` as a directory, created with its parents if missing (``deploy -o``).

    Raises:
        InputError: see `check_directory`.
        OutputError: the file system refused to create it.
    """
    p = check_directory(path, what)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except (NotADirectoryError, FileExistsError) as exc:  # a file on the way: the path, not the disk
        raise InputError(f"{what} '{p}' cannot be made a directory: {exc.strerror or exc}") from None
    except OSError as exc:
        raise _io_error("create the directory", p, exc) from None
    return p
