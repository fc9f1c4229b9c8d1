"""The reproduction runner: tiny matrices whose commands copy a fixed run, scored against hand-computed values."""
from __future__ import annotations

import math
from pathlib import Path

import pytest

from pyserini_dr.errors import InputError
from pyserini_dr.eval.matrix import load_matrix

REPO = Path(__file__).resolve().parents[1]

# q1: the relevant d1 at rank 1; q2: the relevant d2 at rank 2 -> nDCG@10 (1 + 1/log2(3)) / 2, MRR 0.75, R@10 1
QRELS = "q1 0 d1 1\nq2 0 d2 1\n"
RUN = "q1 Q0 d1 1 2.0 t\nq1 Q0 d3 2 1.0 t\nq2 Q0 d3 1 2.0 t\nq2 Q0 d2 2 1.0 t\n"
NDCG = (1 + 1 / math.log2(3)) / 2   # 0.81546...
COPY = 'python -c "import shutil, sys; shutil.copy(sys.argv[1], sys.argv[2])" {run} {{output}}'


@pytest.fixture
def files(tmp_path):
    (tmp_path / "qrels.txt").write_text(QRELS)
    (tmp_path / "run.txt").write_text(RUN)
    return tmp_path


def matrix(tmp_path: Path, conditions: str, name: str = "tiny") -> Path:
    text = f"name: Tiny matrix\nqrels: {tmp_path / 'qrels.txt'}\nconditions:\n{conditions}"
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


def copy_condition(tmp_path: Path, name: str, ndcg: float = 0.8155, extra: str = "") -> str:
    return (f"  - name: {name}\n    display: Copy {name}\n    command: '{COPY.format(run=tmp_path / 'run.txt')}'\n"
            f"{extra}"
            f"    eval:\n      - {{metric: ndcg_cut.10, expected: {ndcg}}}\n"
            f"      - {{metric: recip_rank, expected: 0.75, tolerance: 0.0001}}\n"
            f"      - {{metric: recall.10, expected: 1.0}}\n")


def reproduce(cli, tmp_path, path, *args):
    return cli("pyserini_dr.eval.reproduce", path, "--work", tmp_path / "work", "--output-md", tmp_path / "t.md",
               "--output-html", tmp_path / "t.html", *args)


