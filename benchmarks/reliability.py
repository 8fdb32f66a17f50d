"""Reliability figures (issue 19): inputs tried per reader and what they found, kill -9 trials
survived, and the defects the campaign found and fixed.

Fuzzing uses the same contract, readers and strategies as ``tests/fuzz`` (each case under a
30 s alarm and a 3 GiB address-space cap; a violation is recorded, not raised, so every
example counts). Kill trials use the helpers of ``tests/train/test_faults.py``: a 150-step run
with a checkpoint every step, SIGKILL at a seeded random moment, resume, compare with an
uninterrupted run bit for bit.

    .venv/bin/python benchmarks/reliability.py                  # ~15 min on 2 cores
    .venv/bin/python benchmarks/reliability.py --examples 50 --kills 3    # a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MULTIGEN_CACHE", str(ROOT / ".cache"))

import torch  # noqa: E402
from hypothesis import given, settings  # noqa: E402

from benchmarks.common import RESULTS, write_results  # noqa: E402
from tests.fuzz.harness import Tally, Violation, check  # noqa: E402
from tests.fuzz.readers import READERS, seed_bytes, write_case  # noqa: E402
from tests.fuzz.strategies import FAST, broken_file  # noqa: E402
from tests.fuzz.test_fuzz_runs import (  # noqa: E402
    SET_STRINGS,
    TARGETS,
    checkpoint_case,
    seed_of,
    set_case,
)
from tests.train import test_faults as faults  # noqa: E402

# Defects this campaign found (fuzzing or trying the suite as a new user would), all fixed;
# each has a regression test (tests/fuzz/test_regressions.py unless named).
DEFECTS = [
    ("images/npy, toy/npy", "empty or truncated .npy: EOFError traceback"),
    ("images/npz, shapes/npz", "corrupt .npz (bad zip, CRC): BadZipFile traceback"),
    ("all .npy/.npz", "a header declaring a huge shape was allocated before reading"),
    ("toy/csv, molecules/xyz+smiles+csv, configs", "non-UTF-8 bytes: UnicodeDecodeError"),
    ("toy/csv", "header-only CSV: reshape ValueError"),
    ("configs, state.pt", "multi-line YAML / torch.load messages (not one line)"),
    ("molecules/xyz, molecules/sdf", "NaN/inf coordinates read as a molecule, silently"),
    ("molecules/xyz", "unknown element: RDKit RuntimeError traceback"),
    ("molecules/sdf", "non-UTF-8 title line: UnicodeDecodeError"),
    ("shapes meshes", "faces indexing missing vertices / not triangles: IndexError"),
    ("shapes meshes", "coordinates beyond float32 (1e100): inf points sampled"),
    ("--set", "invalid YAML value or empty key part: YAML traceback"),
    ("--set", "a key with a control character (NEL, FF) split the one-line error"),
    ("configs, --set", "train.lr=.inf / 1e999 / NaN accepted"),
    ("meta.json", "not UTF-8, missing config/info/step: traceback"),
    ("meta.json", "a model that cannot be built (NaN/-1/1e10 sizes): traceback or OOM"),
    ("networks", "an absurd size (width 1e10) tried to allocate 80 GB"),
    ("evaluate (toy)", "all-NaN samples: NaN metrics with status 0 (tests/metrics/test_checks)"),
    ("toy metrics", "mode_kl = +inf with no sample near a mode (tests/domains/toy)"),
    ("train", "two trainers on one --out both ran (tests/train/test_lock.py)"),
    ("checkpoints", "ENOSPC: OSError traceback; killed writes left .tmp_ folders (test_faults)"),
    ("demo --domain", "a path like ../x was joined into configs/ (tests/test_security.py)"),
    ("shapes folders", "a non-UTF-8 file name: UnicodeEncodeError (tests/fuzz/test_folder_shapes)"),
    ("molecules/sdf", "a non-UTF-8 file name: RDKit could not open it (test_folder_shapes)"),
    # found by the 3,000-per-reader run of 2026-12-02 (evening) and the new readers
    ("shapes/obj", "a 'v' line with two numbers: reshape ValueError when sampled"),
    ("molecules/xyz", "an atomic number beyond 118: RDKit OverflowError traceback"),
    ("molecules/xyz", "an unknown element: RDKit printed a C++ stack trace to stderr"),
    ("molecules/csv", "control characters in the column names split the one-line error"),
    ("data.params", "a misspelt key: TypeError traceback (tests/test_user_data.py)"),
    ("evaluate --option", "a value that is not YAML: YAML traceback (tests/test_cli.py)"),
    ("meta.json", "an Infinity in the data description: OverflowError traceback"),
    ("molecules/qm9pack-csv", "a part with no rows: the error named the folder, not the part"),
    ("audio/flac", "STREAMINFO declaring 2^36 samples: 45 GiB allocated before decoding"),
]


def fuzz(examples: int, only: list[str] | None = None) -> tuple[list[dict], Tally]:
    tally = Tally()
    profile = settings(FAST, max_examples=examples, derandomize=False)

    def record(name: str, case, data) -> None:
        try:
            tally.add(name, case())
        except Violation as exc:
            tally.fail(name, str(exc)[:200])
            # the whole input goes to the console so that a hang can be replayed
            print(f"{name} violation: {exc}\n  input: {data!r}", flush=True)

    def reader_fuzz(reader):
        @profile
        @given(data=broken_file(seed_bytes(reader.name), reader.text))
        def run(data):
            with tempfile.TemporaryDirectory() as d:
                path = write_case(Path(d), reader, data)
                record(reader.name, lambda: check(reader.read, path, reader.names), data)

        run()

    def report(name: str) -> None:
        print(name, dict(tally.counts.get(name, {})), flush=True)
        for message in tally.failures.get(name, [])[:3]:
            print(f"  violation: {message}", flush=True)

    wanted = (lambda name: any(name.startswith(o) for o in only)) if only else (lambda name: True)
    for reader in READERS:
        if wanted(reader.name):
            reader_fuzz(reader)
            report(reader.name)

    @profile
    @given(assignment=SET_STRINGS)
    def sets(assignment):
        record("config/--set", lambda: set_case(assignment), assignment)

    if wanted("config/--set"):
        sets()
        report("config/--set")

    def checkpoint_fuzz(target):
        @profile
        @given(data=broken_file(seed_of(target), target == "meta.json"))
        def ck(data):
            record(f"checkpoint/{target}", lambda: checkpoint_case(target, data), data)

        ck()

    for target in TARGETS:
        if wanted(f"checkpoint/{target}"):
            checkpoint_fuzz(target)
            report(f"checkpoint/{target}")
    rows = []
    for name, counts in tally.counts.items():
        rows.append(
            {
                "reader": name,
                "inputs": sum(counts.values()),
                "read": counts.get("ok", 0),
                "refused (one line, names the file)": counts.get("refused", 0),
                "violations": counts.get("violation", 0),
            }
        )
    return rows, tally


def kills(trials: int, seed: int = 19) -> dict:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        config = faults.write_config(tmp / "c.yaml", steps=faults.KILL_STEPS)
        first, span = faults.reference_run(config, tmp / "ref")
        expected = faults.final_weights(tmp / "ref")
        rng = random.Random(seed)
        survived, landed = 0, []
        for trial in range(trials):
            run = tmp / f"t{trial}"
            try:
                where = faults.kill_and_resume(config, run, rng.uniform(0.8 * first, span))
                got = faults.final_weights(run)
                same = got.keys() == expected.keys() and all(
                    torch.equal(got[k], expected[k]) for k in expected
                )
                clean = not faults.leftovers(run) and (run / "metrics.json").is_file()
                survived += int(same and clean)
                landed.append(where + ("" if same and clean else " FAILED"))
            except AssertionError as exc:
                landed.append(f"FAILED: {str(exc)[:200]}")
            print(f"kill trial {trial}: {landed[-1]}", flush=True)
            shutil.rmtree(run, ignore_errors=True)
        return {
            "trials": trials,
            "survived": survived,
            "first_checkpoint_s": first,
            "run_seconds": span,
            "landed": landed,
        }


GLOO = (
    "gloo SIGABRT (tests/train/test_distributed.py): seen in 2 of 3 full-suite runs on Nov 27, "
    "before the worker gained a barrier before teardown; not seen since in 146 launches (86 "
    "ordinary, 60 made to provoke it without the barrier or destroy_process_group, under "
    "load). With no failing run there is no stack to read, so the cause stays unconfirmed; "
    "the test keeps the evidence (stderr with the faulthandler stack to ABORT_LOG) and "
    "retries once."
)


def soak_summary() -> str:
    """The soak's figures (benchmarks/results/soak.json, written by benchmarks.soak)."""
    path = RESULTS / "soak.json"
    if not path.is_file():
        return "Soak: not run yet (python -m benchmarks.soak)."
    s = json.loads(path.read_text())
    return (
        f"Soak (benchmarks/results/soak.md, {s['machine']['date']}): {s['cycles']} "
        f"train-sample-evaluate cycles over {', '.join(s['domains'])} in "
        f"{s['minutes']:.0f} min in one process; resident memory slope "
        f"{s['rss_slope_mib_per_hour']:+.0f} MiB/hour after minute 5, open file handles "
        f"{s['fd_slope_per_hour']:+.2f}/hour, temporary files or locks left: {len(s['leftovers'])}."
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--examples", type=int, default=300, help="fuzz inputs per reader")
    p.add_argument("--kills", type=int, default=20, help="kill -9 trials")
    p.add_argument(
        "--only", nargs="+", help="fuzz only these readers (name prefixes); records nothing"
    )
    args = p.parse_args()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    if args.only:  # a look at some readers (finding and fixing), not a record
        fuzz(args.examples, args.only)
        return
    rows, tally = fuzz(args.examples)
    kill = kills(args.kills)
    total = sum(r["inputs"] for r in rows)
    notes = "\n".join(
        [
            f"Fuzzing: {total} inputs over {len(rows)} readers ({args.examples} asked per "
            "reader; Hypothesis stops early when a small input space is exhausted). Contract: "
            "finite data, or one line naming the file (status 2 from the CLI); each case under "
            "a 30 s alarm and a 3 GiB address-space cap. Checkpoint rows load a real tiny run's "
            "folder with one file mutated (state.pt through load_state, the others through "
            "load_run).",
            "",
            f"kill -9 trials: {kill['survived']}/{kill['trials']} resumed to weights equal to "
            f"the uninterrupted run ({faults.KILL_STEPS} steps, a checkpoint every step, kill at a "
            "random moment "
            f"between 0.8x the first checkpoint ({kill['first_checkpoint_s']:.1f} s) and the "
            f"end ({kill['run_seconds']:.1f} s): steps, checkpoint writes and pruning, final "
            "sampling and scoring), finished scoring, and left no temporary files or lock. "
            "Where each kill landed (the newest finished checkpoint at that moment) is in the "
            "JSON.",
            "",
            "Folders as users have them (tests/fuzz/test_folder_shapes.py, 27 cases, in the "
            "default test run): every folder reader (images, audio, shape points and meshes as "
            "samples and as datasets, molecule samples) given an empty folder, a symlink loop, "
            "or 250-byte and non-UTF-8 file names: one line naming the empty folder, no hang "
            "and no double read in a loop, and all names read.",
            "",
            f"Defects found by the campaign and fixed ({len(DEFECTS)}), each with a "
            "regression test:",
            "",
            *[f"- {where}: {what}" for where, what in DEFECTS],
            "",
            soak_summary(),
            "",
            GLOO,
            "",
            f"Whole run: {time.perf_counter() - t0:.0f} s.",
        ]
    )
    write_results(
        "reliability",
        {
            "fuzz": rows,
            "violations": tally.failures,
            "kills": kill,
            "defects_fixed": [{"where": w, "what": x} for w, x in DEFECTS],
        },
        rows,
        "Reliability: fuzzing, kill -9 trials, defects fixed",
        notes,
    )
    print(f"wrote benchmarks/results/reliability.{{json,md}}: {total} inputs, kills {kill}")


if __name__ == "__main__":
    main()
