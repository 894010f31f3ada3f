"""The MultimodalHugs (v0.5.4) YAML config of a run, built from the train spec (`mmh_config`: dict in, dict out)
and written beside the model (`write_config`: the backbone resolved, the feature dimension preprocess measured,
every encoder prompt preprocess used added to the vocabulary). Training on several processes reads its own copy,
`config.distributed.yaml`, with HF Trainer's backend and FSDP arguments: translate reads `config.yaml` in one
process, where they would make it wait for a process group.

v0.5.4 wants `data.dataset_type: pose2text` and a declarative `processor.slots` list: the pose slot
(PoseModalityProcessor, reduce_holistic_poses for MediaPipe) and three TextModalityProcessor slots (labels from
decoder_prompt+output, the encoder prompt, the decoder prompt), the layout of MMH's own `pipeline: pose2text`
shorthand written out so the file says everything. The older flat `processor: reduce_holistic_poses /
text_tokenizer_path` keys of the original pipeline's MMH commit are rejected by v0.5.4. `model.max_frames` is
applied by preprocess, not here (see the data section).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from pipeline.errors import UserError
from pipeline.stages.markers import build_once

if TYPE_CHECKING:
    from pipeline.stages.specs import TrainSpec


def processor_slots(tokenizer: str, new_vocabulary: str, reduce_holistic: bool) -> list[dict]:
    def text_slot(key: str, column_map: dict, role: str, mask: str | None = None, label: bool = False) -> dict:
        slot: dict[str, Any] = {
            "processor_class": "TextModalityProcessor",
            "output_data_key": key,
            "column_map": column_map,
            "processor_kwargs": {"tokenizer_path": tokenizer, "role": role, "new_vocabulary": new_vocabulary},
        }
        if mask:
            slot["output_mask_key"] = mask
        if label:
            slot["is_label"] = True
        return slot

    return [
        {
            "processor_class": "PoseModalityProcessor",
            "output_data_key": "input_frames",
            "output_mask_key": "attention_mask",
            "column_map": {"signal": "signal", "signal_start": "signal_start", "signal_end": "signal_end"},
            "processor_kwargs": {"reduce_holistic_poses": reduce_holistic},
        },
        text_slot("labels", {"decoder_prompt": "target_prefix", "output": "target"}, "target", label=True),
        text_slot("encoder_prompt", {"encoder_prompt": "signal"}, "input", "encoder_prompt_length_padding_mask"),
        text_slot("decoder_input_ids", {"decoder_prompt": "signal"}, "input", "decoder_attention_mask"),
    ]


def mmh_config(
    spec: TrainSpec, *, backbone: str, tokenizer: str, feat_dim: int, tsv_dir: str, encoder_prompt: str, use_gpu: bool
) -> dict:
    """The config dict for `multimodalhugs-setup` / `-train` / `-generate`. The batch per device and the gradient
    accumulation are the launch's (pipeline/distributed.py: on several processes one of them may be divided)."""
    model, train = spec.model, spec.training
    workers = train.dataloader_num_workers
    batch = spec.launch.batch_size if spec.launch else train.batch_size
    accumulation = spec.launch.gradient_accumulation_steps if spec.launch else train.gradient_accumulation_steps
    training = {
        "run_name": spec.run_name,
        "early_stopping_patience": train.early_stopping_patience,
        "do_train": True,
        "do_eval": True,
        "predict_with_generate": True,
        "save_strategy": "steps",
        "eval_strategy": "steps",
        "eval_steps": train.eval_steps,
        "logging_steps": train.eval_steps,
        "save_steps": train.eval_steps,
        "per_device_train_batch_size": batch,
        "per_device_eval_batch_size": train.batch_size,
        "label_smoothing_factor": train.label_smoothing_factor,
        "gradient_accumulation_steps": accumulation,
        "learning_rate": train.learning_rate,
        "load_best_model_at_end": True,
        "dataloader_num_workers": workers,
        "metric_name": "sacrebleu,chrf",
        "metric_for_best_model": "sacrebleu",
        "greater_is_better": True,
        "num_train_epochs": 1,
        "max_steps": train.max_steps,
        "warmup_steps": train.warmup_steps,
        "save_total_limit": train.save_total_limit,
        "seed": train.seed,
        "fp16": bool(train.fp16 and use_gpu),  # fp16 needs a GPU; the CPU runs in fp32
        "report_to": "none",
        **(train.extra or {}),
    }
    if workers > 0:
        training["dataloader_prefetch_factor"] = 2
    return {
        "model": {
            "type": "multimodal_embedder",
            "multimodal_mapper_type": "linear",
            "multimodal_mapper_layer_norm_before": True,
            "multimodal_mapper_dropout": model.mapper_dropout,
            "backbone_type": model.backbone_type,
            "pretrained_backbone": backbone,
            "feat_dim": feat_dim,
        },
        "training": training,
        "data": {
            "dataset_type": "pose2text",
            "train_metadata_file": f"{tsv_dir}/train.tsv",
            "validation_metadata_file": f"{tsv_dir}/validation.tsv",
            "test_metadata_file": f"{tsv_dir}/test.tsv",
            "shuffle": True,
            # no max_frames: preprocess left out the longer examples already (its filter counts frames as
            # MultimodalHugs does); given here, MultimodalHugs' setup would read every pose file again to filter
        },
        "processor": {"slots": processor_slots(tokenizer, encoder_prompt, spec.reduce_holistic)},
    }