def test_green(cli, files):
    path = matrix(files, copy_condition(files, "a") + copy_condition(files, "b"))
    r = reproduce(cli, files, path)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout.splitlines()
    assert out[1] == "[1/2] a ..."
    assert out[2].startswith(f"[1/2] a: nDCG@10 {NDCG:.4f} (OK, expected 0.8155), MRR 0.7500 (OK, expected 0.7500), "
                             "R@10 1.0000 (OK, expected 1.0000) in ")
    assert out[-2].startswith("GREEN: 6/6 scores OK; 2 conditions in ")
    assert (files / "work" / "runs" / "a.txt").read_text() == RUN
    md = (files / "t.md").read_text()
    assert md.startswith("# Tiny matrix\n\nGREEN: 6/6 scores OK")
    assert "| condition | metric | expected | got | delta | tolerance | status | time |" in md
    assert f"| Copy a | nDCG@10 | 0.8155 | {NDCG:.4f} | +0.0000 | 0.0005 | OK |" in md
    assert "|  | MRR | 0.7500 | 0.7500 | +0.0000 | 0.0001 | OK |" in md
    assert "DRIFT" not in md and "FAILED" not in md
    page = (files / "t.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<td>Copy b</td><td>nDCG@10</td>" in page
    assert f'<td class="n">{NDCG:.4f}</td>' in page and ">OK</td>" in page


def test_published_figures_in_every_table(cli, files):
    published = "    published: {source: The paper, values: {ndcg_cut.10: 0.81, recall.10: 1.0}}\n"
    path = matrix(files, copy_condition(files, "a", extra=published) + copy_condition(files, "b"))
    r = reproduce(cli, files, path)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout.splitlines()
    table = out[out.index("Tiny matrix; trec_eval -c") + 1:-3]
    assert [c.strip() for c in table[0].strip("|").split("|")] == [
        "condition", "nDCG@10", "MRR", "R@10", "published nDCG@10", "published R@10", "source", "status", "time"]
    assert [c.strip() for c in table[2].strip("|").split("|")][:8] == [
        "Copy a", f"{NDCG:.4f}", "0.7500", "1.0000", "0.8100", "1.0000", "The paper", "OK"]
    assert [c.strip() for c in table[3].strip("|").split("|")][4:8] == ["-", "-", "-", "OK"]
    md = (files / "t.md").read_text()
    assert "| condition | metric | expected | got | delta | tolerance | status | time | published | source |" in md
    assert f"| Copy a | nDCG@10 | 0.8155 | {NDCG:.4f} | +0.0000 | 0.0005 | OK |" in md
    assert "| 0.8100 | The paper |" in md and "|  | MRR | 0.7500 | 0.7500 | +0.0000 | 0.0001 | OK |  | - |  |" in md
    page = (files / "t.html").read_text()
    assert "<th>published</th><th>source</th>" in page and '<td class="n">0.8100</td><td>The paper</td>' in page


def test_default_table_paths_and_work(cli, files):
    path = matrix(files, copy_condition(files, "a"), name="mini")
    r = cli("pyserini_dr.eval.reproduce", path, cwd=files)
    assert r.returncode == 0, r.stderr
    assert (files / "results" / "mini.md").is_file() and (files / "results" / "mini.html").is_file()
    assert (files / "work" / "mini" / "runs" / "a.txt").is_file()
    assert r.stdout.splitlines()[-1] == f"tables: {files / 'results' / 'mini.md'}, {files / 'results' / 'mini.html'}"


def test_drift_exits_1(cli, files):
    path = matrix(files, copy_condition(files, "a") + copy_condition(files, "b", ndcg=0.9))
    r = reproduce(cli, files, path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    assert f"nDCG@10 {NDCG:.4f} (DRIFT, expected 0.9000)" in r.stdout
    assert r.stdout.splitlines()[-2].startswith("RED: 5/6 scores OK, 1 drifted; 2 conditions")
    md = (files / "t.md").read_text()
    assert f"| Copy b | nDCG@10 | 0.9000 | {NDCG:.4f} | -0.0845 | 0.0005 | **DRIFT** |" in md
    assert f"| Copy a | nDCG@10 | 0.8155 | {NDCG:.4f} |" in md
    assert ">DRIFT</td>" in (files / "t.html").read_text()


def test_failing_command_exits_1_and_still_writes_tables(cli, files):
    failing = ("  - name: broken\n    command: python -c \"import sys; sys.exit(3)\" {output}\n"
               "    eval:\n      - {metric: map, expected: 0.5}\n")
    silent = ("  - name: silent\n    command: python -c pass {output}\n"
              "    eval:\n      - {metric: map, expected: 0.5}\n")
    path = matrix(files, failing + copy_condition(files, "a") + silent)
    r = reproduce(cli, files, path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "[1/3] broken: FAILED in" in r.stdout and "command failed (exit 3)" in r.stdout
    assert "[3/3] silent: FAILED" in r.stdout and "wrote no run file" in r.stdout
    assert r.stdout.splitlines()[-2].startswith("RED: 3/5 scores OK, 2 condition(s) failed; 3 conditions")
    md = (files / "t.md").read_text()
    assert "| broken | MAP | 0.5000 | - | - | 0.0005 | **FAILED** |" in md
    assert f"| Copy a | nDCG@10 | 0.8155 | {NDCG:.4f} |" in md   # the good condition was still run and scored
    assert "- broken: command failed (exit 3): " in md


def test_prepare_steps_skip_what_exists(cli, files):
    marker, log = files / "work" / "built", files / "log.txt"
    (files / "step.py").write_text("import pathlib, sys\npathlib.Path(sys.argv[1]).write_text('x')\n"
                                   "open(sys.argv[2], 'a').write('built\\n')\n")
    step = (f"    prepare:\n      - command: python {files / 'step.py'} {{work}}/built {log}\n"
            f"        creates: \"{{work}}/built\"\n")
    path = matrix(files, copy_condition(files, "a", extra=step))
    first = reproduce(cli, files, path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert marker.is_file() and log.read_text() == "built\n"
    second = reproduce(cli, files, path)
    assert second.returncode == 0, second.stderr
    assert log.read_text() == "built\n"          # the step did not run again
    assert "(reused built)" in second.stdout
    assert f"Prepare steps skipped because their output existed (`creates`):\n\n- Copy a: `{marker}`\n" in \
        (files / "t.md").read_text()


def test_stale_run_is_removed_before_the_command(cli, files):
    stale = files / "work" / "runs" / "a.txt"
    stale.parent.mkdir(parents=True)
    stale.write_text(RUN)
    path = matrix(files, "  - name: a\n    command: python -c pass {output}\n"
                         "    eval:\n      - {metric: map, expected: 0.5}\n")
    r = reproduce(cli, files, path)
    assert r.returncode == 1 and "wrote no run file" in r.stdout and not stale.exists()


def test_only(cli, files):
    path = matrix(files, copy_condition(files, "a") + copy_condition(files, "b", ndcg=0.9))
    r = cli("pyserini_dr.eval.reproduce", path, "--work", files / "work", "--only", "a")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "[1/1] a" in r.stdout and " b " not in r.stdout
    assert not (files / "results").exists()    # a partial run writes tables only where asked
    err = cli("pyserini_dr.eval.reproduce", path, "--only", "zzz").error_line()
    assert err == f"error: {path}: no condition 'zzz' (conditions: a, b)"


MALFORMED = {
    "missing-eval": ("  - name: a\n    command: python x {output}\n", "conditions[0]: missing key 'eval'"),
    "unknown-key": ("  - name: a\n    command: python x {output}\n    evals: []\n",
                    "conditions[0].evals: unknown key"),
    "bad-metric": ("  - name: a\n    command: python x {output}\n    eval:\n      - {metric: bpref, expected: 1}\n",
                   "conditions[0].eval[0].metric: unsupported measure 'bpref'"),
    "expected-not-number": ("  - name: a\n    command: python x {output}\n    eval:\n"
                            "      - {metric: map, expected: high}\n",
                            "conditions[0].eval[0].expected: expected a number, found str 'high'"),
    "no-output": ("  - name: a\n    command: python x\n    eval:\n      - {metric: map, expected: 1}\n",
                  "conditions[0].command: never writes {output}"),
    "unquoted-brace": ("  - name: a\n    prepare:\n      - {command: python x, creates: {work}}\n"
                       "    command: python x {output}\n    eval:\n      - {metric: map, expected: 1}\n",
                       "conditions[0].prepare[0].creates: YAML read {...} as a mapping: quote values"),
    "duplicate-name": ("  - name: a\n    command: python x {output}\n    eval:\n      - {metric: map, expected: 1}\n"
                       "  - name: a\n    command: python x {output}\n    eval:\n      - {metric: map, expected: 1}\n",
                       "conditions[1].name: duplicate condition name 'a'"),
    "bad-yaml": ("  - name: a\n   command: [\n", "not valid YAML"),
    "published-unknown-metric": ("  - name: a\n    command: python x {output}\n    eval:\n"
                                 "      - {metric: map, expected: 1}\n"
                                 "    published: {source: paper, values: {recall.100: 0.9}}\n",
                                 "conditions[0].published.values.recall.100: not one of this condition's eval "
                                 "metrics (map)"),
    "published-no-source": ("  - name: a\n    command: python x {output}\n    eval:\n"
                            "      - {metric: map, expected: 1}\n    published: {values: {map: 0.9}}\n",
                            "conditions[0].published: missing key 'source'"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_matrix_exits_2_before_running(cli, files, case):
    conditions, message = MALFORMED[case]
    path = matrix(files, conditions)
    err = reproduce(cli, files, path).error_line()
    assert err.startswith(f"error: {path}") and message in err, err
    assert not (files / "work").exists() and not (files / "t.md").exists()


def test_missing_top_level_keys(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("conditions: []\n")
    with pytest.raises(InputError, match=r"m.yaml: top level: missing key 'name'"):
        load_matrix(str(path))
    path.write_text("name: x\nconditions: []\n")
    with pytest.raises(InputError, match=r"m.yaml: conditions: expected a non-empty list, found a list"):
        load_matrix(str(path))


@pytest.mark.parametrize("name", ["scifact", "cranfield"])
def test_shipped_matrices_are_valid(name):
    m = load_matrix(str(REPO / "eval" / f"{name}.yaml"))
    assert m.conditions and all(c.metrics for c in m.conditions)
    assert {"bm25-flat"} <= {c.name for c in m.conditions}
    for c in m.conditions:
        assert all(m.tolerance == 0.0005 for m in c.metrics)
        assert c.command.startswith("python -m pyserini_dr.")


def test_unknown_qrels_exits_2_before_running(cli, files):
    path = files / "q.yaml"
    path.write_text("name: x\nqrels: no-such-qrels\nconditions:\n  - name: a\n    command: python -c pass {output}\n"
                    "    eval:\n      - {metric: map, expected: 1}\n")
    err = reproduce(cli, files, path).error_line()
    assert err.startswith(f"error: {path}: condition 'a': qrels: unknown qrels 'no-such-qrels'"), err
    assert not (files / "work").exists()


def test_scifact_matrix_gives_the_published_figures():
    """The main job (scripts/main.sh runs eval/scifact.yaml) prints these beside its own scores."""
    m = load_matrix(str(REPO / "eval" / "scifact.yaml"))
    published = {c.name: (c.published.source, c.published.values) for c in m.conditions if c.published}
    assert published == {
        "bm25-flat": ("Pyserini BEIR regression", {"ndcg_cut.10": 0.6789, "recall.100": 0.9253}),
        "bm25-multifield": ("Pyserini BEIR regression", {"ndcg_cut.10": 0.6647, "recall.100": 0.9076}),
        "minilm": ("MTEB (nDCG@10 64.51)", {"ndcg_cut.10": 0.6451}),
    }
    hybrid = next(c for c in m.conditions if c.name == "hybrid")
    assert "--alpha 0.04" in hybrid.command and "pyserini_dr.search.hybrid.tune" in hybrid.display
