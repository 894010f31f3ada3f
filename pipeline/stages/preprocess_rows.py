"""preprocess's rows and report: the TSV rows of each split and what the log says of them.

From a split's examples, each already paired with its checked pose file and the reason it is left out (see
preprocess.py), this module builds the rows (problem lines, the `model.max_frames` filter counted as MultimodalHugs
counts frames, the prompts, the shuffle control), writes the split's TSV, counts it and refuses a split that lost
more than `max_missing_fraction`; at the end it writes problems.txt and prompts.json and prints the closing report
(the problems shown, the max_frames note, the pose-noise note). It reads no pose file itself.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from pipeline.errors import UserError
from pipeline.stages.manifest import Example
from pipeline.stages.markers import write_problems
from pipeline.stages.mmh_tsv import write_tsv
from pipeline.stages.pose_checks import CheckedPose
from pipeline.stages.specs import PreprocessSpec

SHOWN = 200  # problems printed at the end of a run (all of them are in problems.txt)
SHOWN_ON_FAILURE = 20  # problems printed when a split is refused


@dataclass
class SplitRows:
    """One split's TSV rows and its counts: `left_out` (examples and orphan poses reported as problems),
    `too_long` (training/validation examples longer than `model.max_frames`), `total` (examples and orphans)."""

    split: str
    total: int
    rows: list[dict] = field(default_factory=list)
    left_out: int = 0
    too_long: int = 0

    def counts(self) -> dict:
        """The split's entry in the stage's result."""
        return {"kept": len(self.rows), "left_out": self.left_out, "longer_than_max_frames": self.too_long}

    def longer_note(self, max_frames: Optional[int]) -> str:
        """The clause the log and the refusal add when examples were longer than `max_frames` (else empty)."""
        return f", {self.too_long} longer than model.max_frames ({max_frames})" if self.too_long else ""


def mmh_frames(frames: int, fps: float, start_ms: int, end_ms: int) -> int:
    """The frames MultimodalHugs 0.5.4 counts for a TSV row when it filters by `max_frames`: its pose2text dataset
    reads the file with pose-format's `start_time` / `end_time` (milliseconds; 0 means unset), which take
    floor(start × fps) and ceil(end × fps), the end clipped to the file."""
    first = math.floor(start_ms / 1000 * fps) if start_ms else 0
    last = min(math.ceil(end_ms / 1000 * fps), frames) if end_ms else frames
    return last - first


def derange_signals(rows: list[dict], seed: int = 0) -> None:
    """Give every row another row's pose (signal, start, end); no row keeps its own. In place."""
    import random

    if len(rows) < 2:
        return
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    signals = [(rows[i]["signal"], rows[i]["signal_start"], rows[i]["signal_end"]) for i in order]
    for k, i in enumerate(order):  # each row in the cycle takes the pose of the next one
        rows[i]["signal"], rows[i]["signal_start"], rows[i]["signal_end"] = signals[(k + 1) % len(order)]


def example_prompts(ex: Example, spec: PreprocessSpec) -> tuple[str, str]:
    """The row's encoder and decoder prompts: `__<lang>__` where the corpus gives its languages, else the
    configured ones."""
    encoder = f"__{ex.source_lang}__" if ex.source_lang else spec.encoder_prompt
    decoder = f"__{ex.target_lang}__" if ex.target_lang else spec.decoder_prompt
    return encoder, decoder


