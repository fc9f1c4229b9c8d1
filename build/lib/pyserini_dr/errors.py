"""Errors a user can cause, reported by every CLI as one line and a non-zero exit."""


class InputError(ValueError):
    """Bad input (a malformed file, an unknown name, a mismatch): the message is the whole explanation."""


def where(path, line_no: int | None = None) -> str:
    """``file:line`` prefix for messages about a line of a file."""
    return f"{path}:{line_no}" if line_no is not None else str(path)
