"""Sign language videos → poses → a MultimodalHugs pose-to-text model → BLEU, on SLURM or a laptop.

Login-node side (this package's top level): config, plan, compose, executors, submit, status, build, summarize.
Container side: `pipeline.stages`.
"""
