"""Using a finished run's model: `python -m pipeline.translate` on new inputs, `python -m pipeline.export` to a folder
MultimodalHugs alone translates with, and their bad inputs (one line each, nothing written).

The quick ones use the session's smoke run (conftest.smoke_run: 20 training steps, so its translations are empty
lines, but its poses, prompts and plumbing are real). The slow ones use the demo and its shuffled control
(conftest.trained_demo, shared with tests/test_learnability.py): sentences of the sample language that no split
holds, signed as new videos, must be translated with BLEU >= 50 by the demo and near zero by the control."""

import csv
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from pipeline.errors import UserError
from pipeline.translate import classify

from conftest import PROJECT, TrainedDemo, needs_mediapipe, needs_trainer, output_dir, run_in, submit, venv_python

NEW_CLIPS = 20  # sentences no split of the demo holds (at least 16)
BLEU_FLOOR, CONTROL_CEILING = 50.0, 10.0

# Videos (mp4 at 25 fps) signing sentences of the sample language that no split of the demo holds; prints their texts.
MAKE_UNSEEN_VIDEOS = """
import json, sys, cv2
from pathlib import Path
from pipeline.stages.sample_data import HEIGHT, WIDTH, sentence_frames, unseen_sentences
folder, texts = Path(sys.argv[1]), {}
folder.mkdir(parents=True, exist_ok=True)
for i, words in enumerate(unseen_sentences(int(sys.argv[2]), seed=7)):
    path = folder / f"new{i:02d}.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (WIDTH, HEIGHT))
    for frame in sentence_frames(words, 1000 + i):
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    texts[str(path)] = " ".join(words)
print(json.dumps({"result": texts}))
"""
BLEU = """
import json, sys
from sacrebleu.metrics import BLEU
print(json.dumps({"result": BLEU().corpus_score(json.loads(sys.argv[1]), [json.loads(sys.argv[2])]).score}))
"""


def command(module: str, *args, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, *map(str, args)],
        capture_output=True,
        text=True,
        cwd=PROJECT,
        env={**os.environ, **(env or {})},
    )


def read_tsv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def stage_translations(work: Path, run: str) -> dict[str, str]:
    """The translate stage's hypotheses by example id (the test TSV's order)."""
    rows = read_tsv(output_dir(work, run, "preprocess") / "test.tsv")
    hyps = (output_dir(work, run, "translate") / "generated_predictions.txt").read_text(encoding="utf-8").split("\n")
    return {Path(row["signal"]).stem: hyp for row, hyp in zip(rows, hyps)}


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


def translate_with_multimodalhugs_alone(folder: Path, tsv: Path, home: Path) -> list[str]:
    """The model card's commands, run as written in the exported folder with the trainer venv's console scripts on
    PATH: no project code on the path, a fresh Hugging Face home, offline."""
    (folder / "inputs.tsv").write_bytes(tsv.read_bytes())
    block = re.search(r"```bash\n(.*?)```", (folder / "README.md").read_text(), re.S)
    assert block, "the model card shows no commands"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(
        PATH=f"{venv_python('trainer').parent}:{os.environ['PATH']}",
        HF_HOME=str(home),
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
    )
    lines = [line for line in block.group(1).splitlines() if line.strip()]
    assert [shlex.split(line)[0] for line in lines] == ["multimodalhugs-setup", "multimodalhugs-generate"]
    for line in lines:
        proc = subprocess.run(shlex.split(line), cwd=folder, env=env, capture_output=True, text=True)
        assert proc.returncode == 0, line + "\n" + proc.stdout[-3000:] + proc.stderr[-3000:]
    return (folder / "work" / "generated_predictions.txt").read_text(encoding="utf-8").split("\n")


def run_of(pose_type: str) -> SimpleNamespace:
    """What `classify` reads of a finished run."""
    return SimpleNamespace(experiment=SimpleNamespace(estimate=SimpleNamespace(estimator=pose_type)))


def test_a_video_for_a_pose_type_without_an_estimator_is_refused_in_one_line(tmp_path):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"not decoded here")
    with pytest.raises(UserError, match=r"clip\.mp4: not a \.pose file .*openpose has no estimator here") as err:
        classify([str(video)], run_of("openpose"))
    assert "\n" not in str(err.value)
    assert [item.kind for item in classify([str(video), str(tmp_path)], run_of("mediapipe"))] == ["video", "frames"]
    with pytest.raises(UserError, match=r"^nowhere\.mp4: no such file or folder$"):
        classify(["nowhere.mp4"], run_of("mediapipe"))


