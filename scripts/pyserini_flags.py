"""Pyserini 1.6's command-line flags against ours: writes docs/pyserini_flags.md (issue 19).

    python scripts/pyserini_flags.py            # (re)write docs/pyserini_flags.md
    python scripts/pyserini_flags.py --check    # exit 1 when the committed table is not what this writes now

Pyserini's flags are read from its own sources, not copied: its argparse calls (parsed with ``ast``: most of its
parsers are built under ``if __name__ == "__main__":``), Anserini's ``IndexCollection -options`` (``index.lucene``
hands its flags to that Java class) and ``trec_eval -h`` (``eval.trec_eval`` hands its flags to that binary). Ours
are read from our commands' parsers: a flag is ``same`` when our parser takes it with Pyserini's destination,
``mapped`` when it is an alias of one of ours, ``refused`` when our parser registers it as an unsupported Pyserini
flag (``cli.pyserini_flags``), and ``unknown`` otherwise (tests/test_pyserini_flags.py allows none).
"""
from __future__ import annotations

import argparse
import ast
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from importlib import import_module, util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TABLE = ROOT / "docs" / "pyserini_flags.md"


@dataclass
class Flag:
    """One of Pyserini's flags: its option strings and argparse destination."""
    options: list[str]
    dest: str
    takes_value: bool = True
    section: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.options[0]


# --- Pyserini's side ----------------------------------------------------------------------------------------------

def pyserini_dir() -> Path:
    spec = util.find_spec("pyserini")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pyserini is not installed in this interpreter")
    return Path(list(spec.submodule_search_locations)[0])


def _dest(options: list[str], keywords: dict) -> str:
    if "dest" in keywords:
        return keywords["dest"]
    longs = [o for o in options if o.startswith("--")] or options
    return longs[0].lstrip("-").replace("-", "_")


def _add_argument_calls(node: ast.AST) -> list[tuple[str, Flag]]:
    """(receiver, flag) for each ``<receiver>.add_argument('--x', ...)`` under ``node``, in source order."""
    found = []
    for call in ast.walk(node):
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                and call.func.attr == "add_argument" and isinstance(call.func.value, ast.Name)):
            continue
        options = [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        if not options or not options[0].startswith("-"):
            continue
        keywords = {k.arg: k.value.value for k in call.keywords
                    if k.arg in ("dest", "action", "nargs") and isinstance(k.value, ast.Constant)}
        takes_value = keywords.get("action") not in ("store_true", "store_false", "count")
        found.append((call.func.value.id, call.lineno, Flag(options, _dest(options, keywords), takes_value)))
    found.sort(key=lambda item: item[1])
    return [(receiver, flag) for receiver, _, flag in found]


def _tree(relpath: str) -> ast.Module:
    return ast.parse((pyserini_dir() / relpath).read_text(), relpath)


def _function(tree: ast.Module, name: str) -> ast.FunctionDef:
    return next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)


def _main_block(tree: ast.Module) -> ast.If:
    return next(n for n in tree.body if isinstance(n, ast.If) and "__main__" in ast.unparse(n.test))


def _flags(node: ast.AST, receiver: str | None = None) -> list[Flag]:
    return [f for r, f in _add_argument_calls(node) if receiver is None or r == receiver]


def _java_lines(*args: str) -> list[str]:
    from pyserini_dr import _pyserini

    java = os.path.join(_pyserini.java_home(), "bin", "java")
    done = subprocess.run([java, "-cp", _pyserini.anserini_jar(), *args], capture_output=True, text=True)
    return (done.stdout + done.stderr).splitlines()


def index_collection_flags() -> list[Flag]:
    """Anserini's IndexCollection options (Pyserini's ``index.lucene`` turns ``--x`` into ``-x`` and hands them on)."""
    flags = []
    for line in _java_lines("io.anserini.index.IndexCollection", "-options"):
        match = re.match(r"^ (-[\w.]+)( \S+)?\s+:", line)
        if match:
            name = match.group(1)
            flags.append(Flag(["-" + name, name], name.lstrip("-").replace(".", "_"), bool(match.group(2))))
    return flags


