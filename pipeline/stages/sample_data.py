"""The project's own sample dataset: a small learnable sign language, written in the official PHOENIX-2014-T layout.

Ten German weather words are ten "signs", each a distinct movement of the head of a real photograph of a person
(scikit-image's bundled `astronaut`, a NASA portrait in the public domain): it moves left, right, up or down, tilts
either way, comes closer or moves away, gets narrower or wider. A sign is held: `PROFILE` gives the amplitude of
each of its frames (in at 80 %, three frames at full amplitude, out at 80 %), which MediaPipe Holistic follows
(face mesh and pose landmarks). The shoulders never move: `Pose.normalize`, which MultimodalHugs applies to every
clip, takes one centre and one scale per clip from the shoulders, so a sign gives the same features in every
sentence.

Why large, held movements: MultimodalHugs layer-normalises each frame's 534 features before its linear mapper, and
most of a frame is the face's fixed place above the shoulders, the same in every frame. A sign only moves the
features a little away from that fixed part; the smaller that share, the longer the tiny model takes to find the
signs at all, and the later and more machine-dependent its learning. Amplitudes about as large as MediaPipe still
tracks (shifts of 60 px, tilts of 40°: the face is found in 2935 of the demo's 2936 frames) and held signs give
that share about twice the size of the earlier small out-and-back movements (see benchmarks/learnability.py).

A sentence is 2–5 distinct signs in a row (amplitudes jittered ±10 % per sign, the picture offset a little per
clip); validation and test sentences are new combinations of the same signs, never seen in training. The text
of each clip is its words, in order. Deterministic: the same arguments write the same bytes. `generate` writes it;
the prepare stage calls it for `dataset.layout: sample`. `unseen_sentences` draws sentences that no split holds.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

from pipeline.stages.datasets import FRAMES_DIR, OFFICIAL_COLUMNS, OFFICIAL_SPLITS, corpus_csv

VERSION = 3  # bump when the clips change: the completion marker and prepare's key carry it
# word -> (movement of the head, signed amplitude): pixels for shifts, degrees for tilts, relative for the rest.
# Only the head moves: the shoulders, which pose-format's normalisation measures, stay where they are, so a
# sign looks the same in every sentence.
SIGNS = {
    "sonne": ("shift_x", -60.0),
    "regen": ("shift_x", 60.0),
    "wind": ("shift_y", -48.0),
    "schnee": ("shift_y", 48.0),
    "nebel": ("tilt", 40.0),
    "wolken": ("tilt", -40.0),
    "morgen": ("zoom", 0.6),
    "abend": ("zoom", -0.45),
    "norden": ("squash", 0.4),
    "süden": ("squash", -0.4),
}
PROFILE = (0.8, 1.0, 1.0, 1.0, 0.8)  # amplitude of each frame of a sign: in, held, out
FRAMES_PER_SIGN = len(PROFILE)
DEFAULT_PER_SPLIT = (120, 12, 32)  # the demo's; `dataset.sample_clips` asks for others
WIDTH, HEIGHT = 210, 260
HEAD = (188.0, 108.0)  # centre of the head in the cropped 512×430 photograph
COMPLETE = ".sample-complete"  # written last, with the generation parameters: anything else is regenerated


def _photo():
    from skimage import data

    return data.astronaut()[:, 40:470]  # the person, centred


def _head_weight(shape):
    """How much each pixel follows a movement of the head (1 on the head, 0 on the body), and the pixel grid."""
    import numpy as np

    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    return np.exp(-(((xx - HEAD[0]) / 85) ** 2 + ((yy - HEAD[1]) / 95) ** 2)).astype(np.float32), xx, yy


def head_matrix(movement: str, amount: float):
    """The 2×3 affine map of head coordinates (relative to the head centre) for one movement."""
    import numpy as np

    a = math.radians(amount) if movement == "tilt" else amount
    matrices = {
        "shift_x": [[1, 0, amount], [0, 1, 0]],
        "shift_y": [[1, 0, 0], [0, 1, amount]],
        "tilt": [[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0]],
        "zoom": [[1 + a, 0, 0], [0, 1 + a, 0]],
        "squash": [[1 - a, 0, 0], [0, 1 + a, 0]],
    }
    return np.array(matrices[movement], dtype=np.float32)


def pose_frame(base, weight, movement: str, amount: float, offset: tuple[float, float]):
    """The photograph with its head moved by `amount` of `movement`, shifted by the clip's offset, at PHOENIX
    size (RGB). A pixel follows the head by its weight (1 on the head, 0 on the body): the output at p shows the
    input at p - w(p) * (M(p - c) - (p - c)), a smooth warp that leaves the shoulders in place."""
    import cv2

    h, w = base.shape[:2]
    head, xx, yy = weight
    m = head_matrix(movement, amount)
    rx, ry = xx - HEAD[0], yy - HEAD[1]
    ux = m[0, 0] * rx + m[0, 1] * ry + m[0, 2] - rx
    uy = m[1, 0] * rx + m[1, 1] * ry + m[1, 2] - ry
    moved = cv2.remap(
        base, xx - head * ux - offset[0], yy - head * uy - offset[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return cv2.resize(moved, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)


def sentence_frames(words: list[str], seed: int) -> list:
    """RGB frames signing `words`: a still frame, each sign in turn, a still frame."""
    base = _photo()
    weight = _head_weight(base.shape)
    rng = random.Random(seed)
    offset = (rng.uniform(-3, 3), rng.uniform(-3, 3))
    frames = [pose_frame(base, weight, "shift_x", 0.0, offset)]
    for word in words:
        movement, amplitude = SIGNS[word]
        amplitude *= rng.uniform(0.9, 1.1)
        for share in PROFILE:
            frames.append(pose_frame(base, weight, movement, amplitude * share, offset))
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
        chosen: list[list[str]] = []
        while len(chosen) < count:
            words = tuple(rng.sample(list(SIGNS), rng.randint(2, 5)))
            if words not in seen:
                seen.add(words)
                chosen.append(list(words))
        out[split] = chosen
    return out


def unseen_sentences(count: int, seed: int, per_split: tuple[int, int, int] = DEFAULT_PER_SPLIT) -> list[list[str]]:
    """`count` distinct sentences of the sample language that no split of the sample with `per_split` clips holds
    (drawn with `seed`; the sample's own is 0): new inputs for a model trained on it (tests of
    `python -m pipeline.translate`). Signed with `sentence_frames(words, seed)` like any clip."""
    seen = {tuple(words) for chosen in sentences(per_split).values() for words in chosen}
    rng = random.Random(seed)
    out: list[list[str]] = []
    while len(out) < count:
        words = tuple(rng.sample(list(SIGNS), rng.randint(2, 5)))
        if words not in seen:
            seen.add(words)
            out.append(list(words))
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
