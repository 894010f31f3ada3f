"""Container definitions, the estimator registry and adapters, the build/submit guards, and the apptainer
runtime exercised through a bubblewrap stand-in (tests/apptainer/apptainer) that binds like Apptainer."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from spython.main.parse.parsers import SingularityParser

from pipeline.pose_types import ALL_IMAGES, ESTIMATORS

from conftest import PROJECT, needs_mediapipe, needs_trainer, output_dir, run_in, submit

STANDIN = PROJECT / "tests" / "apptainer"
needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap not installed (apt-get install bubblewrap)"
)
STAGE_IMPORTS = {
    "mediapipe": ["mediapipe", "pose_format", "cv2", "skimage"],
    "trainer": ["multimodalhugs", "torch", "transformers", "sacrebleu", "pose_format"],
    "mmposewholebody": ["mmpose", "mmcv", "pose_format"],
    "openpifpaf": ["openpifpaf", "pose_format"],
}


def recipe(image: str):
    return SingularityParser(str(PROJECT / "containers" / f"{image}.def")).recipe["spython-base"]


@pytest.mark.parametrize("image", ALL_IMAGES)
def test_every_definition_parses_with_labels_pins_environment_and_test(image):
    r = recipe(image)
    assert r.fromHeader.startswith("python:3.11")
    assert f"pipeline.image {image}" in r.labels
    assert "PYTHONNOUSERSITE=1" in r.environ
    assert r.files == [f"containers/{image}.requirements.txt /opt/pipeline/requirements.txt"]
    assert any("pip install" in line and "-r /opt/pipeline/requirements.txt" in line for line in r.install)
    tests = " ".join(line for line in r.install if ">> /tests.sh" in line)
    for module in STAGE_IMPORTS[image]:
        assert re.search(rf"\b{module}\b", tests), f"%test of {image}.def does not import {module}"


@pytest.mark.parametrize("image", ALL_IMAGES)
def test_requirements_are_pinned_exactly(image):
    lines = [
        line.strip()
        for line in (PROJECT / "containers" / f"{image}.requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines and all(re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[A-Za-z0-9_.+\-]+", line) for line in lines), lines


def test_pins_that_matter():
    mp = (PROJECT / "containers/mediapipe.requirements.txt").read_text()
    version = re.search(r"^mediapipe==(\d+)\.(\d+)\.(\d+)$", mp, re.M).groups()
    assert tuple(map(int, version)) < (0, 10, 30)  # the legacy Holistic API
    assert re.search(r"^numpy==1\.", mp, re.M)
    trainer = (PROJECT / "containers/trainer.requirements.txt").read_text()
    assert "transformers==4.44.2" in trainer and "torch==2.13.0" in trainer and re.search(r"^numpy==2\.", trainer, re.M)
    assert not re.search(r"^multimodalhugs", trainer, re.M)  # installed --no-deps from git/the shared wheel
    assert "GerrySant/multimodalhugs@v0.5.4" in (PROJECT / "containers/trainer.def").read_text()


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_each_estimator_has_a_definition_and_an_adapter(name):
    est = ESTIMATORS[name]
    assert (PROJECT / "containers" / f"{est.image}.def").exists()
    adapter = (PROJECT / "pipeline" / "stages" / "estimators" / f"{name}.py").read_text()
    assert "def load(" in adapter and "def estimate(" in adapter
    assert est.expected_feat_dim > 0


@needs_mediapipe
def test_wholebody_adapters_build_proper_poses_from_model_outputs():
    code = """
import json, numpy as np
from types import SimpleNamespace
from pipeline.stages.estimators import mmposewholebody, openpifpaf
rng = np.random.default_rng(0)
def person(score):
    return {"keypoints": (rng.random((133, 2)) * 200).tolist(), "keypoint_scores": [score] * 133}
