"""Any corpus: the manifest layout (segments of long videos, per-row languages, bad rows by file:line) and the
How2Sign release in both its variants, read directly and run for real (MediaPipe on generated videos, MMH)."""

import csv
import json
from pathlib import Path

import pytest

from pipeline.errors import UserError
from pipeline.stages.corpus import HOW2SIGN_HEADER, read_corpus

from conftest import PROJECT, assert_scored_as_written, needs_mediapipe, needs_trainer, output_dir, run_in, submit

# Videos of the sample's signs (real frames MediaPipe follows), written as mp4 at 25 fps: {name: frames}.
MAKE_VIDEOS = """
import json, sys, cv2
from pathlib import Path
from pipeline.stages.sample_data import clip_frames
for i, (rel, frames) in enumerate(json.loads(sys.argv[1]).items()):
    path = Path(rel)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (210, 260))
    for frame in clip_frames(i, frames):
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
"""


def frame_folder(path: Path, frames: int) -> Path:
    """A folder of (empty) frame images: enough for prepare, which only counts them."""
    path.mkdir(parents=True, exist_ok=True)
    for i in range(frames):
        (path / f"{i:04d}.png").write_bytes(b"")
    return path


def write(path: Path, rows: list[list], delimiter: str = "\t") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, delimiter=delimiter).writerows(rows)
    return path


def manifest_settings(**extra) -> dict:
    return {
        "layout": "manifest",
        "splits": {"train": "train.tsv", "validation": "dev.csv", "test": "test.tsv"},
        "columns": {
            "media": "video",
            "text": "sentence",
            "id": "id",
            "start": "from",
            "end": "to",
            "source_lang": "sl",
            "target_lang": "tl",
        },
        **extra,
    }


HEADER = ["id", "video", "from", "to", "sentence", "sl", "tl"]  # the fixture corpus's columns


@pytest.fixture
def corpus(tmp_path):
    """Two long recordings (frame folders of 100 and 50 frames) and their sentences, one file per split."""
    root = tmp_path / "corpus"
    frame_folder(root / "media" / "a", 100)
    frame_folder(root / "media" / "b", 50)
    write(
        root / "train.tsv",
        [
            HEADER,
            ["s1", "media/a", "0", "1.5", "guten morgen", "dgs", "de"],
            ["s2", "media/a", "1.5", "3", "regen im norden", "", ""],
            ["s3", "media/b", "", "", "sonne", "", ""],
        ],
    )
    write(root / "dev.csv", [HEADER, ["d1", "media/b", "0.2", "1.0", "wind", "", ""]], delimiter=",")
    write(root / "test.tsv", [HEADER, ["t1", "media/a", "3", "4", "nebel", "", ""]])
    return root


def test_segments_share_their_recordings_pose_and_carry_their_times(corpus):
    examples, problems = read_corpus(manifest_settings(), corpus)
    assert problems == []
    by_id = {e.id: e for e in examples}
    assert [e.split for e in examples] == ["train"] * 3 + ["validation", "test"]
    assert by_id["s1"].pose_name == by_id["s2"].pose_name == by_id["t1"].pose_name == "media__a"
    assert by_id["s3"].pose_name == by_id["d1"].pose_name == "media__b"
    assert (by_id["s2"].start, by_id["s2"].end, by_id["s2"].frames, by_id["s2"].fps) == (1.5, 3.0, 100, 25.0)
    assert not by_id["s3"].is_segment and by_id["s1"].is_segment
    assert (by_id["s1"].source_lang, by_id["s1"].target_lang, by_id["s2"].source_lang) == ("dgs", "de", "")


def test_time_units_milliseconds_and_frames(corpus):
    ms = read_corpus({**manifest_settings(time_unit="milliseconds")}, corpus)[0]
    assert (ms[0].start, ms[0].end) == (0.0, 0.0015)
    frames = read_corpus({**manifest_settings(time_unit="frames", fps=50)}, corpus)[0]
    assert (frames[1].start, frames[1].end) == (1.5 / 50, 3 / 50)  # frame folders at dataset.fps