def distributed_arguments(distributed: str, backend: str, backbone_type: str) -> dict:
    """HF Trainer's arguments for several processes: the backend (gloo on CPUs), and for FSDP its own `fsdp`
    arguments (full shard, the backbone's repeating layers wrapped: pipeline/distributed.py says why not accelerate's
    config file)."""
    from pipeline.distributed import FSDP_LAYERS

    arguments: dict[str, Any] = {"ddp_backend": backend}
    if distributed == "fsdp":
        arguments["fsdp"] = "full_shard auto_wrap"
        arguments["fsdp_config"] = {"transformer_layer_cls_to_wrap": FSDP_LAYERS.get(backbone_type, [])}
    return arguments


def resolve_backbone(spec: TrainSpec) -> str:
    backbone = spec.model.pretrained_backbone
    if backbone == "tiny-m2m100":
        from pipeline.stages.tiny_backbone import VERSION, build

        return str(build_once(Path(spec.cache_dir) / f"tiny-m2m100-v{VERSION}", build))
    local = Path(backbone)
    if backbone.startswith(("/", "./", "../")) and not local.exists():
        raise UserError(f"model.pretrained_backbone: {backbone} does not exist")
    return backbone


def new_vocabulary(spec: TrainSpec) -> str:
    """The tokens MultimodalHugs adds to the tokenizer: every encoder prompt preprocess used (a corpus with
    per-row languages has several; prompts.json), else the configured one."""
    prompts = Path(spec.preprocess_dir) / "prompts.json"
    used = json.loads(prompts.read_text()).get("encoder") if prompts.exists() else None
    return ",".join(used) if used else spec.encoder_prompt


DISTRIBUTED_CONFIG = "config.distributed.yaml"


def write_config(spec: TrainSpec, out: Path) -> Path:
    feat = json.loads((Path(spec.preprocess_dir) / "feat_dim.json").read_text())
    backbone = resolve_backbone(spec)
    tokenizer = spec.model.tokenizer or backbone
    config = mmh_config(
        spec,
        backbone=backbone,
        tokenizer=tokenizer,
        feat_dim=feat["feat_dim"],
        tsv_dir=spec.preprocess_dir,
        encoder_prompt=new_vocabulary(spec),
        use_gpu=spec.use_gpu,
    )
    path = out / "config.yaml"
    path.write_text(
        "# written by pipeline.stages.train for MultimodalHugs v0.5.4\n"
        + yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    )
    if spec.launch and spec.launch.processes > 1:  # training's own copy: translate reads config.yaml, one process
        launch = spec.launch
        config["training"].update(distributed_arguments(launch.distributed, launch.backend, spec.model.backbone_type))
        config["training"].update(spec.training.extra or {})  # the user's own fsdp_config, ddp_timeout, ... win
        (out / DISTRIBUTED_CONFIG).write_text(
            f"# written by pipeline.stages.train for MultimodalHugs v0.5.4: training on {launch.processes} processes\n"
            + yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
        )
    return path
