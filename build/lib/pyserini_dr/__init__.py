"""pyserini-dr: dense retrieval on top of Pyserini.

Importing the package is cheap: no JVM, no pyserini, no torch. Each capability lives in its own subpackage
(data, encode, index, search, eval) and is imported where it is used.
"""
__version__ = "0.1.0"
