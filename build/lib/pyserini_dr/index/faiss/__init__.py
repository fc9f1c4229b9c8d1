"""``python -m pyserini_dr.index.faiss``: build, convert and merge faiss indexes (see faiss_builder)."""
