"""prepare → estimate → preprocess for real: MediaPipe on PNG frame folders and mp4s, sharding, resumability,
bad inputs reported by id. Runs the generated scripts with the local executor and the venv runtime."""

import csv
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from pipeline.stages.sample_data import sentences

from conftest import SHARED, needs_mediapipe, needs_trainer, output_dir, run_in, submit

pytestmark = [needs_mediapipe, needs_trainer]

READ_POSES = """
import json, sys, glob, os
from pose_format import Pose
out = {}
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.pose"))):
    with open(path, "rb") as f:
        pose = Pose.read(f.read())
    conf = pose.body.confidence
    names = [c.name for c in pose.header.components]
    body = conf[:, :, :33].mean()
    out[os.path.basename(path)[:-5]] = dict(frames=int(pose.body.data.shape[0]), people=int(pose.body.data.shape[1]),
        points=int(pose.body.data.shape[2]), dims=int(pose.body.data.shape[3]), fps=float(pose.body.fps),
        components=names, body_conf=float(body), face_conf=float(conf[:, :, 33:501].mean()),
        format=pose.header.components[0].format)
print(json.dumps({"result": out}))
"""

MAKE_OFFICIAL = """
import sys
from pipeline.stages.sample_data import generate
generate(sys.argv[1], (2, 1, 1), frames=int(sys.argv[2]))
"""

MAKE_VIDEOS = """
import sys, cv2
from pathlib import Path
from pipeline.stages.sample_data import clip_frames, sentences
texts = [" ".join(words) for words in sentences((4, 0, 0))["train"]]
root = Path(sys.argv[1])
idx = 0
for split, count in (("train", 2), ("validation", 1), ("test", 1)):
    (root / split).mkdir(parents=True, exist_ok=True)
    rows = ["name\\tsignal\\tsignal_start\\tsignal_end\\tencoder_prompt\\tdecoder_prompt\\toutput"]
    for i in range(count):
        name = f"clip{idx:02d}"
        path = root / split / f"{name}.mp4"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (210, 260))
        for frame in clip_frames(idx, 6):
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        writer.release()
        rows.append(f"{name}\\t/somewhere/else/{name}.mp4\\t0\\t0\\t__dgs__\\t__de__\\t{texts[idx]}")
        idx += 1
    (root / f"PHOENIX-2014-T.{split}.corpus_poses.tsv").write_text("\\n".join(rows) + "\\n")
"""


def experiment(tmp_path: Path, layout: str, root: Path, **estimate) -> Path:
    lines = [
        f"extends: {Path(__file__).resolve().parent.parent / 'config/smoke.yaml'}",
        "name: data",
        f"dataset: {{name: phoenix, layout: {layout}, root: {root}}}",
    ]
    if estimate:
        lines.append("estimate: {" + ", ".join(f"{k}: {v}" for k, v in estimate.items()) + "}")
    path = tmp_path / "data.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def read_tsv(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