@needs_mediapipe
@needs_trainer
class TestWithTheSmokeRun:
    def test_the_runs_own_test_clips_get_its_poses_prompts_and_translations(self, smoke_run, tmp_path):
        """Frame folders and a .pose of the run's own test split, translated as new inputs: estimation gives the
        run's own poses byte for byte, the rows its prompts, generate the translate stage's hypotheses."""
        examples = read_tsv(output_dir(smoke_run, "smoke", "prepare") / "test.tsv")
        poses = output_dir(smoke_run, "smoke", "estimate")
        inputs = [str(poses / f"{examples[0]['id']}.pose"), *(e["media"] for e in examples[1:])]
        out = tmp_path / "out"
        proc = command("pipeline.translate", smoke_run / "jobs" / "smoke", *inputs, "--out", out)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        expected = stage_translations(smoke_run, "smoke")
        assert proc.stdout.splitlines() == [f"{i}\t{expected[e['id']]}" for i, e in zip(inputs, examples)]
        spec = json.loads((out / "spec.json").read_text())
        assert [item["kind"] for item in spec["inputs"]] == ["pose"] + ["frames"] * (len(examples) - 1)
        for item, example in zip(spec["inputs"][1:], examples[1:]):
            estimated = out / "estimated" / f"{item['name']}.pose"
            assert estimated.read_bytes() == (poses / f"{example['id']}.pose").read_bytes()
        rows, test_rows = (
            read_tsv(out / "work" / "inputs.tsv"),
            read_tsv(output_dir(smoke_run, "smoke", "preprocess") / "test.tsv"),
        )
        prompts = [(r["encoder_prompt"], r["decoder_prompt"]) for r in rows]
        assert prompts == [(r["encoder_prompt"], r["decoder_prompt"]) for r in test_rows]
        assert all(r["output"] and r["signal_start"] == r["signal_end"] == "0" for r in rows)
        report = json.loads((out / "translation.json").read_text())
        stage = json.loads((output_dir(smoke_run, "smoke", "translate") / ".done.json").read_text())
        assert report["run"] == "smoke" and report["checkpoint"] == stage["checkpoint"] and report["num_beams"] == 2
        assert report["timings_s"]["estimate"] > 0 and report["timings_s"]["generate"] > 0
        assert [t["input"] for t in report["translations"]] == [str(Path(i).resolve()) for i in inputs]

    def test_the_exported_model_translates_with_multimodalhugs_alone(self, smoke_run, tmp_path):
        folder = tmp_path / "exported"
        proc = command("pipeline.export", smoke_run / "jobs" / "smoke", folder)
        assert proc.returncode == 0, proc.stderr
        assert not (folder / "model" / "optimizer.pt").exists() and (folder / "model" / "model.safetensors").exists()
        for config in (folder / "model" / "config.json", folder / "processor" / "processor_config.json"):
            assert str(smoke_run) not in config.read_text()  # nothing points at the machine it was trained on
        hyps = translate_with_multimodalhugs_alone(
            folder, output_dir(smoke_run, "smoke", "preprocess") / "test.tsv", tmp_path / "hf"
        )
        assert hyps == list(stage_translations(smoke_run, "smoke").values())
        card = (folder / "README.md").read_text()
        matter = yaml.safe_load(card.split("---\n")[1])
        bleu = json.loads((output_dir(smoke_run, "smoke", "evaluate") / "test_score.bleu").read_text())
        assert (
            matter["language"] == ["de", "dgs"] and "mediapipe" in matter["tags"] and matter["datasets"] == ["sample"]
        )
        metrics = matter["model-index"][0]["results"][0]["metrics"]
        assert metrics[0]["type"] == "bleu" and metrics[0]["value"] == bleu["score"]
        commit = json.loads((smoke_run / "jobs" / "smoke" / "submission.json").read_text())["git_commit"]
        for fact in ("534 features per frame", "person reduction", "header renaming", "`__dgs__`", commit, "2 beams"):
            assert fact in card, fact

    def test_bad_inputs_stop_in_one_line_and_leave_nothing(self, smoke_run, tmp_path):
        run_dir = smoke_run / "jobs" / "smoke"
        video = tmp_path / "broken.mp4"
        video.write_bytes(os.urandom(4096))
        error = one_line_error(command("pipeline.translate", run_dir, video, "--out", tmp_path / "a"))
        assert f"{video}: cannot be decoded" in error and not (tmp_path / "a").exists()

        other = tmp_path / "openpose.pose"
        run_in(
            "trainer",
            "import sys; from pathlib import Path; from pipeline.fake_poses import fake_pose, write_pose; "
            "write_pose(fake_pose('openpose'), Path(sys.argv[1]))",
            str(other),
        )
        error = one_line_error(command("pipeline.translate", run_dir, other))  # default out: <data_dir>/translations
        assert f"{other}: not a mediapipe pose file" in error and not (smoke_run / "data" / "translations").exists()

        failed = submit(
            "config/smoke.yaml",
            smoke_run,
            "--set",
            "name=unfinished",
            "--set",
            "training.seed=98",
            env={"PIPELINE_FAIL_STAGE": "train"},
        )
        assert failed.returncode == 1, failed.stdout + failed.stderr
        for module, args in (("pipeline.translate", [other]), ("pipeline.export", [tmp_path / "b"])):
            error = one_line_error(command(module, smoke_run / "jobs" / "unfinished", *args))
            assert "run unfinished: its training never finished" in error
        assert not (tmp_path / "b").exists()

        taken = tmp_path / "taken"
        taken.mkdir()
        (taken / "keep.txt").write_text("mine")
        for module, args in (("pipeline.export", [taken]), ("pipeline.translate", [other, "--out", taken])):
            error = one_line_error(command(module, run_dir, *args))
            assert f"{taken}: exists and is not empty" in error
        assert [p.name for p in taken.iterdir()] == ["keep.txt"] and sorted(p.name for p in tmp_path.iterdir()) == [
            "broken.mp4",
            "openpose.pose",
            "taken",
        ]

    def test_a_slurm_profile_estimates_on_cpus_and_generates_on_a_gpu(self, smoke_run, tmp_path):
        video = tmp_path / "clip.mp4"
        video.write_bytes(b"read by the jobs, not here")
        pose = next(output_dir(smoke_run, "smoke", "estimate").glob("*.pose"))
        out = tmp_path / "out"
        proc = command(
            "pipeline.translate",
            smoke_run / "jobs" / "smoke",
            video,
            pose,
            "--profile",
            "uzh",
            "--dry-run",
            "--out",
            out,
        )
        assert proc.returncode == 0, proc.stderr
        estimate, translate = (out / "estimate.sbatch").read_text(), (out / "translate.sbatch").read_text()
        assert "#SBATCH --gpus" not in estimate and " --nv " not in estimate
        assert "#SBATCH --gpus-per-node=A100:1" in translate and " --nv " in translate
        assert "pipeline.stages.estimate_inputs" in estimate and "pipeline.stages.translate_inputs" in translate
        for path in (video, pose, output_dir(smoke_run, "smoke", "train")):
            assert f"--bind {path}:{path}:ro" in translate
        spec = json.loads((out / "spec.json").read_text())
        assert spec["use_gpu"] is True and [i["kind"] for i in spec["inputs"]] == ["video", "pose"]
        assert not (out / "translations.tsv").exists()