def trec_eval_flags() -> list[Flag]:
    """trec_eval's options (``-h``) and Pyserini's own ``-remove-unjudged``."""
    flags, long_name = [], None
    for line in _java_lines("trec_eval", "-h"):
        long_match = re.match(r"^ (--?\w+)( \S+)?:\s*$", line)
        if long_match:
            long_name = long_match.group(1)
            continue
        match = re.match(r"^ -(\w)(?: ?(<?[\w ]+>?))?:", line)
        if match and not any(f.options[0] == f"-{match.group(1)}" for f in flags):
            options = [f"-{match.group(1)}"] + ([long_name] if long_name and long_name.startswith("--") else [])
            flags.append(Flag(options, match.group(1), bool(match.group(2))))
        long_name = None
    tree = _tree("eval/trec_eval.py")
    if "-remove-unjudged" in ast.unparse(tree):
        flags.append(Flag(["-remove-unjudged"], "remove_unjudged", False))
    return flags


def pyserini_commands() -> dict[str, list[Flag]]:
    """``command`` or ``command section`` -> Pyserini's flags there."""
    lucene = _tree("search/lucene/__main__.py")
    faiss = _tree("search/faiss/__main__.py")
    hybrid = _tree("search/hybrid/__main__.py")
    encode = _main_block(_tree("encode/__main__.py"))
    search_args = _flags(_function(lucene, "define_search_args"))
    dsearch_args = _flags(_function(faiss, "define_dsearch_args"))
    commands = {
        "search.lucene": search_args,
        "search.faiss": _flags(_main_block(faiss), "parser") + dsearch_args,
        "search.hybrid dense": dsearch_args,
        "search.hybrid sparse": [f for f in search_args if f.name != "--topics"],  # removed there (remove_argument)
        "search.hybrid fusion": _flags(_function(hybrid, "define_fusion_args")),
        "search.hybrid run": _flags(_main_block(hybrid), "run_parser"),
        "index.lucene": index_collection_flags(),
        "encode input": _flags(encode, "input_parser"),
        "encode output": _flags(encode, "output_parser"),
        "encode encoder": _flags(encode, "encoder_parser"),
        "fusion": _flags(_tree("fusion/__main__.py"), "parser"),
        "eval.trec_eval": trec_eval_flags(),
    }
    return commands


# --- our side -----------------------------------------------------------------------------------------------------

def our_parsers() -> dict[str, argparse.ArgumentParser]:
    hybrid = import_module("pyserini_dr.search.hybrid.options").section_parsers()
    encode = import_module("pyserini_dr.encode.options").pyserini_section_parsers()
    return {
        "search.lucene": import_module("pyserini_dr.search.lucene.__main__").build_parser(),
        "search.faiss": import_module("pyserini_dr.search.faiss.__main__").build_parser(),
        **{f"search.hybrid {name}": parser for name, parser in hybrid.items()},
        "index.lucene": import_module("pyserini_dr.index.lucene.__main__").build_parser(),
        **{f"encode {name}": parser for name, parser in encode.items()},
        "fusion": import_module("pyserini_dr.fusion").build_parser(),
        "eval.trec_eval": import_module("pyserini_dr.eval.trec_eval").build_parser(),
    }


# Notes on accepted flags whose meaning needs a word: (command or "*" for every command, Pyserini flag) -> note.
SPEED = "speed only: the run does not change"
BM25 = ("neither given: Pyserini's values for MS MARCO v1 prebuilt names, else k1 0.9, b 0.4; one alone: the other "
        "takes its default (Pyserini stops)")
