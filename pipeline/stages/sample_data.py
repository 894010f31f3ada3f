"""The project's own sample dataset: a small learnable sign language, written in the official PHOENIX-2014-T layout.

Twelve German weather words are twelve "signs", each a distinct movement of a real photograph of a person
(scikit-image's bundled `astronaut`, a NASA portrait in the public domain): the whole picture shifts left, right,
up or down, the head turns (rotation about the head) or comes closer or moves away (zoom about the head), the body
moves while the head stays (shoulders up, shoulders down, lean left, lean right). Every movement goes out and back
in `FRAMES_PER_SIGN` frames, so MediaPipe Holistic sees it, and it survives what MultimodalHugs does to poses
(`reduce_holistic`, then one translation and one scale per clip from `Pose.normalize`): per-frame movement is kept.

A sentence is 2–5 distinct signs in a row (amplitudes jittered ±15 % per sign, the picture offset a little per
clip); validation and test sentences are new combinations of the same signs, never seen in training. The text
of each clip is its words, in order. Deterministic: the same arguments write the same bytes.

    python -m pipeline.stages.sample_data OUT [--per-split 12,4,4]
"""
from __future__ import annotations

import argparse
import math
import random
from pathlib import Path

from pipeline.stages.datasets import FRAMES_DIR, OFFICIAL_COLUMNS, OFFICIAL_SPLITS, corpus_csv

VERSION = 2                      # bump when the clips change: the completion marker and prepare's key carry it
# word -> (movement, signed amplitude): pixels for shifts, degrees for turns, relative size for zooms
SIGNS = {
    "sonne": ("shift_x", -34.0), "regen": ("shift_x", 34.0),
    "wind": ("shift_y", -34.0), "schnee": ("shift_y", 34.0),
    "nebel": ("turn", 16.0), "wolken": ("turn", -16.0),
    "morgen": ("zoom", 0.22), "abend": ("zoom", -0.18),
    "norden": ("body_y", -30.0), "süden": ("body_y", 30.0),
    "warm": ("body_x", -30.0), "kalt": ("body_x", 30.0),
}
FRAMES_PER_SIGN = 5
DEFAULT_PER_SPLIT = (12, 4, 4)   # the demo; `dataset.sample_clips` asks for more
WIDTH, HEIGHT = 210, 260
HEAD = (188.0, 108.0)            # centre of the head in the cropped 512×430 photograph
COMPLETE = ".sample-complete"    # written last, with the generation parameters: anything else is regenerated


def _photo():
    from skimage import data
    return data.astronaut()[:, 40:470]                  # the person, centred


def _head_weight(shape):
    """1 on the head, falling to 0 on the body: how much of a head-only movement a pixel follows."""
    import numpy as np
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32)
    return np.exp(-(((xx - HEAD[0]) / 85) ** 2 + ((yy - HEAD[1]) / 95) ** 2)).astype(np.float32), xx, yy


