import numpy as np
import pytest
import torch
import trimesh

from multigen.domain import Batch, DomainError
from multigen_domains.shapes import ShapeSamples, get_domain
from multigen_domains.shapes.io import write_ply


def test_describe_decode_undoes_global_normalisation(cache):
    dom = get_domain()
    ds = dom.load_dataset(
        "embedded", None, "train", classes=["chair", "table"], n_train=3, n_points=64
    )
    info = dom.describe(ds)
    assert info["shape"] == [64, 3] and info["num_classes"] == 0 and info["cond_dim"] == 0
    assert info["normalization"] == "global" and 0.5 < info["sigma_data"] < 1.5
    batch = dom.collate([ds[i] for i in range(len(ds))])
    assert batch.x.shape == (6, 64, 3) and batch.cond is None
    decoded = dom.decode(batch, info)
    np.testing.assert_allclose(decoded.points, ds.points, atol=1e-5)
    labelled = dom.load_dataset(
        "embedded", None, "train", classes=["chair", "table"], n_train=3, n_points=64, labels=True
    )
    info = dom.describe(labelled)
    assert info["num_classes"] == 2 and info["class_names"] == ["chair", "table"]
    assert dom.collate([labelled[0], labelled[5]]).cond.tolist() == [0, 1]


def test_noise_is_batch_size_invariant():
    dom = get_domain()
    info = {"shape": [32, 3]}
    gens = [torch.Generator().manual_seed(s) for s in (1, 2, 3)]
    t = dom.template(info, 3, gens[0])
    a = dom.noise(t, gens)
    b = dom.noise(dom.template(info, 1, gens[0]), [torch.Generator().manual_seed(2)])
    torch.testing.assert_close(a[1:2], b)


def test_export_and_load_round_trip(tmp_path, sphere_points):
    dom = get_domain()
    dom.mesh_exports = 1
    pts = np.stack([sphere_points[:256], 2 * sphere_points[:256]])
    files = dom.export(ShapeSamples(pts, np.array([0, 1])), tmp_path)
    names = {f.name for f in files}
    assert {"samples.npy", "labels.npy", "grid.png", "cloud_0000.ply", "mesh_0000.glb"} <= names
    assert trimesh.load(tmp_path / "meshes" / "mesh_0000.obj", force="mesh").is_watertight
    loaded = dom.load_samples(tmp_path)
    np.testing.assert_array_equal(loaded.points, pts)
    plys = dom.load_samples(tmp_path / "clouds")
    np.testing.assert_allclose(plys.points, pts)


def test_load_samples_bad_files_skipped_or_strict(tmp_path, sphere_points):
    dom = get_domain()
    write_ply(tmp_path / "good.ply", sphere_points)
    trimesh.creation.icosphere().export(tmp_path / "mesh.obj")  # meshes get surface-sampled
    (tmp_path / "bad.xyz").write_text("1 2\n")
    (tmp_path / "notes.docx").write_text("?")
    loaded = dom.load_samples(tmp_path, n_points=600)
    assert len(loaded) == 2 and loaded.points.shape[1] == 600
    assert {p.split("/")[-1] for p, _ in loaded.skipped} == {"bad.xyz", "notes.docx"}
    with pytest.raises(DomainError, match="bad.xyz"):
        dom.load_samples(tmp_path, strict=True)
    np.save(tmp_path / "nan.npy", np.full((2, 5, 3), np.nan))
    with pytest.raises(DomainError, match="nan.npy"):
        dom.load_samples(tmp_path / "nan.npy")


def test_evaluate_and_reference(tmp_path, cache):
    dom = get_domain()
    ref = dom.reference("embedded:test", n=6)
    assert ref.points.shape == (6, 2048, 3)
    rng = np.random.default_rng(0)
    gen = ref.points[:, :128] + rng.normal(scale=0.01, size=(6, 128, 3))
    scores = dom.evaluate(
        ShapeSamples(gen.astype(np.float32)), ref, metrics=["cd", "emd", "jsd"], workers=1
    )
    assert set(scores) >= {"mmd_cd", "cov_cd", "nna_cd", "mmd_emd", "cov_emd", "nna_emd", "jsd"}
    assert scores["cov_cd"] > 0.5
    assert scores["jsd"] < dom.evaluate(gen + 0.3, ref, metrics=["jsd"])["jsd"]
    boxed = dom.evaluate(gen, ref, metrics=["cd"], normalize="unit_box")
    assert boxed["mmd_cd"] != scores["mmd_cd"]
    np.save(tmp_path / "ref.npy", ref.points[:, :128])
    assert dom.reference(str(tmp_path / "ref.npy")).points.shape == (6, 128, 3)
    with pytest.raises(DomainError, match="neither a data set"):
        dom.reference("nowhere:test")
    with pytest.raises(DomainError, match="unknown shapes metrics"):
        dom.evaluate(gen, ref, metrics=["fid"])


