import shutil
from pathlib import Path

import pytest

from multigen.domain import DomainError
from multigen_domains.audio import notes as N


def test_note_midi_is_a_valid_one_note_file():
    mid = N.note_midi(program=40, pitch=60, velocity=100, seconds=1.0)
    assert mid[:4] == b"MThd" and mid[14:18] == b"MTrk"
    track = mid[22:]
    assert int.from_bytes(mid[18:22], "big") == len(track)
    assert b"\xc0\x28" in track and b"\x90\x3c\x64" in track and b"\x80\x3c\x00" in track
    assert track.endswith(b"\xff\x2f\x00")


def test_missing_fluidsynth_or_soundfont_named(monkeypatch, tmp_path: Path):
    monkeypatch.setattr(N.shutil, "which", lambda name: None)
    with pytest.raises(DomainError, match="fluidsynth.*apt-get install fluidsynth"):
        N.find_tools()
    monkeypatch.setattr(N.shutil, "which", lambda name: "/usr/bin/fluidsynth")
    with pytest.raises(DomainError, match="soundfont.*nope.sf2"):
        N.find_tools(tmp_path / "nope.sf2")


@pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="fluidsynth not installed")
def test_prepare_renders_notes(tmp_path: Path):
    try:
        N.find_tools()
    except DomainError:
        pytest.skip("no GM soundfont installed")
    from multigen_domains.audio.data import notes

    fams = {"organ": (16,), "flute": (73,)}
    out = N.prepare(tmp_path, pitches=(60,), velocities=(100,), length=8000, families=fams)
    ds = notes(out, "train", length=8000)
    assert len(ds) == 2 and ds.class_names == ["flute", "organ"]
    assert 0.5 < float(ds.waves.abs().max()) <= 1