mm_results = [{"predictions": [[person(0.3), person(0.9)]]}, {"predictions": [[]]}, {"predictions": [[person(0.8)]]}]
mm = mmposewholebody.convert(mm_results, fps=25.0, width=210, height=260)
ann = lambda s: SimpleNamespace(data=np.concatenate([rng.random((133, 2)) * 100, np.full((133, 1), s)], axis=1))
op = openpifpaf.convert([[ann(0.5)], [], [ann(0.2), ann(0.7)]], fps=30.0, width=640, height=480)
def info(p):
    return dict(shape=list(p.body.data.shape), fps=p.body.fps, comps=[c.name for c in p.header.components],
                fmt=p.header.components[0].format, w=p.header.dimensions.width, h=p.header.dimensions.height,
                conf=[float(x) for x in p.body.confidence[:, 0].mean(axis=1)],
                masked=[bool(p.body.data.mask[t].all()) for t in range(p.body.data.shape[0])],
                points=p.header.total_points())
print(json.dumps({"result": {"mm": info(mm), "op": info(op)}}))
"""
    r = run_in("mediapipe", code).result
    for key, fps, w in (("mm", 25.0, 210), ("op", 30.0, 640)):
        info = r[key]
        assert info["shape"] == [3, 1, 133, 2] and info["points"] == 133 and info["fps"] == fps and info["w"] == w
        assert info["fmt"] == "XYC" and len(info["comps"]) >= 4
        assert info["masked"][1] and not info["masked"][0] and info["conf"][1] == 0.0
    assert r["mm"]["conf"][0] == pytest.approx(0.9) and r["op"]["conf"][2] == pytest.approx(0.7)  # main person


def test_build_without_apptainer_says_so_in_one_line(tmp_path):
    env = {**os.environ, "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline.build", "--runtime", "apptainer", "trainer"],
        capture_output=True,
        text=True,
        cwd=PROJECT,
        env=env,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "apptainer not found on PATH: install Apptainer" in lines[0]


def test_submit_refuses_when_an_image_is_missing(tmp_path):
    env = {"PATH": f"{STANDIN}:{os.environ['PATH']}"}
    proc = submit(
        "config/smoke.yaml",
        tmp_path,
        "--runtime",
        "apptainer",
        "--profile-set",
        f"image_dir={tmp_path / 'images'}",
        env=env,
    )
    assert proc.returncode == 2
    assert (
        f"prepare needs the 'mediapipe' image at {tmp_path / 'images' / 'mediapipe.sif'}, which does not exist;"
        f" build it with: python -m pipeline.build mediapipe" in proc.stderr
    )
    assert not (tmp_path / "jobs").exists()


def standin_images(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for image in ("mediapipe", "trainer"):
        (folder / f"{image}.sif").write_text(f"venv={PROJECT / '.venvs' / image}\n")
    return folder


@needs_bwrap
@needs_trainer
def test_unbound_paths_fail_with_a_clear_message(tmp_path):
    images = standin_images(tmp_path / "images")
    spec = tmp_path / "spec.json"
    spec.write_text(
        json.dumps(
            {
                "stage": "evaluate",
                "key": "k",
                "output_dir": str(PROJECT / "unbound"),
                "translate": "t",
                "evaluate": {},
                "translate_dir": "/t",
                "references": "/r",
                "cache_dir": "/c",
            }
        )
    )
    base = [
        str(STANDIN / "apptainer"),
        "exec",
        "--cleanenv",
        "--env",
        f"PYTHONPATH={PROJECT}",
        "--bind",
        f"{PROJECT}:{PROJECT}:ro",
    ]
    argv = [str(images / "trainer.sif"), "python", "-m", "pipeline.stages.evaluate", "--spec", str(spec)]
    unbound = subprocess.run(base + argv, capture_output=True, text=True)
    assert unbound.returncode != 0 and f"spec file {spec} not found" in unbound.stderr
    readonly = subprocess.run(base + ["--bind", f"{tmp_path}:{tmp_path}"] + argv, capture_output=True, text=True)
    assert readonly.returncode != 0
    assert f"cannot write its output folder {PROJECT / 'unbound'}: Read-only file system" in readonly.stderr
    assert not (PROJECT / "unbound").exists()


@needs_bwrap
@needs_mediapipe
@needs_trainer
def test_demo_chain_runs_through_the_apptainer_runtime(tmp_path):
    images = standin_images(tmp_path / "images")
    env = {"PATH": f"{STANDIN}:{os.environ['PATH']}"}
    proc = submit(
        "config/smoke.yaml", tmp_path, "--runtime", "apptainer", "--profile-set", f"image_dir={images}", env=env
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    script = (tmp_path / "jobs" / "smoke" / "train.sbatch").read_text()
    assert "apptainer exec --cleanenv" in script and f"{images}/trainer.sif python -m pipeline.stages.train" in script
    assert (output_dir(tmp_path, "smoke", "evaluate") / "test_score.bleu").exists()
    assert len((output_dir(tmp_path, "smoke", "translate") / "generated_predictions.txt").read_text().split("\n")) == 4


MAKE_POSES = """
import sys
from pathlib import Path
from pipeline.fake_poses import fake_pose, write_pose
for i, path in enumerate(sys.argv[1:]):
    write_pose(fake_pose("mediapipe", frames=20, seed=i), Path(path))