QUERY_DEFAULT = "default: what the index's meta.json records (Pyserini: {})"
NOTES: dict[tuple[str, str], str] = {
    ("*", "--batch-size"): SPEED, ("*", "--threads"): SPEED,
    ("*", "--k1"): BM25, ("*", "--b"): BM25,
    ("*", "--topics"): "a topics file (TSV, JSONL) or a dataset topic name",
    ("*", "--output-format"): "`trec` or `msmarco` (`kilt` is refused as an invalid choice)",
    ("*", "--encoder-class"): "our encoder classes (see `--help`); another is refused as an invalid choice",
    ("*", "--device"): "default: cuda where there is one (Pyserini: cpu for queries, cuda:0 for encode)",
    ("search.lucene", "--encoder"): "Pyserini's names the query encoder of `--impact` search (refused here); ours, "
                                    "the Hugging Face query encoder of `--dense` (default: the index's meta.json)",
    ("search.lucene", "--hnsw"): "optional: the index says whether it is HNSW or flat",
    ("search.lucene", "--flat"): "optional: the index says whether it is HNSW or flat",
    ("search.lucene", "--output"): "required (Pyserini makes up a file name when it is missing)",
    ("search.faiss", "--pooling"): QUERY_DEFAULT.format("cls"),
    ("search.faiss", "--l2-norm"): QUERY_DEFAULT.format("off"),
    ("search.hybrid dense", "--pooling"): QUERY_DEFAULT.format("cls"),
    ("search.hybrid dense", "--l2-norm"): QUERY_DEFAULT.format("off"),
    ("search.hybrid dense", "--ef-search"): "Pyserini's hybrid ignores it; ours applies it to an HNSW index",
    ("search.hybrid sparse", "--fields"): "Pyserini's hybrid ignores it (one query over `contents`); ours searches "
                                          "those fields",
    ("index.lucene", "--input"): "the corpus: a JsonCollection or BEIR .jsonl file, or a folder of one (Pyserini: a "
                                 "folder of JsonCollection files); with `--dense`, our dense index directory",
    ("index.lucene", "--fields"): "`title` (or no value): multifield, `contents` = text plus a `title` field; "
                                  "another field is refused",
    ("index.lucene", "--collection"): "`JsonCollection` (a corpus with titles needs `-fields title`), "
                                      "`BeirFlatCollection`, `BeirMultifieldCollection` with `-fields title`: the "
                                      "index Anserini builds from them; another is refused",
    ("index.lucene", "--optimize"): "one segment (BM25 and `--dense` indexes)",
    ("index.lucene", "--threads"): SPEED,
    ("encode input", "--corpus"): "a .jsonl file (JsonCollection or BEIR) or a folder of one; titles are always "
                                  "encoded, so a corpus with titles needs `--fields title text` in both sections "
                                  "(Pyserini's default, `text`, would leave them out: refused)",
    ("encode input", "--shard-id"): "Pyserini's split: shards of N // shard-num documents, the last takes the rest",
    ("encode output", "--embeddings"): "a faiss index directory (index + docid + meta.json)",
    ("encode output", "--to-faiss"): "required: without it Pyserini writes JSONL vectors, which is refused",
    ("encode encoder", "--batch-size"): "",
    ("encode encoder", "--prefix"): "then a space, as Pyserini's; refused on a corpus with titles (Pyserini puts it "
                                    "between title and text)",
    ("*", "--query-prefix"): "then a space, as Pyserini's (`f\"{prefix} {query}\"`)",
    ("encode encoder", "--max-length"): "passage tokens; default: the encoder class's (Pyserini: 256)",
    ("encode encoder", "--pooling"): "default: the encoder class's (Pyserini: cls)",
    ("encode encoder", "--l2-norm"): "default: the encoder class's (Pyserini: off)",
    ("fusion", "--runtag"): "default tag: pyserini-dr-<method> (Pyserini: pyserini.fusion)",
    ("fusion", "--method"): "`rrf`, `interpolation`, `average`, `normalize` (ours too: `combsum`, `combmnz`)",
    ("eval.trec_eval", "-h"): "our help",
    ("eval.trec_eval", "-m"): "measures our evaluator lacks go to trec_eval; Pyserini's `judged.K` as Pyserini "
                              "computes it; none: trec_eval's official set",
    **{("eval.trec_eval", f): "handed to trec_eval" for f in ("-n", "-D", "-N", "-M", "-J", "-Z")},
}


