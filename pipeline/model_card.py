"""The model card (`README.md`) of an exported model, in the Hugging Face convention: YAML front matter (languages,
tags, datasets, metrics and the test scores as a model-index), then what a user of the model must know: the pose
type and its header, what inputs must get before the model sees them, the feature dimension, the prompts, the exact
commands that translate with MultimodalHugs alone, and how, where and from which commit it was trained.

Pure: `model_card(facts)` turns the facts pipeline/export.py gathered into text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import yaml

SETUP = "multimodalhugs-setup --config_path translate.yaml --do_dataset true --output_dir work"
GENERATE = (
    "multimodalhugs-generate --task translation --config_path translate.yaml --setup_path work/setup "
    "--output_dir work --generate_output_dir work"
)
MMH_INSTALL = "pip install git+https://github.com/GerrySant/multimodalhugs@v0.5.4"


@dataclass
class CardFacts:
    run: str
    dataset: str
    pose_type: str
    pose_layout: str  # the registry's words for its points
    components: list  # [(name, points)] of its header
    point_format: str  # XYC or XYZC
    reduce_holistic: bool
    feat_dim: int
    encoder_prompts: list[str]
    decoder_prompts: list[str]
    backbone: str
    backbone_type: str
    num_beams: int
    training: dict  # the experiment's model and training sections
    scores: dict[str, dict]  # bleu / chrf -> sacrebleu's JSON
    checkpoint: str  # its name, e.g. checkpoint-best
    best_step: Optional[int]
    steps: Optional[int]
    epoch: Optional[float]
    git_commit: Optional[str]
    host: Optional[str]
    machine: dict = field(default_factory=dict)  # cpu, cpus, gpu (runs trained before it was recorded: empty)
    versions: list[str] = field(default_factory=list)  # torch, transformers, multimodalhugs, pose-format


def language(prompt: str) -> str:
    return prompt.strip("_")


def front_matter(f: CardFacts) -> dict[str, Any]:
    names = {"bleu": "BLEU", "chrf": "chrF"}
    metrics = [
        {"type": name, "value": result["score"], "name": names[name], "args": result.get("signature")}
        for name, result in f.scores.items()
    ]
    data: dict[str, Any] = {
        "language": sorted({language(p) for p in f.decoder_prompts + f.encoder_prompts}),
        "library_name": "multimodalhugs",
        "pipeline_tag": "translation",
        "tags": ["sign-language-translation", "pose-to-text", "multimodalhugs", f.pose_type],
        "datasets": [f.dataset],
        "metrics": list(f.scores),
    }
    if metrics:
        data["model-index"] = [
            {
                "name": f.run,
                "results": [
                    {
                        "task": {"type": "translation", "name": "Sign language translation"},
                        "dataset": {"name": f.dataset, "type": f.dataset, "split": "test"},
                        "metrics": metrics,
                    }
                ],
            }
        ]
    return data


def scores_text(f: CardFacts) -> str:
    if not f.scores:
        return "Not evaluated: the run's evaluate stage did not finish.\n"
    rows = "".join(  # a | inside a table cell, even in code, ends the cell unless escaped
        f"| {name} | {result['score']} | `{result.get('signature', '').replace('|', chr(92) + '|')}` |\n"
        for name, result in f.scores.items()
    )
    head = f"On the test split of {f.dataset}, with sacrebleu:\n\n| metric | score | signature |\n|---|---|---|\n"
    return head + rows


def inputs_text(f: CardFacts) -> str:
    header = ", ".join(f"{name} {points}" for name, points in f.components)
    total = sum(points for _, points in f.components)
    reduce = (
        "hides the legs (`pose_hide_legs`), reduces MediaPipe Holistic to pose-format's `reduce_holistic` subset "
        "(no world landmarks, a few face-mesh points)"
        if f.reduce_holistic
        else "hides the legs (`pose_hide_legs`)"
    )
    return f"""The model reads **{f.pose_type}** poses ({f.pose_layout}) as `.pose` files of pose-format: one person,
