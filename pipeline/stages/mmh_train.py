"""`multimodalhugs-train` with our fixes for MultimodalHugs v0.5.4 and save-and-stop on SIGUSR1
(pipeline/stages/mmh_patches.py), as the command the one-process train stage runs:
`python -m pipeline.stages.mmh_train <multimodalhugs-train's arguments>`. Under torchrun the train stage's processes
call `mmh_patches.train` themselves.
"""

from __future__ import annotations

import sys

from pipeline.stages.mmh_patches import train


def main() -> None:
    train(sys.argv[1:])


if __name__ == "__main__":
    main()