def test_decode_batch_with_labels():
    dom = get_domain()
    batch = Batch(torch.zeros(2, 8, 3), None, torch.tensor([1, 0]))
    out = dom.decode(batch, {"normalization": "unit_box"})
    assert out.labels.tolist() == [1, 0] and out.points.shape == (2, 8, 3)


def test_unknown_evaluation_option_is_refused_with_the_valid_ones():
    # issue 20, finding 3: `--option emd_mod=fast` used to run in exact mode without a word
    dom = get_domain()
    pts = np.random.default_rng(0).normal(size=(4, 64, 3)).astype(np.float32)
    with pytest.raises(DomainError, match=r"'emd_mod' \(did you mean 'emd_mode'\?\).*valid: "):
        dom.evaluate(pts, pts, emd_mod="fast")


def _fan_folder(root):
    """One closed box and one mesh with an edge shared by three faces (non-manifold)."""
    root.mkdir(parents=True)
    trimesh.creation.box().export(root / "box.obj")
    fan = trimesh.Trimesh(
        [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1]],
        [[0, 1, 2], [0, 1, 3], [0, 1, 4]],
        process=False,
    )
    fan.export(root / "fan.stl")
    return root


def test_check_manifold_reaches_evaluate_and_messages_name_the_switch(tmp_path):
    # issue 20, finding 2: evaluate had no way round the manifold check, and its message
    # named data.params.check_manifold, which only training reads.
    from multigen.config import load_config
    from multigen.domain import options_spelled
    from multigen.train.reference import reference_samples

    dom, folder = get_domain(), _fan_folder(tmp_path / "meshes")
    with options_spelled("--option {}"):
        plain = dom.load_samples(folder, n_points=64)
    assert plain.names == ["box.obj"]
    assert "--option check_manifold=false" in plain.skipped[0][1]
    assert "data.params" not in plain.skipped[0][1]
    kept = dom.load_samples(folder, n_points=64, check_manifold=False)
    assert kept.names == ["box.obj", "fan.stl"] and not kept.skipped
    assert len(dom.reference(str(folder), check_manifold=False)) == 2
    with pytest.raises(DomainError, match="unknown shapes evaluation option.*'check_manifolds'"):
        dom.load_samples(folder, check_manifolds=False)
    # a run's eval.reference is read with eval.options, and says so
    cfg = {
        "domain": "shapes",
        "data": {"name": "embedded"},
        "model": {"name": "pointnet"},
        "method": {"name": "edm"},
        "eval": {"reference": str(folder), "options": {"check_manifold": False}},
    }
    assert len(reference_samples(dom, load_config(cfg), {}, 8)) == 2
    cfg["eval"]["options"] = {}
    ref = reference_samples(dom, load_config(cfg), {}, 8)
    assert "eval.options.check_manifold=false" in ref.skipped[0][1]
    # training data: the data.params spelling
    from multigen_domains.shapes import data

    with options_spelled("data.params.{}"):
        ds = data.mesh_folder(folder, "train", n_points=64, test_fraction=0.0)
    assert "data.params.check_manifold=false" in ds.skipped[0][1]


def test_evaluate_command_takes_check_manifold_and_refuses_typos(tmp_path, capsys):
    from multigen.cli import main

    folder = _fan_folder(tmp_path / "meshes")
    trimesh.creation.icosphere().export(folder / "ball.ply")
    ref = tmp_path / "ref.npy"
    np.save(ref, np.random.default_rng(0).normal(size=(3, 64, 3)).astype(np.float32))
    argv = ["evaluate", "--domain", "shapes", "--samples", str(folder), "--reference", str(ref)]
    argv += ["--option", "metrics=[cd]"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "skipped 1 file(s)" in out and "--option check_manifold=false" in out
    assert main([*argv, "--option", "check_manifold=false"]) == 0
    assert "skipped" not in capsys.readouterr().out
    assert main([*argv, "--option", "emd_mod=fast"]) == 2
    err = capsys.readouterr().err
    assert "'emd_mod'" in err and "emd_mode" in err and "check_manifold" in err


def test_api_evaluate_reads_paths_with_the_reading_options(tmp_path):
    from multigen import api

    folder = _fan_folder(tmp_path / "meshes")
    trimesh.creation.icosphere().export(folder / "ball.ply")
    ref = np.random.default_rng(0).normal(size=(3, 64, 3)).astype(np.float32)
    plain = api.evaluate("shapes", folder, ref, metrics=["cd"])
    kept = api.evaluate("shapes", folder, ref, metrics=["cd"], check_manifold=False)
    assert plain["n_samples"] == 2 and plain["skipped_files"] == 1
    assert kept["n_samples"] == 3 and "skipped_files" not in kept
