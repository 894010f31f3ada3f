"""The project's own sample dataset, written in the official PHOENIX-2014-T layout (PNG frames + `|` CSVs).

Each clip is a real photograph of a person (scikit-image's bundled `astronaut`, a NASA portrait in the public
domain) moved and scaled a little per frame, at PHOENIX's frame size (210×260) and 25 fps, paired with a German
weather sentence written for this project. MediaPipe finds her body and face in every frame; her hands are not in
the picture, so hand landmarks stay at confidence 0 (the real-video test on ../shared/data checks hands).

    python -m pipeline.stages.sample_data OUT [--per-split 12,4,4] [--frames 16]
"""
from __future__ import annotations

import argparse
import random
from pathlib import Path

from pipeline.stages.datasets import FRAMES_DIR, OFFICIAL_COLUMNS, OFFICIAL_SPLITS, corpus_csv

SENTENCES = [
    "morgen scheint im süden die sonne",
    "im norden regnet es am abend",
    "der wind weht schwach aus westen",
    "in der nacht wird es kalt",
    "am wochenende bleibt es freundlich",
    "im osten gibt es gewitter",
    "die temperaturen steigen am nachmittag",
    "an der küste weht ein starker wind",
    "im bergland fällt etwas schnee",
    "am morgen gibt es nebel im tal",
    "es bleibt trocken und mild",
    "im westen ziehen wolken auf",
    "morgen regnet es im norden",
    "am abend scheint im westen die sonne",
    "in der nacht gibt es nebel",
    "im süden wird es warm",
    "der wind weht stark aus osten",
    "am nachmittag regnet es im bergland",
    "es bleibt im osten kalt",
    "am wochenende gibt es gewitter im süden",
]
WIDTH, HEIGHT = 210, 260
COMPLETE = ".sample-complete"    # written last: a tree without it is regenerated


def clip_frames(index: int, frames: int) -> list:
    """RGB frames of clip `index`: the portrait, shifted and zoomed a little per frame (deterministic)."""
    import cv2
    import numpy as np
    from skimage import data

    base = data.astronaut()[:, 40:470]                  # the person, centred
    rng = random.Random(index)
    dx, dy, dz = rng.uniform(-1.5, 1.5), rng.uniform(-1.0, 1.0), rng.uniform(-0.004, 0.004)
    out = []
    for t in range(frames):
        scale = 1.0 + dz * t
        matrix = cv2.getRotationMatrix2D((base.shape[1] / 2, base.shape[0] / 2), 0.3 * np.sin(t / 3 + index), scale)
        matrix[:, 2] += (dx * t, dy * t)
        moved = cv2.warpAffine(base, matrix, (base.shape[1], base.shape[0]), borderMode=cv2.BORDER_REFLECT)
        out.append(cv2.resize(moved, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA))
    return out


def generate(root: Path, per_split: tuple[int, int, int] = (12, 4, 4), frames: int = 16) -> Path:
    """Write the sample tree under `root` (the folder that plays PHOENIX-2014-T). Returns root."""
    import cv2

    root = Path(root)
    index = 0
    for (split, name), count in zip(OFFICIAL_SPLITS.items(), per_split):
        rows = ["|".join(OFFICIAL_COLUMNS)]
        for i in range(count):
            clip = f"sample{index:03d}_{split}"
            folder = root / FRAMES_DIR / name / clip
            folder.mkdir(parents=True, exist_ok=True)
            for t, frame in enumerate(clip_frames(index, frames), start=1):
                cv2.imwrite(str(folder / f"images{t:04d}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            text = SENTENCES[index % len(SENTENCES)]
            rows.append("|".join([clip, "-1", "-1", "-1", f"Signer{index % 3 + 1:02d}", text.upper(), text]))
            index += 1
        path = corpus_csv(root, split)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    (root / COMPLETE).write_text(f"{sum(per_split)} clips x {frames} frames\n")
    return root


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the project's sample dataset (official PHOENIX layout).")
    parser.add_argument("out", type=Path)
    parser.add_argument("--per-split", default="12,4,4", help="clips in train,validation,test")
    parser.add_argument("--frames", type=int, default=16, help="frames per clip")
    args = parser.parse_args(argv)
    counts = tuple(int(x) for x in args.per_split.split(","))
    print(f"sample dataset written to {generate(args.out, counts, args.frames)}")


if __name__ == "__main__":
    main()
