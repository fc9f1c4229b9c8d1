#!/usr/bin/env bash
# Set up the project on a fresh machine: a virtual environment (.venv, or $PYSERINI_DR_VENV) with everything
# pyserini-dr needs. Safe to rerun: an existing environment is only brought up to date.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${PYSERINI_DR_VENV:-.venv}
python=${PYTHON:-$(command -v python3.11 || command -v python3)}
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)
# torch first, pinned to the CPU build that lies on disk here: any other version would pull a multi-GB CUDA build
"${pip[@]}" install "torch==${PYSERINI_DR_TORCH:-2.13.0}"
"${pip[@]}" install -e ".[test]"
# an editable install leaves out the wheel's pyserini_dr_java.pth, which lets pyserini's own commands start here
"$venv/bin/python" -m pyserini_dr.java_setup --install-pth >/dev/null
echo "environment ready: $venv ($("$venv/bin/python" --version))"