def test_bad_rows_are_reported_by_file_line_and_id_and_kept_with_their_problem(corpus):
    write(
        corpus / "train.tsv",
        [
            HEADER,
            ["ok", "media/a", "0", "1", "gut", "", ""],
            ["late", "media/a", "3", "9", "zu lang", "", ""],
            ["back", "media/a", "2", "1", "rückwärts", "", ""],
            ["gone", "media/zzz", "", "", "fehlt", "", ""],
            ["mute", "media/b", "", "", "  ", "", ""],
            ["ok", "media/b", "", "", "doppelt", "", ""],
            ["word", "media/a", "x", "2", "keine zahl", "", ""],
        ],
    )
    examples, problems = read_corpus(manifest_settings(), corpus)
    where = f"{corpus / 'train.tsv'}"
    assert problems == [
        f"{where}:3: late: segment 3.000-9.000 s ends after the media (4.000 s)",
        f"{where}:4: back: end 1 is not after start 2",
        f"{where}:5: gone: media 'media/zzz' not found ({corpus / 'media' / 'zzz'})",
        f"{where}:6: mute: empty text",
        f"{where}:7: ok: id used twice; give every row its own id",
        f"{where}:8: word: start 'x' and end '2': expected two numbers (seconds)",
    ]
    train = [e for e in examples if e.split == "train"]
    assert len(train) == 7 and [bool(e.problem) for e in train] == [False] + [True] * 6  # none silently dropped


def test_missing_column_and_missing_split_file_fail_in_one_line(corpus):
    with pytest.raises(
        UserError, match=r"train.tsv:1: no column 'text' \(dataset.columns.text\); the header has: id, video"
    ):
        read_corpus(manifest_settings(columns={"media": "video"}), corpus)
    (corpus / "test.tsv").unlink()
    with pytest.raises(UserError, match=r"test.tsv: no such file \(the test manifest; dataset.splits.test\)"):
        read_corpus(manifest_settings(), corpus)


def test_config_checks_the_manifest_settings(tmp_path):
    from pipeline.config import load_experiment

    with pytest.raises(UserError, match="dataset.splits: layout manifest needs one file per split"):
        load_experiment(
            PROJECT / "config/demo.yaml",
            ["dataset.layout=manifest", "dataset.root=/x", "dataset.splits={train: a.tsv}"],
        )
    with pytest.raises(UserError, match=r"dataset.time_unit: unknown value 'hours'"):
        load_experiment(PROJECT / "config/demo.yaml", ["dataset.time_unit=hours"])
    with pytest.raises(UserError, match=r"dataset.columns.speaker \(a role\): unknown value"):
        load_experiment(PROJECT / "config/demo.yaml", ["dataset.columns={speaker: s}"])


# ------------------------------------------------------------------ for real: MediaPipe and MMH


def how2sign_tree(root: Path, variant: str) -> Path:
    """A How2Sign-shaped download: realigned CSVs (tab-separated despite .csv) and either sentence clips or
    raw videos, in the folders the release's archives unpack to."""
    videos = {"vidA-1-rgb_front": 60, "vidB-2-rgb_front": 45}
    sentences = {
        "train": [
            ("vidA-1-rgb_front", 0, "0.20", "1.00", "hello there"),
            ("vidA-1-rgb_front", 1, "1.10", "2.20", "the weather is fine"),
            ("vidB-2-rgb_front", 0, "0.00", "0.80", "good morning"),
        ],
        "val": [("vidB-2-rgb_front", 1, "0.90", "1.70", "rain in the north")],
        "test": [("vidA-1-rgb_front", 2, "1.50", "2.30", "wind from the west")],
    }
    files = {}
    for split, rows in sentences.items():
        table = [HOW2SIGN_HEADER]
        for video, n, start, end, text in rows:
            table.append([video.split("-")[0], video, f"{video.split('-')[0]}_{n}", f"{video}_{n}", start, end, text])
            files[f"{root}/{split}/rgb_front/clips/{video}_{n}.mp4"] = 20
        write(root / "how2sign" / f"how2sign_realigned_{split}.csv", table)
    if variant == "videos":
        files = {f"{root}/train/rgb_front/raw_videos/{v}.mp4": n for v, n in videos.items()}
    run_in("mediapipe", MAKE_VIDEOS, json.dumps(files))
    return root


def how2sign_config(tmp_path: Path, root: Path, media: str) -> Path:
    path = tmp_path / f"h2s-{media}.yaml"
    path.write_text(
        f"extends: {PROJECT / 'config/smoke.yaml'}\nname: h2s\n"
        f"dataset: {{name: h2s, layout: how2sign, root: {root}, media: {media}, sample_clips: null}}\n"
        "estimate: {shards: 1}\npreprocess: {encoder_prompt: __asl__, decoder_prompt: __en__}\n"
    )
    return path


