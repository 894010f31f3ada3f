"""The eight pose types from pre-estimated archives, served on loopback in their real shapes (no other network):
a zip per type with its content under one top-level folder, the mediapipe tar.gz with `dev/`, and the public
annotations tar.gz. Fake poses of each type (pipeline.fake_poses) stand in for the real files.

The chain runs for real (MultimodalHugs with the tiny backbone) for every type; the failure cases each give one
line naming what and where, and leave nothing half-done behind.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from pipeline.pose_types import POSE_TYPES

from conftest import PROJECT, assert_scored_as_written, needs_trainer, output_dir, plan_of, run_in, submit, tar_gz_bytes

CLIPS = {"train": 6, "validation": 2, "test": 2}
IDS = {split: [f"{split}-{i:02d}" for i in range(n)] for split, n in CLIPS.items()}
WRITE_FAKES = """
import sys
from pathlib import Path
from pipeline.fake_poses import fake_pose, write_pose
pose_type, dest, people, rename, names = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5:]
for i, name in enumerate(names):
    pose = fake_pose(pose_type, frames=12, people=people, seed=i)
    if rename:                         # the same points under another component name: another layout
        pose.header.components[0].name = rename
    write_pose(pose, dest / (name + ".pose"))
"""


OLDER_SMPLEST_X = """
import sys
import numpy as np
from pathlib import Path
from pose_format import Pose
from pose_format.numpy import NumPyPoseBody
from pose_format.pose_header import PoseHeader, PoseHeaderComponent
from pipeline.fake_poses import fake_pose, write_pose
from pipeline.pose_headers import SMPLEST_X_137
keep = list(range(25)) + list(range(25, 45)) + list(range(46, 66)) + list(range(67, 139))  # hands without the wrist
for i, name in enumerate(sys.argv[2:]):
    pose = fake_pose("smplest_x", frames=12, seed=i)
    components = [PoseHeaderComponent(n, list(p), [], [(0, 0, 0)], "XYC") for n, p in SMPLEST_X_137]
    header = PoseHeader(pose.header.version, pose.header.dimensions, components)
    body = NumPyPoseBody(25.0, pose.body.data[:, :, keep], pose.body.confidence[:, :, keep])
    write_pose(Pose(header, body), Path(sys.argv[1]) / (name + ".pose"))
"""


def write_fakes(pose_type: str, dest: Path, names: list[str], people: int = 1, rename: str = "") -> None:
    run_in("trainer", WRITE_FAKES, pose_type, str(dest), str(people), rename, *names)


def corpus_files(ids: dict, missing_text: str | None = None) -> dict[str, bytes]:
    """The three official corpus CSVs, by their path inside the annotations archive."""
    files = {}
    for split, names in ids.items():
        official = "dev" if split == "validation" else split
        lines = ["name|video|start|end|speaker|orth|translation"]
        lines += [f"{n}|{n}/1/*.png|-1|-1|Signer01|GLOSS|{'' if n == missing_text else f'satz {n}'}" for n in names]
        files[f"PHOENIX-2014-T-release-v3/PHOENIX-2014-T/annotations/manual/PHOENIX-2014-T.{official}.corpus.csv"] = (
            "\n".join(lines) + "\n"
        ).encode()
    return files


def pose_archive(pose_type: str, tmp: Path, people: int = 1) -> tuple[str, bytes]:
    """(file name, bytes) of the type's archive in its real shape."""
    folder = tmp / f"fakes-{pose_type}"
    for split, names in IDS.items():
        write_fakes(pose_type, folder / split, names, people)
    if pose_type == "mediapipe":  # holistic/phoenix.tar.gz: train/ dev/ test/
        return "phoenix.tar.gz", tar_gz_bytes(
            {
                f"{'dev' if p.parent.name == 'validation' else p.parent.name}/{p.name}": p.read_bytes()
                for p in folder.rglob("*.pose")
            }
        )
    buffer = io.BytesIO()  # <type>/phoenix.zip: phoenix/{train,validation,test}/
    with zipfile.ZipFile(buffer, "w") as zf:
        for p in sorted(folder.rglob("*.pose")):
            zf.writestr(f"phoenix/{p.parent.name}/{p.name}", p.read_bytes())
    return "phoenix.zip", buffer.getvalue()


