"""python -m pyserini_dr.prebuilt list | fetch NAME | build NAME ... | publish NAME ...

Prebuilt indexes by name: list the registry, fetch an index into the cache (checksum-verified), build one
(encode or index a corpus, pack a tar.gz, checksums, entry) and publish it (the tarball where a web server serves
it, the entry with its urls in a registry directory).
"""
from __future__ import annotations

import os
import sys

from ..cli import ArgumentParser, options_from, run_main
from ..encode.options import EncoderOptions, add_encoder_args, build_encoder
from ..errors import InputError
from .registry import REPO_REGISTRY, check_name, load_registry


def add_build_parser(subparsers) -> None:
    p = subparsers.add_parser("build", help="build NAME.tar.gz and its entry NAME.yaml in --output-dir")
    p.add_argument("name", help="index name (a registry entry of that name gives the defaults)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--corpus", help="BEIR corpus.jsonl or JsonCollection jsonl (.gz too)")
    source.add_argument("--dataset", help="dataset name, e.g. beir-v1.0.0-scifact (default: the entry's corpus)")
    source.add_argument("--from-index", metavar="DIR", help="pack a finished index directory instead")
    p.add_argument("--lucene", action="store_true", help="a Lucene BM25 index (default: dense)")
    p.add_argument("--fields", action="store_true", help="Lucene multifield: title and text indexed separately")
    p.add_argument("--factory", default="Flat", help="faiss index-factory string for a dense index (Flat, HNSW32 ...)")
    p.add_argument("--description", help="entry description (default: the entry's, else generated)")
    p.add_argument("--output-dir", required=True, help="where the index, the tarball and NAME.yaml are written")
    add_encoder_args(p, defaults_from_index=True)


def build_command(args) -> None:
    from ..data.registry import resolve_corpus
    from .build import build, encode_corpus, index_lucene

    check_name(args.name)  # before anything is written to OUTPUT_DIR/NAME
    known = load_registry().get(args.name)
    template = known.info if known is not None and known.name == args.name else {}
    index_dir = os.path.join(args.output_dir, args.name)
    if args.from_index and args.factory == "Flat":
        index_dir = args.from_index
    elif args.from_index:
        from ..index.faiss_builder import build_index
        build_index(args.from_index, index_dir, args.factory)
    else:
        source = args.dataset or args.corpus or template.get("corpus")
        if not source:
            raise InputError(f"{args.name} is not in the registry: give --corpus, --dataset or --from-index")
        corpus = resolve_corpus(source)
        if os.path.exists(os.path.join(index_dir, "meta.json")):
            raise InputError(f"{index_dir} already holds a finished index: pack it with --from-index {index_dir}, "
                             "or remove it")
        if args.lucene:
            index_lucene(corpus, index_dir, multifield=args.fields)
        else:
            options = options_from(args, EncoderOptions)
            options.encoder = options.encoder or template.get("model")
            options.encoder_class = options.encoder_class or template.get("encoder", {}).get("encoder_class")
            if not options.encoder:
                raise InputError("give --encoder (a model name or checkpoint directory)")
            encode_corpus(corpus, index_dir, build_encoder(options, corpus=True), corpus_name=source,
                          factory=args.factory)
    entry, path = build(args.name, index_dir, args.output_dir, lucene=args.lucene, template=template,
                        corpus=args.dataset, description=args.description)
    print(f"built {args.name}: {entry['documents']:,} documents, {entry['size']:,} bytes, md5 {entry['md5']} -> "
          f"{os.path.join(args.output_dir, entry['filename'])}; entry {path}", file=sys.stderr)


def publish_command(args) -> None:
    from .build import publish

    entry, path = publish(args.name, args.build_dir, args.to, args.base_url, args.registry)
    print(f"published {args.name} -> {os.path.join(args.to, entry['filename'])}; entry with "
          f"{len(entry['urls'])} url(s) -> {path}", file=sys.stderr)


def list_command(_args) -> None:
    entries = {e.name: e for e in load_registry().values()}
    for name in sorted(entries):
        info = entries[name].info
        status = "download" if info["urls"] else "recipe only"
        print(f"{name}\t{info['type']}\t{info['documents']:,} docs\t{status}\t{info['description']}")


def fetch_command(args) -> None:
    from .fetch import fetch
    from .registry import lookup

    print(fetch(lookup(args.name)))


def main(argv=None) -> int:
    parser = ArgumentParser(prog="python -m pyserini_dr.prebuilt", description=__doc__.split("\n\n")[1])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the registry's indexes").set_defaults(run=list_command)
    fetch = sub.add_parser("fetch", help="download, verify and unpack NAME into the cache; print its directory")
    fetch.add_argument("name")
    fetch.set_defaults(run=fetch_command)
    add_build_parser(sub)
    sub.choices["build"].set_defaults(run=build_command)
    publish = sub.add_parser("publish", help="copy a built tarball to --to and record its entry with urls")
    publish.add_argument("name")
    publish.add_argument("--from", dest="build_dir", required=True, metavar="DIR", help="the build's --output-dir")
    publish.add_argument("--to", required=True, metavar="DIR", help="directory a web server serves")
    publish.add_argument("--base-url", required=True, nargs="+", action="extend", metavar="URL",
                         help="URL(s) of --to, mirrors in the order to try")
    publish.add_argument("--registry", default=str(REPO_REGISTRY), metavar="DIR",
                         help="registry directory to record the entry in (default: the repository's prebuilt/)")
    publish.set_defaults(run=publish_command)
    args = parser.parse_args(argv)
    args.run(args)
    return 0


if __name__ == "__main__":
    run_main(main)
