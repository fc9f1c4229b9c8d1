"""Search: lucene (BM25), faiss (dense, CPU/GPU backends) and hybrid; each with a Pyserini-like CLI."""
