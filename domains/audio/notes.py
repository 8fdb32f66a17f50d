"""``multigen data prepare notes``: NSynth-like single notes rendered with ``fluidsynth`` and
a General-MIDI soundfont (Debian: ``apt-get install fluidsynth fluid-soundfont-gm``, or the
small ``timgm6mb-soundfont``).

Each note is one GM program (instrument) playing one MIDI pitch at one velocity for 3 s of
a 4-s clip (16 kHz mono, as NSynth). Classes are instrument families (NSynth-like names);
instruments, not notes, are split 80/10/10 into train/valid/test, as NSynth's test set
holds unheard instruments. Layout: ``<out>/<split>/<family>/<program>_<pitch>_<vel>.wav``,
readable by the ``folder`` loader and by the ``notes`` data set.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from multigen.domain import DomainError

from .io import read_audio, resample, write_wav

INSTALL_HINT = (
    "install it with `apt-get install fluidsynth fluid-soundfont-gm` (Debian/Ubuntu; "
    "`timgm6mb-soundfont` is a 6 MB alternative) or `brew install fluid-synth`, or pass "
    "soundfont=PATH.sf2"
)
SOUNDFONTS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "/usr/share/soundfonts/default.sf2",
)
# NSynth-like families -> GM programs (0-based)
FAMILIES = {
    "keyboard": (0, 1, 2, 4, 5, 6),
    "mallet": (8, 9, 11, 12, 13),
    "organ": (16, 17, 18, 19, 20),
    "guitar": (24, 25, 26, 27, 28),
    "bass": (32, 33, 34, 35, 38),
    "string": (40, 41, 42, 48, 49),
    "brass": (56, 57, 58, 60, 61),
    "reed": (64, 65, 66, 68, 71),
    "flute": (72, 73, 74, 75, 79),
    "synth_lead": (80, 81, 82, 84, 87),
}


def find_tools(soundfont: str | Path | None = None) -> tuple[str, Path]:
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise DomainError(f"notes needs the program `fluidsynth`, which was not found; "
                          f"{INSTALL_HINT}")  # fmt: skip
    candidates = [Path(soundfont)] if soundfont else [Path(p) for p in SOUNDFONTS]
    for sf in candidates:
        if sf.is_file():
            return exe, sf
    raise DomainError(f"notes needs a General-MIDI soundfont (.sf2); none found at "
                      f"{', '.join(map(str, candidates))}; {INSTALL_HINT}")  # fmt: skip


def note_midi(program: int, pitch: int, velocity: int, seconds: float = 3.0) -> bytes:
    """A one-note Standard MIDI File (format 0, 480 ticks per quarter at 120 bpm)."""
    ticks = int(seconds * 960)  # 120 bpm: 960 ticks per second

    def vlq(n: int) -> bytes:
        out = [n & 0x7F]
        while n > 127:
            n >>= 7
            out.append(0x80 | (n & 0x7F))
        return bytes(reversed(out))

    events = (b"\x00\xc0" + bytes([program]) + b"\x00\x90" + bytes([pitch, velocity])
              + vlq(ticks) + b"\x80" + bytes([pitch, 0]) + vlq(960) + b"\xff\x2f\x00")  # fmt: skip
    return (b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480)
            + b"MTrk" + struct.pack(">I", len(events)) + events)  # fmt: skip


def split_of(index: int) -> str:
    return "valid" if index % 10 == 8 else "test" if index % 10 == 9 else "train"


def prepare(
    out_dir: Path | None = None,
    *,
    pitches: tuple[int, ...] = tuple(range(36, 85, 4)),
    velocities: tuple[int, ...] = (75, 127),
    sample_rate: int = 16000,
    length: int = 64000,
    soundfont: str | Path | None = None,
    families: dict[str, tuple[int, ...]] | None = None,
    workers: int = 4,
) -> Path:
    """Render the set under ``out_dir`` (default ``$MULTIGEN_CACHE/data/notes``, i.e.
    ``~/.cache/multigen/data/notes``); returns it. Re-running overwrites the files."""
    from .data import default_data_dir

    exe, sf = find_tools(soundfont)
    out_dir = Path(out_dir) if out_dir is not None else default_data_dir() / "notes"
    families = FAMILIES if families is None else families
    instruments = [(fam, prog) for fam, progs in families.items() for prog in progs]
    jobs = [(i, fam, prog, p, v) for i, (fam, prog) in enumerate(instruments)
            for p in pitches for v in velocities]  # fmt: skip
    counts = {s: 0 for s in ("train", "valid", "test")}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)

        def render(job: tuple[int, str, int, int, int]) -> tuple[str, Path, Path]:
            i, fam, prog, pitch, vel = job
            name = f"{prog:03d}_{pitch:03d}_{vel:03d}"
            mid, wav = tmp / f"{name}.mid", tmp / f"{name}.wav"
            mid.write_bytes(note_midi(prog, pitch, vel))
            cmd = [exe, "-ni", "-g", "1.0", "-r", "44100", "-F", str(wav), str(sf), str(mid)]
            subprocess.run(cmd, capture_output=True, check=True, timeout=60)
            split = split_of(i)
            return split, out_dir / split / fam / f"{name}.wav", wav

        with ThreadPoolExecutor(workers) as pool:
            results = list(pool.map(render, jobs))
        for split, dest, raw in results:
            data, rate = read_audio(raw)
            wave = resample(torch.from_numpy(data).mean(0), rate, sample_rate)[:length]
            if float(wave.abs().max()) < 1e-4:  # outside the instrument's range: silent
                continue
            out = np.zeros(length, dtype=np.float32)
            out[: len(wave)] = (wave / wave.abs().max().clamp_min(1e-8) * 0.9).numpy()
            write_wav(dest, out, sample_rate)
            counts[split] += 1
    meta = {"instruments": len(instruments), "clips": counts, "sample_rate": sample_rate,
            "length": length, "pitches": list(pitches), "velocities": list(velocities),
            "soundfont": sf.name, "families": list(families)}  # fmt: skip
    (out_dir / "README.json").write_text(json.dumps(meta, indent=1))
    return out_dir
