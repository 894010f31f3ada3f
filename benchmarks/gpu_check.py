"""`python benchmarks/gpu_check.py`: do train and translate run on this GPU, and would Phoenix on one GPU be
input-bound?

1. The demo's train and translate stages (its TSVs and poses, the tiny backbone, MultimodalHugs' own CLIs) on the
   GPU in fp16 and in fp32: steps/s, peak GPU memory, and whether each produced a prediction per test example.
2. Input: examples/s through MultimodalHugs' PoseModalityProcessor (read, hide legs, reduce_holistic, normalise)
   in a DataLoader with 0, 2 and 4 workers, on Phoenix-sized pose files (300 frames, MediaPipe layout).
3. Model: examples/s of a training step at Phoenix sizes (batch 8, 300 frames, 534 features, 32 target tokens)
   through a mapper and an M2M-100 with facebook/m2m100_418M's dimensions and random weights (no download).
   Input-bound means the loader gives fewer examples/s than the model consumes.
4. Scaling: the same training step under DDP (torch.distributed, one process per GPU, batch 8 per GPU) on 1 GPU and
   on all GPUs of the node: steps/s, samples/s and the scaling efficiency, samples/s on N GPUs / (N × on 1 GPU).
   On the CPU (`--device cpu`) 1 and 2 gloo processes.

    python benchmarks/gpu_check.py [--steps 200] [--out gpu_check.json]      # after `make demo` (its poses)
    python benchmarks/gpu_check.py --quick --device cpu                      # the CPU path, tiny sizes (tests)

Run it with the trainer environment (.venvs/trainer/bin/python, or inside the trainer image with --nv).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# facebook/m2m100_418M's dimensions (its config.json), built with random weights
M2M100_418M = dict(
    vocab_size=128112,
    d_model=1024,
    encoder_layers=12,
    decoder_layers=12,
    encoder_attention_heads=16,
    decoder_attention_heads=16,
    encoder_ffn_dim=4096,
    decoder_ffn_dim=4096,
    max_position_embeddings=1024,
)
TINY = dict(
    vocab_size=1000,
    d_model=32,
    encoder_layers=1,
    decoder_layers=1,
    encoder_attention_heads=2,
    decoder_attention_heads=2,
    encoder_ffn_dim=64,
    decoder_ffn_dim=64,
    max_position_embeddings=1024,
)


def demo_spec(stage: str, work: Path, steps: int, fp16: bool, device: str):
    """The demo's spec for `stage`, as the planner writes it, with this check's steps and precision."""
    from pipeline.config import load_experiment, load_profile
    from pipeline.plan import build_plan

    exp = load_experiment(
        ROOT / "config/demo.yaml",
        [
            f"training.max_steps={steps}",
            f"training.fp16={fp16}",
            f"training.eval_steps={steps}",
            "training.save_total_limit=1",
        ],
    )
    gpu = device != "cpu"
    profile = load_profile(
        "local", [f"gpu_available={str(gpu).lower()}", f"data_dir={work}", f"cache_dir={work / 'cache'}"]
    )
    plan = build_plan([exp], profile)
    spec = plan.jobs[plan.runs["demo"][stage]].spec
    spec.use_gpu = gpu
    return spec


def relocate_tsvs(preprocess: Path, poses: Path, out: Path) -> Path:
    """The demo's TSVs with `signal` pointing into `poses` (pose files copied to another machine)."""
    out.mkdir(parents=True, exist_ok=True)
    for split in ("train", "validation", "test"):
        with open(preprocess / f"{split}.tsv", newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        for row in rows:
            row["signal"] = str(poses / Path(row["signal"]).name)
        with open(out / f"{split}.tsv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter="\t", lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    shutil.copy(preprocess / "feat_dim.json", out / "feat_dim.json")
    return out


def in_process(module: str, argv: list[str]) -> None:
    """Run a MultimodalHugs CLI (or our train wrapper) in this process, so that its GPU memory is ours to read."""
    import importlib

    saved = sys.argv
    sys.argv = [module, *argv]
    try:
        importlib.import_module(module).main()
    finally:
        sys.argv = saved


def train_and_translate(tsv_dir: Path, work: Path, fp16: bool, steps: int, device: str) -> dict:
    import torch

    from pipeline.stages.metrics import METRICS_DIR
    from pipeline.stages.mmh_commands import generate_args, setup_args, train_args
    from pipeline.stages.mmh_config import write_config

    out = work / ("fp16" if fp16 else "fp32")
    out.mkdir(parents=True, exist_ok=True)
    spec = dataclasses.replace(
        demo_spec("train", work, steps, fp16, device), preprocess_dir=str(tsv_dir), output_dir=str(out)
    )
    config = write_config(spec, out)
    cwd = os.getcwd()
    os.chdir(METRICS_DIR)  # the local sacrebleu/chrf modules, as the stages run them
    try:
        subprocess.run(
            [
                sys.executable,
                "-c",
                "from multimodalhugs.multimodalhugs_cli.training_setup import main; main()",
                *setup_args(config, out / "setup", 42),
            ],
            check=True,
            capture_output=True,
        )
        if device != "cpu":
            torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()
        in_process(
            "pipeline.stages.mmh_train",
            train_args(config, out / "setup", out / "train", 42, use_gpu=device != "cpu"),
        )
        train_s = time.perf_counter() - started
        train_peak = torch.cuda.max_memory_allocated() if device != "cpu" else 0
        state = json.loads((out / "train" / "trainer_state.json").read_text())
        rate = next((h["train_steps_per_second"] for h in state["log_history"] if "train_steps_per_second" in h), None)
        if device != "cpu":
            torch.cuda.reset_peak_memory_stats()
        checkpoint = sorted((out / "train").glob("checkpoint-[0-9]*"))[-1]
        in_process(
            "multimodalhugs.multimodalhugs_cli.generate",
            generate_args(config, out / "setup", checkpoint, out / "translate", 2, 8, use_gpu=device != "cpu"),
        )
        translate_peak = torch.cuda.max_memory_allocated() if device != "cpu" else 0
    finally:
        os.chdir(cwd)
    hyps = (out / "translate" / "generated_predictions.txt").read_text().split("\n")
    with open(tsv_dir / "test.tsv", newline="") as f:
        expected = sum(1 for _ in csv.DictReader(f, delimiter="\t"))
    return {
        "precision": "fp16" if fp16 else "fp32",
        "steps": state["global_step"],
        "train_s": round(train_s, 1),
        "steps_per_s": rate,
        "train_peak_gib": round(train_peak / 2**30, 3),
        "translate_peak_gib": round(translate_peak / 2**30, 3),
        "predictions": len([h for h in hyps if h.strip()]),
        "test_examples": expected,
        "produced_predictions": len(hyps) == expected and any(h.strip() for h in hyps),
    }


def phoenix_sized_poses(template: Path, folder: Path, count: int, frames: int) -> list[Path]:
    """`count` pose files of `frames` frames with `template`'s header (MediaPipe layout), random landmarks."""
    import numpy as np
    from pose_format import Pose
    from pose_format.numpy import NumPyPoseBody

    with open(template, "rb") as f:
        header = Pose.read(f.read()).header
    rng = np.random.default_rng(0)
    points = header.total_points()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        data = rng.uniform(0, 200, (frames, 1, points, header.num_dims())).astype(np.float32)
        confidence = rng.uniform(0.5, 1, (frames, 1, points)).astype(np.float32)
        path = folder / f"phoenix{i:03d}.pose"
        with open(path, "wb") as f:
            Pose(header, NumPyPoseBody(25, data, confidence)).write(f)
        paths.append(path)
    return paths


class PoseFiles:
    """A map-style dataset: one MMH-processed pose tensor per file."""

    def __init__(self, paths: list[Path]):
        from multimodalhugs.processors import PoseModalityProcessor

        self.paths, self.processor = paths, PoseModalityProcessor(reduce_holistic_poses=True)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        return self.processor._load_pose(str(self.paths[i]))


def pad(batch: list):
    import torch

    return torch.nn.utils.rnn.pad_sequence([b.float() for b in batch], batch_first=True)


def loader_rate(paths: list[Path], workers: int, batch: int = 8) -> float:
    """Examples/s through MMH's pose processing in a DataLoader (one pass after a warm-up batch)."""
    from torch.utils.data import DataLoader

    loader = DataLoader(
        PoseFiles(paths), batch_size=batch, num_workers=workers, collate_fn=pad, persistent_workers=workers > 0
    )
    iterator = iter(loader)
    next(iterator)  # workers started, first batch
    started, seen = time.perf_counter(), 0
    for tensor in iterator:
        seen += tensor.shape[0]
    return seen / (time.perf_counter() - started)


def model_rate(
    device: str,
    fp16: bool,
    dims: dict,
    batch: int = 8,
    frames: int = 300,
    feat: int = 534,
    target: int = 32,
    steps: int = 10,
    wrap=None,
) -> dict:
    """Examples/s of full training steps (forward, backward, AdamW) at these sizes, random weights; `wrap`: e.g.
    DistributedDataParallel around the model."""
    import torch
    from transformers import M2M100Config, M2M100ForConditionalGeneration

    class MapperAndBackbone(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.mapper = torch.nn.Sequential(torch.nn.LayerNorm(feat), torch.nn.Linear(feat, dims["d_model"]))
            self.model = M2M100ForConditionalGeneration(M2M100Config(**dims))

        def forward(self, x, mask, labels):
            return self.model(inputs_embeds=self.mapper(x), attention_mask=mask, labels=labels).loss

    torch.manual_seed(0)
    net = MapperAndBackbone().to(device)
    params = list(net.parameters())
    model = wrap(net) if wrap else net
    optimizer = torch.optim.AdamW(params, lr=1e-5)
    use_amp = fp16 and device != "cpu"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    x = torch.randn(batch, frames, feat, device=device)
    labels = torch.randint(3, dims["vocab_size"], (batch, target), device=device)
    mask = torch.ones(batch, frames, dtype=torch.long, device=device)

    def step():
        with torch.autocast(device_type="cuda" if device != "cpu" else "cpu", dtype=torch.float16, enabled=use_amp):
            loss = model(x, mask, labels)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(2):
        step()  # warm-up: kernels chosen, optimizer state allocated
    if device != "cpu":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    if device != "cpu":
        torch.cuda.synchronize()
    seconds = (time.perf_counter() - started) / steps
    peak = torch.cuda.max_memory_allocated() / 2**30 if device != "cpu" else 0.0
    return {
        "precision": "fp16" if use_amp else "fp32",
        "step_s": round(seconds, 4),
        "examples_per_s": round(batch / seconds, 1),
        "peak_gib": round(peak, 2),
        "parameters_m": round(sum(p.numel() for p in params) / 1e6, 1),
    }


def scaling_worker(
    rank: int, world: int, port: int, device: str, fp16: bool, dims: dict, frames: int, steps: int, out: str
) -> None:
    """One of `world` DDP processes running `model_rate`'s step; rank 0 writes its result to `out`."""
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    gpu = device != "cpu"
    if gpu:
        torch.cuda.set_device(rank)
    else:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    backend = "nccl" if gpu else "gloo"
    dist.init_process_group(backend, init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        here = f"cuda:{rank}" if gpu else "cpu"
        wrap = lambda net: DistributedDataParallel(net, device_ids=[rank] if gpu else None)  # noqa: E731
        result = model_rate(here, fp16, dims, frames=frames, steps=steps, wrap=wrap)
        if rank == 0:
            Path(out).write_text(json.dumps(result))
    finally:
        dist.destroy_process_group()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def scaling(device: str, fp16: bool, dims: dict, frames: int, steps: int, counts: list[int], work: Path) -> list:
    """Steps/s and samples/s of the DDP training step on each process count, with the scaling efficiency."""
    import torch.multiprocessing as mp

    rows = []
    for count in counts:
        out = work / f"scaling-{count}.json"
        args = (count, free_port(), device, fp16, dims, frames, steps, str(out))
        mp.spawn(scaling_worker, args=args, nprocs=count, join=True)
        rate = json.loads(out.read_text())
        samples = 8 * count / rate["step_s"]  # model_rate's batch, per process
        rows.append(
            {
                "processes": count,
                "precision": rate["precision"],
                "steps_per_s": round(1 / rate["step_s"], 2),
                "samples_per_s": round(samples, 1),
            }
        )
    for row in rows:
        row["efficiency"] = round(row["samples_per_s"] / (row["processes"] * rows[0]["samples_per_s"]), 3)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/gpu_check.py",
        description=__doc__.split("\n\n")[0].split(": ", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--preprocess",
        type=Path,
        help="the demo's preprocess folder (TSVs); default: the newest data/preprocess/sample-mediapipe-*",
    )
    parser.add_argument("--poses", type=Path, help="where its pose files are now (default: where the TSVs say)")
    parser.add_argument("--steps", type=int, default=200, help="training steps per precision (default 200)")
    parser.add_argument("--device", default="auto", help="cuda, cpu or auto (cuda when available)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the code path, measures nothing")
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)

    import torch

    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    card = torch.cuda.get_device_name(0) if device == "cuda" else "CPU"
    preprocess = args.preprocess or max(
        (ROOT / "data/preprocess").glob("sample-mediapipe-*"), key=lambda p: p.stat().st_mtime, default=None
    )
    if preprocess is None or not (preprocess / "test.tsv").exists():
        print("error: no demo TSVs: run `make demo` first or give --preprocess", file=sys.stderr)
        return 2
    results: dict = {"device": card, "torch": torch.__version__, "steps": args.steps}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with open(preprocess / "test.tsv", newline="") as f:
            first = Path(next(csv.DictReader(f, delimiter="\t"))["signal"])
        poses = args.poses or first.parent
        tsvs = relocate_tsvs(preprocess, poses, work / "tsv")
        results["demo"] = [
            train_and_translate(tsvs, work, fp16, args.steps, device)
            for fp16 in ((True, False) if device != "cpu" else (False,))
        ]
        count, frames = (24, 30) if args.quick else (96, 300)
        files = phoenix_sized_poses(poses / first.name, work / "phoenix", count, frames)
        results["loader_examples_per_s"] = {w: round(loader_rate(files, w), 1) for w in (0, 2, 4)}
    dims = TINY if args.quick else M2M100_418M
    results["model"] = [
        model_rate(device, fp16, dims, frames=30 if args.quick else 300, steps=2 if args.quick else 10)
        for fp16 in ((True, False) if device != "cpu" else (False,))
    ]
    gpus = torch.cuda.device_count() if device == "cuda" else 2
    with tempfile.TemporaryDirectory() as tmp:
        results["scaling"] = scaling(
            device,
            device != "cpu",
            dims,
            frames=30 if args.quick else 300,
            steps=2 if args.quick else 10,
            counts=sorted({1, gpus}),
            work=Path(tmp),
        )
    fastest = max(m["examples_per_s"] for m in results["model"])
    best_loader = results["loader_examples_per_s"][2]  # the default: dataloader_num_workers 2
    results["input_bound_with_2_workers"] = best_loader < fastest
    print(json.dumps(results, indent=1))
    for run in results["demo"]:
        print(
            f"demo {run['precision']}: {run['steps_per_s']} steps/s, peak {run['train_peak_gib']} GiB (train), "
            f"{run['translate_peak_gib']} GiB (translate), predictions {run['predictions']}/{run['test_examples']}"
        )
    print(
        f"loader (examples/s, workers 0/2/4): {results['loader_examples_per_s']}; model at Phoenix size: "
        + ", ".join(f"{m['precision']} {m['examples_per_s']} examples/s" for m in results["model"])
        + f" -> {'input-bound' if results['input_bound_with_2_workers'] else 'not input-bound'} with 2 workers "
        f"({card})"
    )
    unit = "GPU(s)" if device == "cuda" else "CPU process(es)"
    print(
        "scaling (DDP, batch 8 per process): "
        + "; ".join(
            f"{r['processes']} {unit} {r['steps_per_s']} steps/s, {r['samples_per_s']} samples/s, "
            f"efficiency {r['efficiency']}"
            for r in results["scaling"]
        )
    )
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n")
    return 0 if all(r["produced_predictions"] for r in results["demo"]) else 1


if __name__ == "__main__":
    sys.exit(main())