def pose_frame(base, weight, movement: str, amount: float, offset: tuple[float, float]):
    """The photograph moved by `amount` of `movement`, plus the clip's offset, at PHOENIX size (RGB)."""
    import cv2
    h, w = base.shape[:2]
    angle, scale, dx, dy = 0.0, 1.0, offset[0], offset[1]
    if movement == "shift_x":
        dx += amount
    elif movement == "shift_y":
        dy += amount
    elif movement == "turn":
        angle = amount
    elif movement == "zoom":
        scale = 1.0 + amount
    if movement in ("body_x", "body_y"):
        # the body moves, the head stays: sample the input at p - (1 - w(p)) * d
        _, xx, yy = weight
        bx, by = (amount, 0.0) if movement == "body_x" else (0.0, amount)
        body = 1.0 - weight[0]
        moved = cv2.remap(base, xx - body * bx, yy - body * by, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        matrix = cv2.getRotationMatrix2D(HEAD, 0.0, 1.0)
    else:
        moved = base
        matrix = cv2.getRotationMatrix2D(HEAD, angle, scale)
    matrix[:, 2] += (dx, dy)
    moved = cv2.warpAffine(moved, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE)
    return cv2.resize(moved, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)


def sentence_frames(words: list[str], seed: int) -> list:
    """RGB frames signing `words`: a still frame, each sign in turn, a still frame."""
    base = _photo()
    weight = _head_weight(base.shape)
    rng = random.Random(seed)
    offset = (rng.uniform(-4, 4), rng.uniform(-4, 4))
    frames = [pose_frame(base, weight, "shift_x", 0.0, offset)]
    for word in words:
        movement, amplitude = SIGNS[word]
        amplitude *= rng.uniform(0.85, 1.15)
        for t in range(FRAMES_PER_SIGN):
            frames.append(pose_frame(base, weight, movement, amplitude * math.sin(math.pi * (t + 1) /
                                                                                  (FRAMES_PER_SIGN + 1)), offset))
    frames.append(frames[0])
    return frames


def clip_frames(index: int, frames: int) -> list:
    """`frames` frames of signing (random signs, seeded by `index`): test clips and benchmarks of any length."""
    rng = random.Random(index)
    words = [rng.choice(list(SIGNS)) for _ in range(frames // FRAMES_PER_SIGN + 1)]
    return sentence_frames(words, index)[:frames]


def sentences(per_split: tuple[int, int, int], seed: int = 0) -> dict[str, list[list[str]]]:
    """Distinct sentences per split; validation and test sentences never occur in train (or in each other)."""
    rng = random.Random(seed)
    seen: set[tuple[str, ...]] = set()
    out = {}
    for split, count in zip(OFFICIAL_SPLITS, per_split):
        chosen = []
        while len(chosen) < count:
            words = tuple(rng.sample(list(SIGNS), rng.randint(2, 5)))
            if words not in seen:
                seen.add(words)
                chosen.append(list(words))
        out[split] = chosen
    return out


def marker_text(per_split: tuple[int, int, int]) -> str:
    return f"version {VERSION}, clips {','.join(map(str, per_split))}\n"


def is_complete(root: Path, per_split: tuple[int, int, int] = DEFAULT_PER_SPLIT) -> bool:
    marker = Path(root) / COMPLETE
    return marker.exists() and marker.read_text() == marker_text(per_split)


def generate(root: Path, per_split: tuple[int, int, int] = DEFAULT_PER_SPLIT, frames: int | None = None) -> Path:
    """Write the sample tree under `root` (the folder that plays PHOENIX-2014-T). Returns root.
    `frames` cuts every clip to that many frames (tests of the layout that want short clips)."""
    import cv2

    root = Path(root)
    (root / COMPLETE).unlink(missing_ok=True)
    index = 0
    for split, chosen in sentences(per_split).items():
        rows = ["|".join(OFFICIAL_COLUMNS)]
        for words in chosen:
            clip = f"sample{index:03d}_{split}"
            folder = root / FRAMES_DIR / OFFICIAL_SPLITS[split] / clip
            folder.mkdir(parents=True, exist_ok=True)
            for old in folder.glob("*.png"):
                old.unlink()
            for t, frame in enumerate(sentence_frames(words, index)[:frames], start=1):
                cv2.imwrite(str(folder / f"images{t:04d}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            text = " ".join(words)
            rows.append("|".join([clip, "-1", "-1", "-1", f"Signer{index % 3 + 1:02d}", text.upper(), text]))
            index += 1
        path = corpus_csv(root, split)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    (root / COMPLETE).write_text(marker_text(per_split))
    return root


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipeline.stages.sample_data",
                                     description="Write the project's sample dataset (official PHOENIX layout).")
    parser.add_argument("out", type=Path)
    parser.add_argument("--per-split", default=",".join(map(str, DEFAULT_PER_SPLIT)),
                        help="clips in train,validation,test (default %(default)s)")
    args = parser.parse_args(argv)
    counts = tuple(int(x) for x in args.per_split.split(","))
    print(f"sample dataset written to {generate(args.out, counts)}")


if __name__ == "__main__":
    main()