def build_rows(
    spec: PreprocessSpec,
    split: str,
    resolved: list[tuple[Example, Optional[CheckedPose], Optional[str]]],
    orphans: list[Path],
    problems: list[str],
    prompts: dict[str, set],
) -> SplitRows:
    """The split's rows from its examples in manifest order, each with its checked pose (None where it has none)
    and why it is left out (None: kept). Orphan poses, examples left out and (outside the test split) examples
    longer than `model.max_frames` are appended to `problems`; the prompts used are added to `prompts`."""
    built = SplitRows(split, total=len(resolved) + len(orphans))
    for orphan in orphans:  # a pose nobody gave a text for: reported, never trained on empty
        problems.append(f"{split}\t{orphan.stem}\tno text: {orphan} has no row in the {split} corpus CSV")
        built.left_out += 1
    for ex, checked, reason in resolved:
        if reason or checked is None:
            problems.append(f"{split}\t{ex.id}\t{reason}")
            built.left_out += 1
            continue
        start_ms, end_ms = round(ex.start * 1000), round(ex.end * 1000)
        frames = mmh_frames(checked.frames, checked.fps, start_ms, end_ms)
        if spec.max_frames and split != "test" and frames > spec.max_frames:  # as MultimodalHugs would filter
            problems.append(f"{split}\t{ex.id}\tlonger than model.max_frames ({frames} > {spec.max_frames} frames)")
            built.too_long += 1
            continue
        encoder, decoder = example_prompts(ex, spec)
        prompts["encoder"].add(encoder)
        prompts["decoder"].add(decoder)
        built.rows.append(
            {
                "signal": checked.path,
                "signal_start": start_ms,
                "signal_end": end_ms,
                "encoder_prompt": encoder,
                "decoder_prompt": decoder,
                "output": ex.text.strip(),
            }
        )
    return built


def write_split(spec: PreprocessSpec, out: Path, built: SplitRows) -> None:
    """Write `<split>.tsv` (its poses deranged first under `control: shuffle`) and log the split's counts."""
    if spec.control == "shuffle":
        derange_signals(built.rows)
        print(f"{built.split}: control shuffle: every example got another example's pose", flush=True)
    write_tsv(out / f"{built.split}.tsv", built.rows)
    print(
        f"{built.split}: {len(built.rows)} examples kept, {built.left_out} left out"
        f"{built.longer_note(spec.max_frames)}",
        flush=True,
    )


def refuse_if_too_many_left_out(spec: PreprocessSpec, out: Path, built: SplitRows, problems: list[str]) -> None:
    """Fail the stage when the split kept no example or left out more than `max_missing_fraction` of it: the
    problems so far go to problems.txt and the first of them to the log."""
    allowed = spec.max_missing_fraction * built.total
    if built.left_out > allowed or not built.rows:
        write_problems(out, problems)
        for p in problems[:SHOWN_ON_FAILURE]:
            print("left out: " + p.replace("\t", ": "), flush=True)
        raise UserError(
            f"{built.split}: {built.left_out} of {built.total} examples left out (allowed {allowed:g}, "
            f"preprocess.max_missing_fraction){built.longer_note(spec.max_frames)}; see {out / 'problems.txt'}"
        )


def report_problems(out: Path, problems: list[str], too_long: int, max_frames: Optional[int]) -> None:
    """Write problems.txt and log the problems (the first SHOWN; those longer than max_frames are summed up in
    one note instead)."""
    write_problems(out, problems)
    shown = [p for p in problems if "longer than model.max_frames" not in p]
    for p in shown[:SHOWN]:
        print("left out: " + p.replace("\t", ": "), flush=True)
    if len(shown) > SHOWN:
        print(f"... and {len(shown) - SHOWN} more left out: see {out / 'problems.txt'}", flush=True)
    if too_long:
        print(
            f"max_frames: {too_long} training/validation example(s) longer than {max_frames} frames left out, "
            f"as MultimodalHugs' own filter would (model.max_frames; the test split is never filtered); listed in "
            f"{out / 'problems.txt'}",
            flush=True,
        )


def write_prompts(out: Path, prompts: dict[str, set]) -> None:
    """prompts.json: every encoder and decoder prompt the rows use, sorted."""
    (out / "prompts.json").write_text(json.dumps({k: sorted(v) for k, v in prompts.items()}) + "\n")


def report_noise(out: Path, noise: float) -> None:
    """Under `pose_noise`, say in the log that the TSVs point at perturbed copies."""
    if noise:
        print(
            f"pose noise: every seen point of every kept example moved by N(0, {noise:g}²) (preprocess.pose_noise); "
            f"the TSVs point at the perturbed copies in {out / 'poses'}",
            flush=True,
        )
