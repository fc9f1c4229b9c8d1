"""python -m pyserini_dr.java_setup [--install-pth]: make pyserini's own commands start in this environment."""
from __future__ import annotations

import argparse
import sys

from . import hook_active, install_pth


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyserini_dr.java_setup", description=__doc__.split(": ")[1])
    parser.add_argument("--install-pth", action="store_true",
                        help="write pyserini_dr_java.pth into this environment's site-packages")
    args = parser.parse_args(argv)
    if args.install_pth:
        print(f"installed {install_pth()}")
    print(f"start-up hook active in this process: {'yes' if hook_active() else 'no'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
