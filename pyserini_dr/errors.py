"""Errors a user can cause, reported by every CLI as one line and a non-zero exit."""
import re


class InputError(ValueError):
    """Bad input (a malformed file, an unknown name, a mismatch): the message is the whole explanation."""


_WHITESPACE = re.compile(r"\s").search  # str.isspace's characters, one C scan


def refuse_spaced_id(identifier: str, what: str, at: str) -> None:
    """An id with whitespace (a space, a newline) would split into two columns of a TREC run, or two lines of a
    ``docid`` file, shifting every id after it: results would silently belong to other documents."""
    if _WHITESPACE(identifier):
        raise InputError(f"{at}: {what} id {identifier!r} holds whitespace (run files and docid files split ids "
                         "on it)")


def where(path, line_no: int | None = None) -> str:
    """``file:line`` prefix for messages about a line of a file."""
    return f"{path}:{line_no}" if line_no is not None else str(path)
