"""python -m pyserini_dr.index.info DIR|NAME: what a dense index holds, and the Pyserini command that searches it
with the query encoding its passages were made for (Pyserini does not read our meta.json)."""
from __future__ import annotations

import shlex

from ..cli import ArgumentParser, run_main


def main(argv=None) -> int:
    from ..encode.pyserini_classes import pyserini_query_flags
    from ..encode.settings import EncoderSettings
    from ..prebuilt import resolve_index
    from .dense import DenseIndex

    parser = ArgumentParser(prog="python -m pyserini_dr.index.info", description=__doc__.split(": ")[1])
    parser.add_argument("index", help="dense index directory or prebuilt name")
    args = parser.parse_args(argv)
    index = DenseIndex(resolve_index(args.index, "dense"))
    meta, saved = index.meta, index.meta.get("encoder")
    print(f"{index.directory}: {len(index.docids):,} documents, {meta.get('dimension', '?')} dims, "
          f"{meta.get('index_type', 'Flat')} index, corpus {meta.get('corpus', '?')}")
    if not saved:
        print("no meta.json: the encoder and its settings are not recorded; give them as flags")
        return 0
    settings = EncoderSettings.from_dict(saved)
    print("encoder: " + ", ".join(f"{k} {v}" for k, v in saved.items() if k != "dtype" and v not in ("", None)))
    flags, caveats = pyserini_query_flags(settings)
    command = ["python", "-m", "pyserini.search.faiss", "--index", index.directory, "--topics", "TOPICS",
               "--encoder", saved.get("model", "MODEL"), *flags, "--output", "run.txt"]
    print("pyserini: " + shlex.join(command))
    for caveat in caveats:
        print(f"note: {caveat}")
    return 0


if __name__ == "__main__":
    run_main(main)