@pytest.fixture(scope="module")
def official_tree(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("phoenix") / "PHOENIX-2014-T"
    run_in("mediapipe", MAKE_OFFICIAL, str(root), "6")
    return root


def test_official_layout_gives_holistic_poses_and_mmh_tsvs(tmp_path, official_tree):
    proc = submit(experiment(tmp_path, "official", official_tree, shards=1), tmp_path, "--until", "preprocess")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    poses = run_in("mediapipe", READ_POSES, str(output_dir(tmp_path, "data", "estimate"))).result
    assert sorted(poses) == ["sample000_train", "sample001_train", "sample002_validation", "sample003_test"]
    for info in poses.values():
        assert (info["frames"], info["people"], info["points"], info["dims"], info["fps"]) == (6, 1, 576, 3, 25.0)
        assert info["components"] == [
            "POSE_LANDMARKS",
            "FACE_LANDMARKS",
            "LEFT_HAND_LANDMARKS",
            "RIGHT_HAND_LANDMARKS",
            "POSE_WORLD_LANDMARKS",
        ]
        assert info["format"] == "XYZC"
        assert info["body_conf"] > 0.3 and info["face_conf"] > 0.5  # a person in every frame
    pre = output_dir(tmp_path, "data", "preprocess")
    rows = read_tsv(pre / "train.tsv")
    assert list(rows[0]) == ["signal", "signal_start", "signal_end", "encoder_prompt", "decoder_prompt", "output"]
    assert [(r["signal_start"], r["signal_end"], r["encoder_prompt"], r["decoder_prompt"]) for r in rows] == [
        ("0", "0", "__dgs__", "__de__")
    ] * 2
    assert all(Path(r["signal"]).is_absolute() and Path(r["signal"]).exists() for r in rows)
    assert rows[0]["output"] == " ".join(sentences((2, 1, 1))["train"][0])  # the sample's first sentence
    assert json.loads((pre / "feat_dim.json").read_text())["feat_dim"] == 534  # measured by MMH's processor


def test_three_array_tasks_give_the_same_poses_as_one(tmp_path, official_tree):
    one, three = tmp_path / "one", tmp_path / "three"
    for work, shards in ((one, 1), (three, 3)):
        work.mkdir()
        proc = submit(experiment(work, "official", official_tree, shards=shards), work, "--until", "estimate")
        assert proc.returncode == 0, proc.stdout + proc.stderr
    a, b = output_dir(one, "data", "estimate"), output_dir(three, "data", "estimate")
    assert a.name == b.name  # the key ignores the shard count
    assert sorted(p.name for p in b.glob(".done.shard-*")) == [f".done.shard-{i}-of-3.json" for i in range(3)]
    for pose in sorted(a.glob("*.pose")):
        assert pose.read_bytes() == (b / pose.name).read_bytes(), pose.name


def test_mp4_layout_of_the_original_pipeline(tmp_path):
    root = tmp_path / "phoenix_videos"
    run_in("mediapipe", MAKE_VIDEOS, str(root))
    proc = submit(experiment(tmp_path, "videos", root, shards=2), tmp_path, "--until", "preprocess")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    poses = run_in("mediapipe", READ_POSES, str(output_dir(tmp_path, "data", "estimate"))).result
    assert sorted(poses) == ["clip00", "clip01", "clip02", "clip03"]
    assert all((p["frames"], p["points"], p["fps"]) == (6, 576, 25.0) and p["body_conf"] > 0.3 for p in poses.values())
    test_rows = read_tsv(output_dir(tmp_path, "data", "preprocess") / "test.tsv")
    assert [Path(r["signal"]).name for r in test_rows] == ["clip03.pose"]


def test_bad_inputs_are_reported_by_id_and_reason(tmp_path, official_tree):
    import shutil

    root = tmp_path / "tree"
    shutil.copytree(official_tree, root)
    empty = root / "features/fullFrame-210x260px/train/empty_clip"
    empty.mkdir()
    csv_path = root / "annotations/manual/PHOENIX-2014-T.train.corpus.csv"
    with open(csv_path, "a") as handle:
        handle.write("empty_clip|-1|-1|-1|Signer01|X|ein satz\n")
        handle.write("sample001_train|-1|-1|-1|Signer01|X|\n")  # a row with no text
    exp = experiment(tmp_path, "official", root, shards=1)
    proc = submit(exp, tmp_path, "--until", "preprocess")
    assert proc.returncode == 1  # estimate fails: 1 failure > 0 allowed
    assert "FAILED: estimate/" in proc.stdout and "examples failed" in proc.stdout
    prep = output_dir(tmp_path, "data", "prepare")
    problems = (prep / "problems.txt").read_text()
    assert f"{csv_path}:4: empty_clip: no frames in {empty}" in problems
    assert f"{csv_path}:5: sample001_train: empty translation" in problems
    est = output_dir(tmp_path, "data", "estimate")
    assert (est / "failures.shard-0.tsv").read_text() == f"empty_clip\tno frame images (.png/.jpg) in {empty}\n"

    proc = submit(
        exp,
        tmp_path,
        "--until",
        "preprocess",
        "--set",
        "estimate.max_failure_fraction=0.5",
        "--set",
        "preprocess.max_missing_fraction=0.6",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    left_out = (output_dir(tmp_path, "data", "preprocess") / "problems.txt").read_text().splitlines()
    assert "train\tempty_clip\tno pose (no frame images (.png/.jpg) in " + str(empty) + ")" in left_out
    assert "train\tsample001_train\tempty text" in left_out


def test_corrupt_video_is_recorded_and_the_others_go_on(tmp_path):
    root = tmp_path / "phoenix_videos"
    run_in("mediapipe", MAKE_VIDEOS, str(root))
    (root / "train" / "clip01.mp4").write_bytes(os.urandom(2048))
    proc = submit(
        experiment(tmp_path, "videos", root, shards=1, max_failure_fraction=0.5), tmp_path, "--until", "estimate"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    est = output_dir(tmp_path, "data", "estimate")
    failures = (est / "failures.shard-0.tsv").read_text()
    assert failures.startswith("clip01\t") and "clip01.mp4" in failures
    assert sorted(p.stem for p in est.glob("*.pose")) == ["clip00", "clip02", "clip03"]
    assert "clip01" in (output_dir(tmp_path, "data", "prepare") / "problems.txt").read_text()


def test_killed_estimate_task_leaves_no_truncated_pose_and_resumes(tmp_path):
    root = tmp_path / "PHOENIX-2014-T"
    run_in("mediapipe", MAKE_OFFICIAL, str(root), "24")
    exp = experiment(tmp_path, "official", root, shards=1)
    assert submit(exp, tmp_path, "--until", "prepare").returncode == 0
    proc = submit(exp, tmp_path, "--until", "estimate", "--dry-run", "--quiet")
    assert proc.returncode == 0
    script = tmp_path / "jobs" / "dry-run" / "local" / "data" / "estimate.sbatch"
    est = output_dir(tmp_path, "data", "prepare").parent.parent / "estimate"
    task = subprocess.Popen(
        ["bash", str(script)],
        env={**os.environ, "SLURM_ARRAY_TASK_ID": "0"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not list(est.glob("*/*.pose")) and task.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # poll for the first finished pose
    os.killpg(task.pid, signal.SIGKILL)
    task.wait()
    out = next(est.iterdir())
    first = {p.name: p.stat().st_mtime_ns for p in out.glob("*.pose")}
    assert 1 <= len(first) < 4, "kill the task mid-shard"
    assert len(run_in("mediapipe", READ_POSES, str(out)).result) == len(first)  # every .pose is whole
    assert (
        subprocess.run(
            ["bash", str(script)], env={**os.environ, "SLURM_ARRAY_TASK_ID": "0"}, capture_output=True
        ).returncode
        == 0
    )
    after = {p.name: p.stat().st_mtime_ns for p in out.glob("*.pose")}
    assert len(after) == 4 and all(after[name] == mtime for name, mtime in first.items())
    assert not list(out.glob(".*.tmp"))


@pytest.mark.skipif(
    not (SHARED / "data" / "signing_clip.mp4").exists(),
    reason="needs ../shared/data/signing_clip.mp4 and signing_clip.mediapipe.pose (development machines and CI)",
)
def test_real_signing_clip_matches_the_reference_poses(tmp_path):
    root = tmp_path / "phoenix_videos"
    for split in ("train", "validation", "test"):
        (root / split).mkdir(parents=True)
        (root / f"PHOENIX-2014-T.{split}.corpus_poses.tsv").write_text(f"signal\toutput\n{split}clip.mp4\tein satz\n")
        os.symlink(SHARED / "data" / "signing_clip.mp4", root / split / f"{split}clip.mp4")
    proc = submit(
        experiment(tmp_path, "videos", root, shards=1), tmp_path, "--until", "estimate", "--set", "dataset.limit=1"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    compare = """
import sys, json, numpy as np
from pose_format import Pose
ours = Pose.read(open(sys.argv[1], "rb").read()); ref = Pose.read(open(sys.argv[2], "rb").read())
both = (ours.body.confidence > 0.5) & (ref.body.confidence > 0.5)
diff = np.abs(np.asarray(ours.body.data.data)[..., :2] - np.asarray(ref.body.data.data)[..., :2])[both]
hands = lambda p: float((p.body.confidence[:, :, 501:543] > 0).mean())
print(json.dumps({"result": dict(frames=int(ours.body.data.shape[0]), ref_frames=int(ref.body.data.shape[0]),
    conf=float(ours.body.confidence.mean()), median_px=float(np.median(diff)), hands=hands(ours),
    ref_hands=hands(ref))}))
"""
    est = output_dir(tmp_path, "data", "estimate")
    r = run_in(
        "mediapipe", compare, str(est / "trainclip.pose"), str(SHARED / "data" / "signing_clip.mediapipe.pose")
    ).result
    assert r["frames"] == r["ref_frames"] == 58
    assert r["conf"] > 0.8  # the reference has about 0.89
    assert r["median_px"] < 2.0  # landmarks close where both are confident (540x720 pixels)
    assert r["hands"] > 0.1 and abs(r["hands"] - r["ref_hands"]) < 0.05  # hands found where the reference has them