def read_tsv(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


@needs_mediapipe
@needs_trainer
@pytest.mark.slow
def test_how2sign_raw_videos_are_estimated_once_and_train_through_evaluate(tmp_path):
    root = how2sign_tree(tmp_path / "h2s", "videos")
    proc = submit(how2sign_config(tmp_path, root, "videos"), tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    estimate_log = next((tmp_path / "jobs" / "h2s" / "logs").glob("estimate-*_0.out")).read_text()
    assert "5 examples: 2 source media to estimate" in estimate_log
    poses = sorted(p.name for p in output_dir(tmp_path, "h2s", "estimate").glob("*.pose"))
    assert poses == [
        "train__rgb_front__raw_videos__vidA-1-rgb_front.pose",
        "train__rgb_front__raw_videos__vidB-2-rgb_front.pose",
    ]
    pre = output_dir(tmp_path, "h2s", "preprocess")
    train = read_tsv(pre / "train.tsv")
    assert [(r["signal_start"], r["signal_end"], r["encoder_prompt"], r["decoder_prompt"]) for r in train] == [
        ("200", "1000", "__asl__", "__en__"),
        ("1100", "2200", "__asl__", "__en__"),
        ("0", "800", "__asl__", "__en__"),
    ]
    assert train[0]["signal"] == train[1]["signal"] != train[2]["signal"]
    assert json.loads((pre / "prompts.json").read_text()) == {"encoder": ["__asl__"], "decoder": ["__en__"]}
    # 20 steps: the plumbing, not the model; the score is of what it wrote
    assert_scored_as_written(output_dir(tmp_path, "h2s", "translate"), output_dir(tmp_path, "h2s", "evaluate"), 1)


@needs_mediapipe
@needs_trainer
def test_how2sign_sentence_clips_and_a_manifest_of_segments_with_a_bad_row(tmp_path):
    root = how2sign_tree(tmp_path / "h2s", "clips")
    proc = submit(how2sign_config(tmp_path, root, "clips"), tmp_path, "--until", "preprocess")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    train = read_tsv(output_dir(tmp_path, "h2s", "preprocess") / "train.tsv")
    assert [(r["signal_start"], r["signal_end"]) for r in train] == [("0", "0")] * 3  # clips: whole files
    assert len({r["signal"] for r in train}) == 3

    # a manifest of 4 segments of 2 long videos (shared across splits), one of them past its video's end
    corpus = tmp_path / "corpus"
    run_in("mediapipe", MAKE_VIDEOS, json.dumps({f"{corpus}/rec/one.mp4": 50, f"{corpus}/rec/two.mp4": 40}))
    header = ["clip", "file", "start_ms", "end_ms", "text"]
    write(
        corpus / "train.tsv",
        [
            header,
            ["a", "rec/one.mp4", "0", "900", "sonne"],
            ["b", "rec/two.mp4", "400", "1500", "regen"],
            ["c", "rec/one.mp4", "1000", "9000", "zu lang"],
        ],
    )
    write(corpus / "dev.tsv", [header, ["d", "rec/two.mp4", "0", "700", "wind"]])
    write(corpus / "test.tsv", [header, ["e", "rec/one.mp4", "1200", "1900", "nebel"]])
    config = tmp_path / "corpus.yaml"
    config.write_text(
        f"extends: {PROJECT / 'config/smoke.yaml'}\nname: corpus\n"
        f"dataset: {{name: corpus, layout: manifest, root: {corpus}, sample_clips: null,\n"
        "  splits: {train: train.tsv, validation: dev.tsv, test: test.tsv}, time_unit: milliseconds,\n"
        "  columns: {id: clip, media: file, start: start_ms, end: end_ms, text: text}}\n"
        "estimate: {shards: 1}\npreprocess: {max_missing_fraction: 0.5}\n"
    )
    proc = submit(config, tmp_path, "--until", "preprocess")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    logs = tmp_path / "jobs" / "corpus" / "logs"
    assert "5 examples: 2 source media to estimate" in next(logs.glob("estimate-*_0.out")).read_text()
    assert (
        f"{corpus / 'train.tsv'}:4: c: segment 1.000-9.000 s ends after the media (2.000 s)"
        in next(logs.glob("prepare-*.out")).read_text()
    )
    pre = output_dir(tmp_path, "corpus", "preprocess")
    train = read_tsv(pre / "train.tsv")
    assert [(Path(r["signal"]).name, r["signal_start"], r["signal_end"]) for r in train] == [
        ("rec__one.pose", "0", "900"),
        ("rec__two.pose", "400", "1500"),
    ]
    assert read_tsv(pre / "test.tsv")[0]["signal"] == train[0]["signal"]  # the same pose, another split
    assert "train\tc\tsegment 1.000-9.000 s ends after the media" in (pre / "problems.txt").read_text()


def test_an_empty_predictions_file_is_one_empty_translation(tmp_path):
    from pipeline.stages.evaluate import read_hypotheses

    (tmp_path / "p.txt").write_text("")
    (tmp_path / "q.txt").write_text("a b\n\nc")
    assert read_hypotheses(tmp_path / "p.txt") == [""]
    assert read_hypotheses(tmp_path / "q.txt") == ["a b", "", "c"]
