"""Typed errors. The CLI turns any BlurtoolError into one red line on stderr and exit code 1."""


class BlurtoolError(Exception):
    """Base of every error blurtool expects and explains to its user."""


class InputError(BlurtoolError):
    """An input file or argument is missing, unreadable or not what was expected."""


class OutputError(BlurtoolError):
    """An output cannot be written (unwritable folder, would overwrite an input...)."""


class WeightsError(BlurtoolError):
    """A weights file is missing, truncated, corrupt or of an unknown format."""


class DeviceError(BlurtoolError):
    """The requested compute device does not exist on this machine."""


def naming(path, message: str) -> str:
    """`message`, prefixed with `path` unless it names it already: every per-file error says which file."""
    return message if str(path) in message else f"{path}: {message}"


def one_line(text: object) -> str:
    """A decoder's or tool's message on one line (libheif's end with a newline, some span several): an error is one
    line naming the file and the reason, however the library below words it."""
    return " ".join(str(text).split())
