"""OpenPose JSON keypoints as a pose source (`estimate.source: openpose_json`): How2Sign's realigned CSVs plus one
folder of `*_keypoints.json` per sentence, without videos, through prepare, the conversion (pose-format's
`load_openpose_directory`), preprocess and, in the slow tier, training to evaluate. Bad keypoint folders are one
reported line each; and manifests whose media are `.pose` files of any type plan no estimation.

The JSON files are written as OpenPose's `--write_json` writes them (openpose/src/openpose/filestream/
peopleJsonSaver.cpp): `{"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": [x, y, c, ...] (25
points), "face_keypoints_2d" (70), "hand_left_keypoints_2d" / "hand_right_keypoints_2d" (21 each), and the four
`*_3d` lists, empty}]}`, one file per frame named `<video>_<12-digit frame>_keypoints.json`."""

import csv
import json
import random
from pathlib import Path

import pytest

from pipeline.stages.corpus import HOW2SIGN_HEADER

from conftest import PROJECT, assert_scored_as_written, needs_trainer, output_dir, plan_of, run_in, submit

POSE_PREFIX = "openpose_output__json__"  # pose files are named after their media's path below the dataset root
POINTS = {"pose_keypoints_2d": 25, "face_keypoints_2d": 70, "hand_left_keypoints_2d": 21, "hand_right_keypoints_2d": 21}


def person(rng: random.Random, centre: float, confidence: float) -> dict:
    out = {"person_id": [-1]}
    for name, count in POINTS.items():
        values = []
        for _ in range(count):
            values += [round(centre + rng.uniform(-40, 40), 3), round(300 + rng.uniform(-80, 80), 3), confidence]
        out[name] = values
    out.update({k.replace("_2d", "_3d"): [] for k in POINTS})
    return out


def write_clip(folder: Path, name: str, frames, people_per_frame=lambda f: 1, seed: int = 0) -> Path:
    """A clip's keypoint folder: one JSON per frame number in `frames`."""
    rng = random.Random(seed)
    clip = folder / name
    clip.mkdir(parents=True, exist_ok=True)
    for f in frames:
        people = [person(rng, 500, 0.9), person(rng, 100, 0.3)][: people_per_frame(f)]
        (clip / f"{name}_{f:012d}_keypoints.json").write_text(json.dumps({"version": 1.3, "people": people}))
    return clip