def bleu_of(hyps: list[str], refs: list[str]) -> float:
    return run_in("trainer", BLEU, json.dumps(hyps), json.dumps(refs)).result


@pytest.mark.slow
@needs_mediapipe
@needs_trainer
class TestWithTheDemo:
    def test_new_sentences_signed_in_new_videos_are_translated_and_the_control_is_not(
        self, trained_demo: TrainedDemo, tmp_path
    ):
        texts = run_in("mediapipe", MAKE_UNSEEN_VIDEOS, str(tmp_path / "videos"), str(NEW_CLIPS)).result
        seen = {
            row["output"]
            for split in ("train", "validation", "test")
            for row in read_tsv(output_dir(trained_demo.work, "demo", "preprocess") / f"{split}.tsv")
        }
        assert len(texts) == NEW_CLIPS and not seen & set(texts.values())
        scores = {}
        for run in ("demo", "control"):
            proc = command("pipeline.translate", trained_demo.work / "jobs" / run, *texts, "--out", tmp_path / run)
            assert proc.returncode == 0, proc.stdout + proc.stderr
            pairs = [line.split("\t") for line in proc.stdout.splitlines()]
            assert [p[0] for p in pairs] == list(texts)
            scores[run] = bleu_of([p[1] for p in pairs], list(texts.values()))
            timings = json.loads((tmp_path / run / "translation.json").read_text())["timings_s"]
            print(f"{run}: BLEU {scores[run]:.3f} on {NEW_CLIPS} new videos; seconds {timings}")
        assert scores["demo"] >= BLEU_FLOOR and scores["control"] < CONTROL_CEILING, scores

    def test_the_exported_demo_translates_its_test_split_with_multimodalhugs_alone(self, trained_demo, tmp_path):
        work, folder = trained_demo.work, tmp_path / "demo-model"
        proc = command("pipeline.export", work / "jobs" / "demo", folder)
        assert proc.returncode == 0, proc.stderr
        test_tsv = output_dir(work, "demo", "preprocess") / "test.tsv"
        hyps = translate_with_multimodalhugs_alone(folder, test_tsv, tmp_path / "hf")
        expected = list(stage_translations(work, "demo").values())
        assert hyps == expected and sum(map(bool, hyps)) == len(hyps)  # real sentences, the translate stage's
