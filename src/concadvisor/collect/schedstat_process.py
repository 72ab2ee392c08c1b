"""The schedstat poller in a process of its own, watching a process that runs a block.

For a script the tool's poller thread runs in the tool's process, beside the target.
For a block the target is the process the tool runs in: a poller thread there would
take the GIL from the block's threads every tenth of a second (a walk over /proc for
child processes holds it for milliseconds), and the block's threads would read as
waiting on their hashing lines while they queue for it. So the poller runs here, started
with ``python -S`` (no site, a few milliseconds), stdlib only: ``schedstat.py`` is
loaded by path. It polls until its stdin closes, then prints what it saw as one JSON
line and ends.

argv: schedstat_process.py PID [IGNORED_PID ...]   (processes not to count as children)
"""
import importlib.util
import json
import os
import sys


def _schedstat():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schedstat.py")
    spec = importlib.util.spec_from_file_location("_concadvisor_schedstat", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv):
    pid, ignored = int(argv[1]), {int(p) for p in argv[2:]} | {os.getpid()}
    poller = _schedstat().Poller(pid).start()
    try:
        sys.stdin.read()  # until the block ends (or the watched process dies: the pipe closes)
    except (OSError, KeyboardInterrupt):
        pass
    poller.stop()
    poller.child_pids -= ignored
    poller.poll()  # the last reading, once the block has ended
    found = {"first": [[tid, list(r)] for tid, r in poller.first.items()],
             "last": [[tid, list(r)] for tid, r in poller.last.items()],
             "children": [[child, tid, list(r)] for (child, tid), r in poller.children.items()
                          if child not in ignored]}
    sys.stdout.write(json.dumps(found) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
