"""YAML files (reproduction matrices, prebuilt registries) read with one clear error line for a broken file."""
from __future__ import annotations

from ..errors import InputError


def load_yaml(path):
    """The parsed document; invalid YAML or text that is not UTF-8 is an InputError naming the file (and line)."""
    import yaml

    try:
        with open(path, encoding="utf-8") as f:
            return yaml.safe_load(f)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise InputError(f"{path}: not valid YAML ({problem}{line})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
