"""The one exception type for mistakes a user can fix (bad config, missing input, missing image).

Command-line entry points catch it, print `error: <message>` on one line and exit with code 2;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from typing import Callable

USER_ERROR_EXIT = 2


class UserError(Exception):
    """A problem in the user's input: the message says where (file, key, example id) and what to do."""


def run_cli(main: Callable[[list[str] | None], int | None], argv: list[str] | None = None) -> None:
    """Run a CLI main function, turning UserError into a one-line message and exit code 2."""
    try:
        code = main(argv)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(USER_ERROR_EXIT)
    except BrokenPipeError:  # output piped into `head`
        sys.stderr.close()
        sys.exit(0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)
