"""`python -m pipeline.stages.torchrun ...`: PyTorch's torchrun (torch.distributed.run, same arguments), as a train job
on several processes launches it once per node (pipeline/distributed.py), with two changes for SLURM's signals.

- Its signal handler acts once. torchrun turns a handled signal into an exception that makes it pass the signal to
  its workers and wait `--shutdown-timeout` seconds for them to exit, then kill them. A preempted or requeued job
  gets TERM in every process at once, and then USR1 from its batch shell through srun: a second signal would end
  that wait early, torchrun would exit and its workers be killed in the middle of saving. Later signals are ignored
  here: the workers got the first one (and their own from SLURM) and are saving.
- Its exit code says what happened: 75 (pipeline.stages.entry.REQUEUE_EXIT) when it stopped on a signal, or when
  every failed worker exited with 75 (they stopped to be requeued); the job script then requeues the job.
"""

from __future__ import annotations

import signal
import sys

REQUEUE_EXIT = 75  # pipeline.stages.entry.REQUEUE_EXIT (not imported: torchrun needs nothing of the stages)


def act_once() -> None:
    """Replace torchrun's handler (it looks it up in its module when it registers --signals-to-handle) by one that
    raises its SignalException for the first signal only."""
    from torch.distributed.elastic.multiprocessing import api
    from torch.distributed.elastic.multiprocessing.api import SignalException

    got: list[int] = []

    def handler(signum: int, _frame) -> None:
        got.append(signum)
        if len(got) == 1:
            sigval = signal.Signals(signum)
            raise SignalException(f"got signal {sigval.name}", sigval=sigval)
        print(f"torchrun: {signal.Signals(signum).name} ignored: stopping already", file=sys.stderr, flush=True)

    api._terminate_process_handler = handler


def main() -> int:
    act_once()
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import main as torchrun

    try:
        torchrun()
    except SignalException as exc:
        print(f"torchrun: stopped on {exc.sigval.name}; the workers saved what they could", flush=True)
        return REQUEUE_EXIT
    except ChildFailedError as exc:
        if exc.failures and all(f.exitcode == REQUEUE_EXIT for f in exc.failures.values()):
            return REQUEUE_EXIT
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