def write_how2sign_csvs(root: Path, sentences: dict[str, list[str]]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for split, names in sentences.items():
        with open(root / f"how2sign_realigned_{split}.csv", "w", newline="") as handle:
            writer = csv.writer(handle, delimiter="\t")
            writer.writerow(HOW2SIGN_HEADER)
            for i, name in enumerate(names):
                writer.writerow([name.split("_")[0], name.rsplit("_", 1)[0], i, name, "0.0", "2.0", f"sentence {name}"])


def config(tmp_path: Path, root: Path, keypoints: Path, estimate: str = "", preprocess: str = "") -> Path:
    path = tmp_path / "h2s-json.yaml"
    path.write_text(
        f"extends: {PROJECT / 'config/smoke.yaml'}\nname: h2sjson\n"
        f"dataset: {{name: h2sjson, layout: how2sign, root: {root}, sample_clips: null}}\n"
        f"estimate: {{estimator: openpose, source: openpose_json, folder: {keypoints}, shards: 1{estimate}}}\n"
        f"preprocess: {{encoder_prompt: __asl__, decoder_prompt: __en__{preprocess}}}\n"
    )
    return path


@pytest.fixture
def keypoint_tree(tmp_path):
    """How2Sign CSVs and the keypoint folders as its release unpacks them (openpose_output/json/<SENTENCE_NAME>/),
    with every kind of bad folder in the training split."""
    root = tmp_path / "how2sign"
    json_dir = root / "openpose_output" / "json"
    good = {"train": ["a1-1_0", "b2-1_0", "c3-1_0"], "val": ["v1-1_0"], "test": ["t1-1_0"]}
    bad = ["d4-1_0", "e5-1_0", "f6-1_0", "g7-1_0", "h8-1_0"]
    write_how2sign_csvs(root, {**good, "train": good["train"] + bad})
    write_clip(json_dir, "a1-1_0", range(12), seed=1)
    write_clip(json_dir, "b2-1_0", range(12), people_per_frame=lambda f: 2 if f % 3 == 0 else 1, seed=2)
    write_clip(json_dir, "c3-1_0", [0, 1, 2, 3, 4, 7, 8, 9], seed=3)  # frames 5 and 6 missing
    write_clip(json_dir, "v1-1_0", range(10), seed=4)
    write_clip(json_dir, "t1-1_0", range(10), seed=5)
    truncated = write_clip(json_dir, "d4-1_0", range(6), seed=6) / "d4-1_0_000000000003_keypoints.json"
    truncated.write_text(truncated.read_text()[:57])
    (json_dir / "e5-1_0").mkdir()  # no JSON at all
    no_people = write_clip(json_dir, "f6-1_0", range(5), seed=7) / "f6-1_0_000000000002_keypoints.json"
    no_people.write_text(json.dumps({"version": 1.3}))
    write_clip(json_dir, "g7-1_0", range(5), seed=8)
    (json_dir / "g7-1_0" / "notes.txt").write_text("stray")
    write_clip(json_dir, "h8-1_0", range(5), people_per_frame=lambda f: 0, seed=9)  # nobody, ever
    return root, root / "openpose_output", {"truncated": truncated, "no_people": no_people}


@needs_trainer
def test_keypoint_folders_convert_through_preprocess_and_bad_ones_are_one_line_each(tmp_path, keypoint_tree):
    root, keypoints, bad = keypoint_tree
    cfg = config(tmp_path, root, keypoints, ", max_failure_fraction: 0.6", ", max_missing_fraction: 0.7")
    proc = submit(cfg, tmp_path, "--until", "preprocess")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "estimate" in plan_of(tmp_path, "h2sjson")["runs"]["h2sjson"]  # the conversion job, in the trainer image
    json_dir = keypoints / "json"
    prepare_problems = (output_dir(tmp_path, "h2sjson", "prepare") / "problems.txt").read_text()
    assert f"e5-1_0: {json_dir / 'e5-1_0'}: no *_keypoints.json files" in prepare_problems
    est = output_dir(tmp_path, "h2sjson", "estimate")
    # pose files are named after their media's path below the dataset root, as for videos
    failures = {
        line.split("\t")[0].removeprefix(POSE_PREFIX): line.split("\t", 1)[1]
        for line in (est / "failures.shard-0.tsv").read_text().splitlines()
    }
    assert sorted(failures) == ["d4-1_0", "f6-1_0", "g7-1_0", "h8-1_0"]
    assert failures["d4-1_0"].startswith(f"{bad['truncated']}: truncated or not JSON (JSONDecodeError")
    assert failures["f6-1_0"] == f"{bad['no_people']}: no 'people' list (expected OpenPose's --write_json output)"
    assert failures["g7-1_0"].startswith(f"{json_dir / 'g7-1_0' / 'notes.txt'}: stray file")
    assert failures["h8-1_0"] == f"{json_dir / 'h8-1_0'}: nobody found in any of its 5 frames"
    log = next((tmp_path / "jobs" / "h2sjson" / "logs").glob("estimate-*_0.out")).read_text()
    assert "Traceback" not in log and "2 frame(s) missing from the folders' numbering" in log

    pre = output_dir(tmp_path, "h2sjson", "preprocess")
    problems = (pre / "problems.txt").read_text().splitlines()
    assert len(problems) == 5 and {p.split("\t")[1] for p in problems} == {
        "d4-1_0",
        "e5-1_0",
        "f6-1_0",
        "g7-1_0",
        "h8-1_0",
    }
    with open(pre / "train.tsv", newline="") as handle:
        train = list(csv.DictReader(handle, delimiter="\t"))
    assert [Path(r["signal"]).stem.removeprefix(POSE_PREFIX) for r in train] == ["a1-1_0", "b2-1_0", "c3-1_0"]
    assert Path(train[1]["signal"]).parent == pre / "poses" / "train"  # two people: reduced to the signer
    checks = run_in(
        "trainer",
        "import json, sys, numpy as np\nfrom pose_format import Pose\n"
        "read = lambda p: Pose.read(open(p, 'rb').read())\n"
        "gap, two, one = (read(p) for p in sys.argv[1:4])\n"
        "c = np.asarray(gap.body.confidence)\n"
        "print(json.dumps({'result': [list(gap.body.data.shape), c[5:7].max().item(), c[4].min().item(),"
        " two.body.data.shape[1], float(np.asarray(two.body.data)[0, 0, 0, 0]), gap.header.total_points(),"
        " [x.name for x in gap.header.components], one.body.fps]}))",
        str(est / f"{POSE_PREFIX}c3-1_0.pose"),
        train[1]["signal"],
        str(est / f"{POSE_PREFIX}a1-1_0.pose"),
    ).result
    shape, gap_max, kept_min, people, x, points, components, fps = checks
    assert shape == [10, 1, 137, 2] and gap_max == 0.0 and kept_min > 0  # missing frames in place, unseen
    assert people == 1 and x > 400  # the confident signer at x ~ 500, not the bystander at ~100
    assert points == 137 and components[0] == "pose_keypoints_2d" and fps == 25.0


def test_openpose_json_settings_are_checked_in_one_line(tmp_path, keypoint_tree):
    root, keypoints, _ = keypoint_tree
    cases = {
        "estimate.estimator=mediapipe": "source openpose_json makes poses of the openpose type",
        "estimate.folder=": "estimate.folder: required with source openpose_json",
        "dataset.layout=official": "openpose_json finds each example's keypoint folder by its media's name",
    }
    for override, message in cases.items():
        proc = submit(config(tmp_path, root, keypoints), tmp_path, "--dry-run", "--set", override)
        assert proc.returncode == 2 and message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, (
            override,
            proc.stderr,
        )


def pose_manifest(tmp_path: Path, pose_type: str, extra_row: str = "") -> Path:
    """A manifest whose media are .pose files of `pose_type` (fake points, the type's real header)."""
    corpus = tmp_path / "corpus"
    run_in(
        "trainer",
        "import sys\nfrom pathlib import Path\nfrom pipeline.fake_poses import fake_pose, write_pose\n"
        "for i in range(6): write_pose(fake_pose(sys.argv[1], frames=12, seed=i), Path(sys.argv[2]) / f'p{i}.pose')",
        pose_type,
        str(corpus / "poses"),
    )
    for split, ids in {"train": [0, 1, 2, 3], "dev": [4], "test": [5]}.items():
        rows = ["id\tmedia\ttext"] + [f"e{i}\tposes/p{i}.pose\twort {i}" for i in ids]
        (corpus / f"{split}.tsv").write_text("\n".join(rows + ([extra_row] if split == "train" and extra_row else [])))
    cfg = tmp_path / "poses.yaml"
    cfg.write_text(
        f"extends: {PROJECT / 'config/smoke.yaml'}\nname: poses\n"
        f"dataset: {{name: poses, layout: manifest, root: {corpus}, sample_clips: null,\n"
        "  splits: {train: train.tsv, validation: dev.tsv, test: test.tsv}}\n"
        f"estimate: {{estimator: {pose_type}}}\n"
    )
    return cfg


@needs_trainer
def test_a_manifest_of_openpose_pose_files_plans_no_estimation_and_runs_preprocess(tmp_path):
    proc = submit(pose_manifest(tmp_path, "openpose"), tmp_path, "--until", "preprocess")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert list(plan_of(tmp_path, "poses")["runs"]["poses"]) == ["prepare", "preprocess"]
    pre = output_dir(tmp_path, "poses", "preprocess")
    assert json.loads((pre / "feat_dim.json").read_text())["feat_dim"] == 274  # 137 points x (x, y)
    with open(pre / "train.tsv", newline="") as handle:
        assert [Path(r["signal"]).name for r in csv.DictReader(handle, delimiter="\t")] == [
            f"p{i}.pose" for i in range(4)
        ]


@needs_trainer
def test_a_manifest_mixing_videos_into_a_type_we_cannot_estimate_stops_at_its_row(tmp_path):
    cfg = pose_manifest(tmp_path, "openpose", extra_row="e9\tclips/x.mp4\tein video")
    proc = submit(cfg, tmp_path, "--dry-run")
    assert proc.returncode == 2
    assert f"{tmp_path / 'corpus' / 'train.tsv'}:6: media 'clips/x.mp4' is not a .pose file" in proc.stderr


@needs_trainer
@pytest.mark.slow
def test_released_keypoints_alone_train_through_evaluate(tmp_path):
    root = tmp_path / "how2sign"
    json_dir = root / "openpose_output" / "json"
    names = {"train": [f"s{i}-1_0" for i in range(8)], "val": ["v0-1_0", "v1-1_0"], "test": ["t0-1_0", "t1-1_0"]}
    write_how2sign_csvs(root, names)
    for seed, name in enumerate(sum(names.values(), [])):
        write_clip(json_dir, name, range(15), seed=seed)
    proc = submit(config(tmp_path, root, root / "openpose_output"), tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # 20 steps: no model yet; the score is of what the chain wrote, one translation per test sentence
    assert_scored_as_written(
        output_dir(tmp_path, "h2sjson", "translate"), output_dir(tmp_path, "h2sjson", "evaluate"), 2
    )
