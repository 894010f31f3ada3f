"""`multimodalhugs-train` with our fixes for MultimodalHugs v0.5.4 and a save-and-stop callback (`train`): run by
`python -m pipeline.stages.mmh_train` (one process) or in each of torchrun's processes (pipeline/stages/train.py).

With `label_smoothing_factor > 0` (the original pipeline's best setting is 0.1) the HF Trainer pops `labels`
before the forward pass to smooth the loss itself. The model then never sees labels, so it keeps whatever
`decoder_input_ids` / `decoder_attention_mask` the batch has: the shifted labels only if MMH's collator ran while
the model was in training mode (not for the first batch after an evaluation), and always the decoder prompt's
mask. The forward pass fails ("The size of tensor a (5) must match the size of tensor b (25)", or a label
smoother size mismatch after the first evaluation). We build the decoder inputs from the labels in
`compute_loss`, exactly what the model does itself when labels reach it. Evaluation and generation are untouched.

Resuming on several CPU processes, transformers 4.44 asks torch to load the optimizer onto `cpu:0`, a location
torch does not know: `restore_cpu_with_index`.

Resuming from a checkpoint (a preempted or timed-out job, resubmitted) loads the checkpoint's RNG state with
`torch.load`, which since torch 2.6 refuses numpy arrays by default ("Weights only load failed ...
numpy._core.multiarray._reconstruct"); transformers 4.44.2 predates that. We allow exactly the numpy types of an
RNG state; the checkpoint is the job's own.

SIGUSR1 (passed on by the train stage when SLURM warns of the time limit, or on preemption) makes training save a
checkpoint at the end of the current step and stop; the job is then requeued and resumes from that checkpoint.
With several processes the signal reaches each at its own moment, so at the end of every optimizer step they reduce
their flags (all-reduce, max): all stop after the same step and save one checkpoint together. A flag local to each
rank would leave one rank in the checkpoint's collectives while another waits in the next step's all-reduce.
"""

from __future__ import annotations

import sys


def patch_trainer() -> None:
    from multimodalhugs.multilingual_seq2seq_trainer import MultiLingualSeq2SeqTrainer

    original = MultiLingualSeq2SeqTrainer.compute_loss

    def compute_loss(self, model, inputs, *args, **kwargs):
        if self.label_smoother is not None and "labels" in inputs:
            inner = self.accelerator.unwrap_model(model)
            inputs["decoder_input_ids"] = inner.prepare_decoder_input_ids_from_labels(labels=inputs["labels"])
            inputs.pop("decoder_attention_mask", None)
        return original(self, model, inputs, *args, **kwargs)

    MultiLingualSeq2SeqTrainer.compute_loss = compute_loss


# the signals this process got (the first one is named in the log), and whether training stopped on one: every rank
# agrees on the latter (all-reduce), whichever got the signal
asked: list[int] = []
stopped: list[int] = []


def agreed(local: bool, args) -> bool:
    """Whether any process wants to stop: the flag reduced across ranks (max) when there are several."""
    if args.world_size <= 1:
        return local
    import torch
    import torch.distributed as dist

    flag = torch.tensor([int(local)], device=args.device)  # on the GPU for nccl, on the CPU for gloo
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag.item())


def save_and_stop_on_sigusr1() -> None:
    """On SIGUSR1, save a checkpoint after the current optimizer step and end training (a TrainerCallback)."""
    import signal

    from multimodalhugs.multilingual_seq2seq_trainer import MultiLingualSeq2SeqTrainer
    from transformers import TrainerCallback

    for sig in (signal.SIGUSR1, signal.SIGTERM):  # TERM: SLURM signals every process of a preempted job
        signal.signal(sig, lambda signum, frame: asked.append(signum))

    class SaveAndStop(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if agreed(bool(asked), args):
                if state.is_world_process_zero:
                    why = signal.Signals(asked[0]).name if asked else "another process's signal"
                    print(f"{why}: saving checkpoint-{state.global_step} and stopping", flush=True)
                stopped.append(state.global_step)
                control.should_save = True
                control.should_training_stop = True
                control.should_evaluate = False
            return control

    original = MultiLingualSeq2SeqTrainer.__init__

    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.add_callback(SaveAndStop())

    MultiLingualSeq2SeqTrainer.__init__ = __init__


def allow_numpy_rng_state() -> None:
    import numpy as np
    import torch

    torch.serialization.add_safe_globals(
        [np._core.multiarray._reconstruct, np.ndarray, np.dtype, type(np.dtype(np.uint32))]  # type: ignore[attr-defined]
    )


def restore_cpu_with_index() -> None:
    """Resuming on several CPU processes, HF Trainer 4.44 loads the checkpoint's optimizer with
    `map_location=args.device`, which is `cpu:0` there, and torch's loader knows only `cpu` ("don't know how to
    restore data location of torch.storage.UntypedStorage (tagged with cpu:0)"): storages bound for `cpu:<n>` stay
    on the CPU."""
    import torch.serialization

    def deserializer(obj, location: str):
        return obj if location.startswith("cpu:") else None

    torch.serialization.register_package(11, lambda obj: None, deserializer)


def train(argv: list[str]) -> None:
    """MultimodalHugs' train CLI with `argv`, our fixes applied, in this process."""
    patch_trainer()
    allow_numpy_rng_state()
    restore_cpu_with_index()
    save_and_stop_on_sigusr1()
    from multimodalhugs.multimodalhugs_cli.train import main as mmh_main

    sys.argv = ["multimodalhugs-train", *argv]
    mmh_main()