"""


def through_standin(tmp_path: Path, config: Path) -> subprocess.CompletedProcess:
    """The run of `config` with the apptainer runtime: every stage in the bubblewrap stand-in, which sees only
    what the job script binds."""
    images = standin_images(tmp_path / "images")
    env = {"PATH": f"{STANDIN}:{os.environ['PATH']}"}
    return submit(config, tmp_path, "--runtime", "apptainer", "--profile-set", f"image_dir={images}", env=env)


@needs_bwrap
@needs_mediapipe
@needs_trainer
@pytest.mark.slow
def test_a_manifest_of_pose_media_below_and_outside_its_root_runs_to_evaluate_through_the_apptainer_runtime(tmp_path):
    root, elsewhere = tmp_path / "corpus", tmp_path / "elsewhere"
    words = ["regen", "sonne", "wind", "nebel", "schnee"]
    media = {"train": [f"poses/a{i}.pose" for i in range(12)], "dev": [f"poses/b{i}.pose" for i in range(4)]}
    media["test"] = [f"../elsewhere/c{i}.pose" for i in range(4)]  # relative to the manifest's folder
    run_in("trainer", MAKE_POSES, *[str(root / m) for split in media.values() for m in split])
    for split, cells in media.items():
        rows = [f"{split}{i}\t{m}\t{words[i % 5]} {words[(i + 1) % 5]}" for i, m in enumerate(cells)]
        (root / f"{split}.tsv").write_text("id\tfile\ttext\n" + "\n".join(rows) + "\n")
    config = tmp_path / "poses.yaml"
    config.write_text(
        f"extends: {PROJECT / 'config/smoke.yaml'}\nname: poses\n"
        f"dataset: {{name: poses, layout: manifest, root: {root}, sample_clips: null,\n"
        "  splits: {train: train.tsv, validation: dev.tsv, test: test.tsv},\n"
        "  columns: {id: id, media: file, text: text}}\n"
        "estimate: {shards: 1}\n"
    )
    proc = through_standin(tmp_path, config)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for stage in ("preprocess", "train", "translate"):
        script = (tmp_path / "jobs" / "poses" / f"{stage}.sbatch").read_text()
        assert f"--bind {root}:{root}:ro" in script and f"--bind {elsewhere}:{elsewhere}:ro" in script, stage
    pre = output_dir(tmp_path, "poses", "preprocess")
    assert (pre / "train.tsv").read_text().count(str(root / "poses")) == 12  # the TSVs point at the media
    assert (pre / "test.tsv").read_text().count(f"{root}/../elsewhere/") == 4
    assert (output_dir(tmp_path, "poses", "evaluate") / "test_score.bleu").exists()


@needs_bwrap
@needs_mediapipe
@needs_trainer
@pytest.mark.slow
def test_a_how2sign_tree_runs_to_evaluate_through_the_apptainer_runtime(tmp_path):
    from test_corpus import how2sign_config, how2sign_tree

    root = how2sign_tree(tmp_path / "h2s", "clips")
    proc = through_standin(tmp_path, how2sign_config(tmp_path, root, "clips"))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"--bind {root}:{root}:ro" in (tmp_path / "jobs" / "h2s" / "estimate.sbatch").read_text()
    assert (output_dir(tmp_path, "h2s", "evaluate") / "test_score.bleu").exists()