def folder_experiment(tmp: Path, folder: Path, pose_type: str) -> Path:
    """The tiny chain on poses from `folder`, with the corpus CSVs of IDS written under tmp/annotations."""
    for path, data in corpus_files(IDS).items():
        target = tmp / "annotations" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return experiment(
        tmp,
        "http://unused",
        dataset={"url": None},
        estimate={"source": "folder", "folder": str(folder), "estimator": pose_type},
    )


def experiment(tmp: Path, base_url: str, **over) -> Path:
    """A tiny chain on downloaded poses: annotations layout, source download, 6 training steps."""
    data = {
        "extends": str(PROJECT / "config" / "smoke.yaml"),
        "name": "poses",
        "dataset": {
            "name": "phoenix",
            "layout": "annotations",
            "root": str(tmp / "annotations"),
            "url": f"{base_url}/annotations.tar.gz",
            "sample_clips": None,
        },
        "estimate": {"source": "download"},
        "training": {"max_steps": 6, "eval_steps": 3, "batch_size": 2},
        "translate": {"num_beams": 1},
    }
    for key, value in over.items():
        data.setdefault(key, {}).update(value)
    path = tmp / "poses.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.slow
@needs_trainer
def test_every_pose_type_trains_from_its_archive_with_the_tables_feature_dimension(tmp_path, http_files):
    state, base = http_files
    state["files"]["/annotations.tar.gz"] = tar_gz_bytes(corpus_files(IDS))
    runs = []
    for name in POSE_TYPES:
        file, body = pose_archive(name, tmp_path, people=2 if name == "openpose" else 1)
        state["files"][f"/{name}/{file}"] = body
        runs.append({"estimate.estimator": name, "estimate.url": f"{base}/{name}/{file}"})
    experiment(tmp_path, base)
    sweep = tmp_path / "pose_types.yaml"
    sweep.write_text(yaml.safe_dump({"sweep": {"name": "pose_types", "base": "poses.yaml", "runs": runs}}))
    proc = submit(sweep, tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "33 job(s) (1 prepare, 8 preprocess, 8 train, 8 translate, 8 evaluate)" in proc.stdout
    assert state["gets"].count("/annotations.tar.gz") == 1  # one annotations download for all
    plan = plan_of(tmp_path, "pose_types")
    assert not any(job.startswith("estimate/") for job in plan["jobs"])  # no estimate job at all
    for run, stages in plan["runs"].items():
        pose_type = plan["experiments"][run]["estimate"]["estimator"]
        pre = Path(plan["jobs"][stages["preprocess"]]["output_dir"])
        assert json.loads((pre / "feat_dim.json").read_text())["feat_dim"] == POSE_TYPES[pose_type].expected_feat_dim
        signals = [line.split("\t")[0] for line in (pre / "train.tsv").read_text().splitlines()[1:]]
        assert [Path(s).stem for s in signals] == IDS["train"]
        if pose_type in ("openpose", "sapiens", "smplest_x"):  # two people in every frame, or headers renamed
            assert all(Path(s).parent == pre / "poses" / "train" for s in signals)  # copies beside the TSVs
        else:  # the extracted files themselves
            tree = tmp_path / "data" / "downloads" / "poses"
            assert all(Path(s).is_relative_to(tree) and "/tree/train/" in s for s in signals), signals[:2]
        evaluate = Path(plan["jobs"][stages["evaluate"]]["output_dir"])
        translate = Path(plan["jobs"][stages["translate"]]["output_dir"])
        assert_scored_as_written(translate, evaluate, len(IDS["test"]))
    logs = tmp_path / "jobs" / "pose_types" / "logs"
    log = logs.glob("preprocess-phoenix-openpose-*.out")
    assert "several people: 120 frame(s) of 10 example(s) had more than one person" in next(log).read_text()
    for pose_type in ("sapiens", "smplest_x"):
        log = next(logs.glob(f"preprocess-phoenix-{pose_type}-*.out")).read_text()
        assert f"header names: 10 pose file(s) of {pose_type} renamed to names pose-format knows" in log
    summary = subprocess.run(
        [sys.executable, "-m", "pipeline.summarize", str(tmp_path / "jobs" / "pose_types")],
        capture_output=True,
        text=True,
        cwd=PROJECT,
    )
    assert summary.returncode == 0, summary.stderr
    assert summary.stdout.count("finished") == 8 and "estimate.estimator" in summary.stdout
    assert (tmp_path / "jobs" / "pose_types" / "summary.png").stat().st_size > 1000  # BLEU per pose type


@needs_trainer
def test_smplest_x_files_of_the_earlier_137_point_layout_are_accepted_and_measured(tmp_path):
    """GerrySant/pose smplest_x.py wrote 137 points at d90e720, 139 (hands with their wrist) from 491bc34."""
    folder = tmp_path / "poses"
    for split, names in IDS.items():
        run_in("trainer", OLDER_SMPLEST_X, str(folder / ("dev" if split == "validation" else split)), *names)
    config = folder_experiment(tmp_path, folder, "smplest_x")
    proc = submit(config, tmp_path, "--until", "preprocess")
    assert proc.returncode == 0, proc.stdout[-3000:]
    feat = json.loads((output_dir(tmp_path, "poses", "preprocess") / "feat_dim.json").read_text())
    assert (feat["feat_dim"], feat["expected"]) == (274, 274)  # 137 points x 2: measured, not the registry's 278
    log = next((tmp_path / "jobs" / "poses" / "logs").glob("preprocess-*.out")).read_text()
    assert "header names: 10 pose file(s) of smplest_x renamed" in log


@needs_trainer
def test_bad_headers_and_poses_without_text_are_left_out_by_id_or_fail_the_stage(tmp_path):
    folder = tmp_path / "poses"
    for split, names in IDS.items():
        write_fakes("openpose", folder / ("dev" if split == "validation" else split), names)
    write_fakes("mmposewholebody", folder / "train", [IDS["train"][0]])  # 133 points in an openpose set, first
    write_fakes("openpose", folder / "train", ["orphan-07"])  # a pose nobody gave a text for
    write_fakes("openpose", folder / "dev", [IDS["validation"][1]], rename="body_25")  # 137 points, other layout
    config = folder_experiment(tmp_path, folder, "openpose")
    proc = submit(config, tmp_path, "--until", "preprocess")
    assert proc.returncode != 0
    log = next((tmp_path / "jobs" / "poses" / "logs").glob("preprocess-*.out")).read_text()
    assert "train: 2 of 7 examples left out (allowed 0, preprocess.max_missing_fraction)" in log
    problems = (output_dir(tmp_path, "poses", "preprocess") / "problems.txt").read_text()
    assert f"train\t{IDS['train'][0]}\theader has 133 points; openpose has 137 in {folder}/train/" in problems
    assert f"train\torphan-07\tno text: {folder}/train/orphan-07.pose has no row in the train corpus CSV" in problems
    proc = submit(config, tmp_path, "--until", "preprocess", "--set", "preprocess.max_missing_fraction=0.5")
    assert proc.returncode == 0, proc.stdout[-3000:]
    train = (output_dir(tmp_path, "poses", "preprocess") / "train.tsv").read_text()
    assert IDS["train"][0] not in train and "orphan" not in train and train.count("\n") == 1 + 5
    problems = (output_dir(tmp_path, "poses", "preprocess") / "problems.txt").read_text()
    assert (
        f"validation\t{IDS['validation'][1]}\theader differs from the set's ({IDS['train'][1]}): body_25 25 XYC"
        in problems
    )  # the set: its first *good* file
    assert problems.count("header differs") == 1
    # with dataset.limit the manifest is cut on purpose: poses beyond it are not "without text"
    proc = submit(
        config,
        tmp_path,
        "--until",
        "preprocess",
        "--set",
        "dataset.limit=3",
        "--set",
        "preprocess.max_missing_fraction=0.5",
        "--set",
        "name=limited",
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "no text" not in (output_dir(tmp_path, "limited", "preprocess") / "problems.txt").read_text()


@needs_trainer
def test_archive_failures_are_one_line_and_leave_nothing_taken_as_done(tmp_path, http_files):
    state, base = http_files
    state["files"]["/annotations.tar.gz"] = tar_gz_bytes(corpus_files(IDS))
    name, body = pose_archive("sdpose", tmp_path)
    config = experiment(tmp_path, base, estimate={"estimator": "sdpose", "url": f"{base}/sdpose/{name}"})
    proc = submit(config, tmp_path, "--until", "preprocess")  # 404: nothing served there yet
    log = lambda: next((tmp_path / "jobs" / "poses" / "logs").glob("preprocess-*.out")).read_text()  # noqa: E731
    assert proc.returncode != 0 and f"error: preprocess: {base}/sdpose/{name}: HTTP 404 Not Found\n" in log()
    state["files"][f"/sdpose/{name}"] = body[: len(body) // 2]  # a truncated archive
    proc = submit(config, tmp_path, "--until", "preprocess")
    assert proc.returncode != 0 and "not a readable zip archive" in log() and "nothing was extracted" in log()
    download = next((tmp_path / "data" / "downloads" / "poses").iterdir())
    assert not (download / "tree").exists() and not (download / "tree.partial").exists()
    state["files"][f"/sdpose/{name}"] = body
    state["cut"][f"/sdpose/{name}"] = len(body) // 3  # then an interrupted download:
    proc = submit(config, tmp_path, "--until", "preprocess", "--profile-set", "download_retry_wait=0")
    assert proc.returncode == 0, log()  # the same job retries and resumes
    assert "attempt 1/5 failed: interrupted after" in log() and "User-Agent: Mozilla/5.0" in log()
    assert "retrying in 0 s" in log()  # the profile's download_retry_wait
    assert (f"/sdpose/{name}", len(body) // 3) in state["ranges"]
    assert json.loads((output_dir(tmp_path, "poses", "preprocess") / "feat_dim.json").read_text())["feat_dim"] == 266


def test_unknown_pose_type_is_one_line_naming_the_eight(tmp_path):
    proc = submit("config/phoenix_poses.yaml", tmp_path, "--dry-run", "--set", "estimate.estimator=openpos")
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "error: --set estimate.estimator: estimate.estimator: unknown value 'openpos'; "
        "allowed: " + ", ".join(POSE_TYPES)
    )


def test_the_comparison_sweep_is_24_runs_sharing_one_download_and_preprocess_per_pose_type(tmp_path):
    proc = submit("config/sweeps/pose_types.yaml", tmp_path, "--dry-run", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "24 run(s), 81 job(s) (1 prepare, 8 preprocess, 24 train, 24 translate, 24 evaluate)" in proc.stdout
    plan = json.loads((tmp_path / "jobs" / "dry-run" / "local" / "o_brien_et_al_2026" / "plan.json").read_text())
    seeds = {}
    for run, stages in plan["runs"].items():
        seeds.setdefault(stages["preprocess"], set()).add(plan["experiments"][run]["training"]["seed"])
    assert list(seeds.values()) == [{375678, 534, 42}] * 8
    urls = {json.loads(Path(plan["jobs"][p]["spec"]).read_text())["poses"]["url"] for p in seeds}
    assert urls == {p.download_url for p in POSE_TYPES.values()}


@needs_trainer
def test_fetch_models_prefills_the_downloads_so_the_jobs_fetch_nothing(tmp_path, http_files):
    state, base = http_files
    state["files"]["/annotations.tar.gz"] = tar_gz_bytes(corpus_files(IDS))
    name, body = pose_archive("smplest_x", tmp_path)
    state["files"][f"/smplest_x/{name}"] = body
    config = experiment(tmp_path, base, estimate={"estimator": "smplest_x", "url": f"{base}/smplest_x/{name}"})
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline.fetch_models",
            str(config),
            "--profile-set",
            f"data_dir={tmp_path / 'data'}",
            "--profile-set",
            f"cache_dir={tmp_path / 'cache'}",
        ],
        capture_output=True,
        text=True,
        cwd=PROJECT,
    )
    assert proc.returncode == 0, proc.stderr
    assert "smplest_x poses: " in proc.stdout and "annotations for poses: " in proc.stdout
    fetched = list(state["gets"])
    assert sorted(fetched) == ["/annotations.tar.gz", f"/smplest_x/{name}"]
    proc = submit(config, tmp_path, "--until", "preprocess")  # compute nodes: nothing to fetch
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert state["gets"] == fetched


HEADER_CHECK = """
import json, sys
from pipeline.fake_poses import fake_pose
from pipeline.pose_headers import renamed_to_known
from pose_format.utils.generic import pose_hide_legs
out = {}
for pose_type in ("sapiens", "smplest_x"):
    pose = fake_pose(pose_type, frames=4)
    names = {c.name: list(c.points) for c in pose.header.components}
    try:
        pose_hide_legs(pose.copy()); pose.copy().normalize(); stock = "ok"
    except Exception as exc:
        stock = type(exc).__name__
    pose.header = renamed_to_known(pose_type, pose.header)
    body = pose.header.components[0]
    pose_hide_legs(pose)
    hidden = [p for i, p in enumerate(body.points) if (pose.body.data[:, :, i] == 0).all()]
    pose.normalize()
    out[pose_type] = dict(names=names, stock=stock, renamed=[c.name for c in pose.header.components], hidden=hidden,
                          points=pose.header.total_points(), fmt=body.format)
print(json.dumps({"result": out}))
"""


@needs_trainer
def test_sapiens_and_smplest_x_fakes_carry_the_producing_codes_headers_and_train_with_stock_pose_format():
    found = run_in("trainer", HEADER_CHECK).result
    sapiens, smplx = found["sapiens"], found["smplest_x"]
    # GerrySant/pose sapiens.py @7a54341: four *_SAPIENS components, 310 Goliath points, side-free hand names
    assert [(n, len(p)) for n, p in sapiens["names"].items()] == [
        ("BODY_SAPIENS", 30),
        ("FACE_SAPIENS", 238),
        ("LEFT_HAND_SAPIENS", 21),
        ("RIGHT_HAND_SAPIENS", 21),
    ]
    body = sapiens["names"]["BODY_SAPIENS"]
    assert body[:7] == ["nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder"]
    assert body[-3:] == ["neck", "left_wrist_body", "right_wrist_body"]
    face = sapiens["names"]["FACE_SAPIENS"]
    assert len(set(face)) == 238 and face[0] == "center_of_glabella" and face[-1] == "r_border_of_pupil_midpoint_2"
    assert sapiens["names"]["LEFT_HAND_SAPIENS"] == sapiens["names"]["RIGHT_HAND_SAPIENS"]
    assert sapiens["names"]["LEFT_HAND_SAPIENS"][0] == "thumb4" and sapiens["names"]["LEFT_HAND_SAPIENS"][-1] == "wrist"
    # smplest_x.py @491bc34: BODY 25, LEFT_HAND 21, RIGHT_HAND 21 (side-free, the wrist last), FACE 72: 139 points
    assert [(n, len(p)) for n, p in smplx["names"].items()] == [
        ("BODY", 25),
        ("LEFT_HAND", 21),
        ("RIGHT_HAND", 21),
        ("FACE", 72),
    ]
    assert smplx["names"]["BODY"][:3] == ["Pelvis", "L_Hip", "R_Hip"] and smplx["names"]["FACE"][-1] == "Face_72"
    assert smplx["names"]["LEFT_HAND"] == smplx["names"]["RIGHT_HAND"]
    assert smplx["names"]["LEFT_HAND"][0] == "Thumb_1" and smplx["names"]["LEFT_HAND"][-1] == "Wrist_Hand"
    # stock pose-format 0.15.0 cannot hide legs or normalise either as written; after the renaming it can
    assert sapiens["stock"] == "ValueError" and smplx["stock"] != "ok"
    legs = [
        "left_hip",
        "right_hip",
        "left_knee",
        "right_knee",
        "left_ankle",
        "right_ankle",
        "left_big_toe",
        "left_small_toe",
        "left_heel",
        "right_big_toe",
        "right_small_toe",
        "right_heel",
    ]
    for entry, points in ((sapiens, 310), (smplx, 139)):
        assert entry["renamed"][0] == "BODY" and sorted(entry["hidden"]) == sorted(legs)
        assert entry["points"] == points and entry["fmt"] == "XYC"
    assert POSE_TYPES["sapiens"].header_source.endswith("sapiens.py @7a54341")
    assert POSE_TYPES["smplest_x"].header_source.endswith("smplest_x.py @491bc34")
    assert (POSE_TYPES["smplest_x"].points, POSE_TYPES["smplest_x"].expected_feat_dim) == (139, 278)  # the original's


WHOLEBODY_CHECK = """
import json
from pipeline.fake_poses import fake_pose
from pipeline.pose_headers import renamed_to_known
from pose_format.utils.generic import detect_known_pose_format, pose_hide_legs
out = {}
for pose_type in ("alphapose_136", "mmposewholebody", "openpifpaf", "sdpose", "openpose"):
    pose = fake_pose(pose_type, frames=4)
    body = pose.header.components[0]
    pose_hide_legs(pose)
    hidden = [p for i, p in enumerate(body.points) if (pose.body.data[:, :, i] == 0).all()]
    pose.normalize()
    out[pose_type] = dict(names={c.name: list(c.points) for c in pose.header.components},
                          detected=detect_known_pose_format(pose), hidden=hidden,
                          renamed=renamed_to_known(pose_type, pose.header) is not None)
from pipeline.stages.estimators.wholebody133 import to_pose
ours = to_pose([None], fps=25.0, width=10, height=10).header.components
out["ours"] = dict(names={c.name: list(c.points) for c in ours}, limbs=sum(len(c.limbs) for c in ours))
print(json.dumps({"result": out}))
"""


@needs_trainer
def test_alphapose_and_coco_wholebody_fakes_carry_the_producing_codes_names_and_need_no_renaming():
    found = run_in("trainer", WHOLEBODY_CHECK).result
    # sign-language-processing/pose alphapose.py @f88c610: face points `face-<i>` (0.15.0's helper: `face_<i>`)
    alpha = found["alphapose_136"]["names"]
    assert [(n, len(p)) for n, p in alpha.items()] == [
        ("BODY_136", 26),
        ("FACE_136", 68),
        ("LEFT_HAND_136", 21),
        ("RIGHT_HAND_136", 21),
    ]
    assert alpha["FACE_136"][:2] == ["face-0", "face-1"] and alpha["BODY_136"][17:20] == ["head_top", "neck", "pelvis"]
    # cocowholebody133_header.py @059cbfc, written by the mmpose, openpifpaf and sdpose code alike: sided hand names
    for pose_type in ("mmposewholebody", "openpifpaf", "sdpose"):
        names = found[pose_type]["names"]
        assert [(n, len(p)) for n, p in names.items()] == [
            ("BODY", 23),
            ("FACE", 68),
            ("LEFT_HAND", 21),
            ("RIGHT_HAND", 21),
        ]
        assert names["LEFT_HAND"][0] == "left_hand_0" and names["RIGHT_HAND"][-1] == "right_hand_20"
        assert names["FACE"][0] == "face-0" and found[pose_type]["detected"] == "coco_wholebody_133"
    assert found["alphapose_136"]["detected"] == "alphapose_136" and found["openpose"]["detected"] == "openpose"
    # our MMPose / OpenPifPaf adapters write the archives' names (with pose-format's limbs)
    ours = found.pop("ours")
    assert ours["names"] == found["mmposewholebody"]["names"] and ours["limbs"] > 0
    # stock pose-format finds their legs and shoulders as written: nothing to rename
    for pose_type, entry in found.items():
        assert entry["hidden"], pose_type
        assert not entry["renamed"], pose_type
    assert "left_knee" in found["sdpose"]["hidden"] and "LKnee" in found["openpose"]["hidden"]


def test_every_pose_type_names_the_producing_code_of_its_header():
    for entry in POSE_TYPES.values():
        assert entry.header_source, entry.name
    assert POSE_TYPES["alphapose_136"].header_source.endswith("alphapose.py @f88c610")
    assert POSE_TYPES["sdpose"].header_source.endswith("cocowholebody133_header.py @059cbfc")
