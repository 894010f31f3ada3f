"""Reading frames: from a video file (OpenCV) or a folder of images (PHOENIX's PNG frames), as RGB arrays.

Problems are `MediaError`s whose message says what was wrong (missing, empty, undecodable), so the estimate
stage can record them per example and go on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


class MediaError(Exception):
    pass


def frame_files(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def video_info(path: Path) -> tuple[int, float, int, int]:
    """(frame count, fps, width, height) of a video, as its container reports them."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise MediaError(f"cannot open video {path}")
        return (
            int(cap.get(cv2.CAP_PROP_FRAME_COUNT)),
            float(cap.get(cv2.CAP_PROP_FPS) or 0.0),
            int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )
    finally:
        cap.release()


def iter_frames(media: str | Path) -> Iterator:
    """RGB uint8 frames of a video file or an image folder."""
    import cv2

    media = Path(media)
    if not media.exists():
        raise MediaError(f"not found: {media}")
    if media.is_dir():
        files = frame_files(media)
        if not files:
            raise MediaError(f"no frame images (.png/.jpg) in {media}")
        for f in files:
            img = cv2.imread(str(f), cv2.IMREAD_COLOR)
            if img is None:
                raise MediaError(f"cannot decode image {f}")
            yield cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        return
    cap = cv2.VideoCapture(str(media))
    try:
        if not cap.isOpened():
            raise MediaError(f"cannot open video {media} (corrupt or unsupported)")
        count = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            count += 1
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        if count == 0:
            raise MediaError(f"no decodable frames in video {media} (corrupt or empty)")
    finally:
        cap.release()


def read_frames(media: str | Path) -> list:
    return list(iter_frames(media))