header components {header} ({total} points), `{f.point_format}` points.

Before the model sees a pose file, it must get what this project's preprocess applied to every training example:

- **person reduction**: a file with several people per frame is reduced to one track, the signer's (the most
  confident detection of the file, then in each frame the person nearest the one kept in the frame before);
  MultimodalHugs itself would keep person 0, whoever that is;
- **header renaming**: component and point names that stock pose-format does not know are renamed to those it
  knows (points unchanged; only some pose types need it).

`python -m pipeline.translate` of the project that trained it does both. Then MultimodalHugs' processor
(`processor/processor_config.json`, PoseModalityProcessor) does the rest, on every input as in training: it keeps
person 0, {reduce}, normalises with pose-format's `normalize()` (the shoulders: their midpoint at the origin, their
distance the unit) and flattens each frame: **{f.feat_dim} features per frame**.

Prompts, the TSV's `encoder_prompt` and `decoder_prompt` columns: {", ".join(f"`{p}`" for p in f.encoder_prompts)}
and {", ".join(f"`{p}`" for p in f.decoder_prompts)}.
"""


def usage_text(f: CardFacts) -> str:
    return f"""With MultimodalHugs v0.5.4 alone (`{MMH_INSTALL}`), in this folder. Write `inputs.tsv`, tab-separated,
one row per pose file to translate, under the header row
`signal signal_start signal_end encoder_prompt decoder_prompt output`: the `.pose` path (absolute, or relative to
this folder), `0` and `0` (the whole file; else milliseconds), the prompts above, and any placeholder in `output`
(generate fails on rows without one; nothing reads it). Then:

```bash
{SETUP}
{GENERATE}
```

The first command builds the dataset of `inputs.tsv` (generate reads no TSV itself); the second translates it with
the model in `model/`, the processor in `processor/` and {f.num_beams} beams (`translate.yaml`), one line per row
into `work/generated_predictions.txt`. Use a new `work` folder for every new `inputs.tsv`: setup reuses a dataset it
finds there. On a machine without a GPU generate runs on the CPU.
"""


def training_text(f: CardFacts) -> str:
    machine = f.machine or {}
    where = f.host or "an unrecorded host"
    if machine.get("cpu"):
        where += f" ({machine['cpu']}, {machine.get('cpus')} CPUs"
        where += f", GPU {machine['gpu']})" if machine.get("gpu") else ", no GPU)"
    steps = f"step {f.best_step} of {f.steps}" if f.best_step is not None else f"{f.steps} steps"
    config = yaml.safe_dump(f.training, sort_keys=False, allow_unicode=True).rstrip()
    versions = ", ".join(f.versions) or "unrecorded"
    return f"""A MultimodalHugs `multimodal_embedder`: a linear mapper from the pose features into a {f.backbone_type}
backbone (`{f.backbone}`). Trained as run `{f.run}` by the pose-to-text pipeline that succeeds
[bricksdont/multimodalhugs-pipelines](https://github.com/bricksdont/multimodalhugs-pipelines), at commit
`{f.git_commit or "unrecorded"}`, on {where}; {versions}. The exported
weights are `{f.checkpoint}`, selected on validation BLEU ({steps}, epoch {f.epoch}).

```yaml
{config}
```
"""


def model_card(f: CardFacts) -> str:
    matter = yaml.safe_dump(front_matter(f), sort_keys=False, allow_unicode=True)
    return (
        f"---\n{matter}---\n\n# {f.run}: {f.pose_type} poses to text\n\n"
        f"## Scores\n\n{scores_text(f)}\n## Inputs\n\n{inputs_text(f)}\n## Translate\n\n{usage_text(f)}\n"
        f"## Training\n\n{training_text(f)}\n## Files\n\n"
        "`model/` the checkpoint (config, weights, generation config, tokenizer) · `processor/` MultimodalHugs' "
        "processor (its configuration and tokenizer) · `translate.yaml` what setup and generate read · "
        "`README.md` this card.\n"
    )