def _same_dest(ours: str, theirs: str) -> bool:
    return ours.replace("_", "").lower() == theirs.replace("_", "").lower()


def row(command: str, flag: Flag, parser: argparse.ArgumentParser) -> tuple[str, str, str, str]:
    from pyserini_dr.cli import PyseriniNoOp, PyseriniOnly, PyseriniRefused

    action = next((parser._option_string_actions[o] for o in flag.options if o in parser._option_string_actions),
                  None)
    note = NOTES.get((command, flag.name), NOTES.get(("*", flag.name), ""))
    if action is None:
        return flag.name, "", "unknown", note
    if isinstance(action, PyseriniRefused):
        return flag.name, "", f"refused ({action.reason})", note
    if isinstance(action, PyseriniOnly):
        shown = [v.replace("\n", "\\n") for v in action.allowed]
        allowed = ", ".join(f"`{v}`" for v in dict.fromkeys(shown))
        return flag.name, flag.name, "same", "; ".join(
            filter(None, [f"only {allowed}: another value is refused ({action.reason})", note]))
    if isinstance(action, PyseriniNoOp):
        return flag.name, flag.name, "same", "; ".join(filter(None, [f"accepted, no effect: {action.note}", note]))
    if _same_dest(action.dest, flag.dest) and flag.name in action.option_strings:
        return flag.name, flag.name, "same", note
    return flag.name, "--" + action.dest.replace("_", "-"), "mapped", note  # our flag of that destination


def rows() -> dict[str, list[tuple[str, str, str, str]]]:
    ours = our_parsers()
    return {command: [row(command, flag, ours[command]) for flag in flags]
            for command, flags in pyserini_commands().items()}


def _among_same(table) -> str:
    notes = [note for lines in table.values() for _, _, status, note in lines if status == "same"]
    one_value = sum("another value is refused" in n for n in notes)
    no_effect = sum(n.startswith("accepted, no effect") for n in notes)
    return f"of the same, {one_value} at one value only and {no_effect} accepted without effect"


def render() -> str:
    table = rows()
    counts: dict[str, int] = {}
    for lines in table.values():
        for _, _, status, _ in lines:
            key = status.split(" ")[0]
            counts[key] = counts.get(key, 0) + 1
    out = ["# Pyserini's flags and ours", "",
           "Every flag of Pyserini 1.6's `search.lucene`, `search.faiss`, `search.hybrid`, `index.lucene`, `encode`, "
           "`fusion` and `eval.trec_eval`, and what `python -m pyserini_dr.<the same command>` does with it: "
           "**same** (the same flag, Pyserini's meaning), **mapped** (accepted under that name, our flag in the "
           "second column), **refused** (one line, `error: <flag>: unsupported Pyserini flag (<reason>)`, exit 2). "
           "No flag is ignored unless its note says why it cannot change the output.", "",
           "Written by `python scripts/pyserini_flags.py` from Pyserini's own parsers and ours; "
           "`tests/test_pyserini_flags.py` checks it is current and has no `unknown` row.", "",
           "Rows: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + f" ({_among_same(table)}).", ""]
    for command, lines in table.items():
        out += [f"## {command}", "", "| Pyserini | ours | status | note |", "| --- | --- | --- | --- |"]
        for pyserini, ours, status, note in lines:
            cell = f"`{ours}`" if ours else ""
            out.append(f"| `{pyserini}` | {cell} | {status} | {note} |".replace("  ", " "))
        out.append("")
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when docs/pyserini_flags.md is not current")
    parser.add_argument("--list", action="store_true", help="print Pyserini's flags per command and stop")
    args = parser.parse_args()
    if args.list:
        for command, flags in pyserini_commands().items():
            print(command, " ".join(f.name + ("=" if f.takes_value else "") for f in flags))
        return 0
    text = render()
    if args.check:
        if not TABLE.exists() or TABLE.read_text() != text:
            print(f"{TABLE.relative_to(ROOT)} is not current: run python scripts/pyserini_flags.py", file=sys.stderr)
            return 1
        return 0
    TABLE.write_text(text)
    print(f"wrote {TABLE.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
