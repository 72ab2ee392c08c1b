"""The command line: parse options, check them, call the library. No analysis here."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import List, Optional

import click
import typer

from . import __version__

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None)

FINDING_KINDS = ("blocking_in_event_loop", "gil_contention")
BACKEND_NAMES = ("auto", "cprofile", "yappi", "pyspy")


class UsageProblem(click.UsageError):
    """A usage error: one line on stderr, exit 2, the target never started."""


def _version(value: bool):
    if value:
        typer.echo(f"concadvisor {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Show the version and exit.")):
    """Measure where a Python program's time goes and which concurrency model pays off.

    \b
    Examples:
      concadvisor profile app.py                     # reports/app.md and reports/app.png
      concadvisor profile app.py --json reports/app.json
      concadvisor compare reports/before.json reports/after.json
    Run `concadvisor COMMAND --help` for each command's options.
    """


@app.command(context_settings={"allow_extra_args": False})
def profile(
    script: Optional[str] = typer.Argument(None, help="The script to run, as `python SCRIPT` would."),
    args: Optional[List[str]] = typer.Argument(None, help="Arguments for the target, after `--`."),
    module: Optional[str] = typer.Option(None, "-m", help="Run a module, as `python -m MODULE` would."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Markdown report (default reports/<script stem>.md)."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the machine-readable result here."),
    backend: str = typer.Option("auto", "--backend", help="auto | cprofile | yappi | pyspy"),
    timeout: Optional[float] = typer.Option(None, "--timeout", help="Stop the target after this many seconds and report what was measured."),
    fail_on: Optional[str] = typer.Option(None, "--fail-on", help="Comma-separated finding kinds; exit 3 if one is found (after writing the report)."),
    python: Optional[str] = typer.Option(None, "--python", help="The target's interpreter (Python 3.9+; default: the active virtualenv's, else concadvisor's own)."),
    speedscope_path: Optional[Path] = typer.Option(None, "--speedscope", help="Also write a flame graph for https://www.speedscope.app (JSON), categories as leaf frames."),
):
    """Run SCRIPT (or -m MODULE) under a profiler and write a recommendation report.

    The report (Markdown) gets a chart beside it (same name, .png).

    \b
    Examples:
      concadvisor profile app.py
      concadvisor profile app.py -o reports/app.md --json reports/app.json -- --workers 4
      concadvisor profile -m mypkg.tool --timeout 30 --speedscope reports/tool.speedscope.json
      concadvisor profile app.py --fail-on blocking_in_event_loop,gil_contention   # CI gate: exit 3
    """
    from . import api
    from .output import OutputError, check_writable

    args = list(args or [])
    if module:
        if script is not None:
            args.insert(0, script)
        target, is_module = module, True
    elif script is None:
        raise UsageProblem("no script given (concadvisor profile SCRIPT [-- ARGS] or -m MODULE)")
    else:
        target, is_module = script, False
    try:
        spec = api.target_spec(target, args, module=is_module, timeout=timeout, python=python)
    except api.UsageError as exc:
        raise UsageProblem(str(exc).replace("timeout must", "--timeout must")) from None
    if backend not in BACKEND_NAMES:
        raise UsageProblem(f"unknown backend {backend!r} (choose from {', '.join(BACKEND_NAMES)})")
    kinds = _parse_fail_on(fail_on)
    from .checks import CheckError, distinct_outputs

    try:
        report_path = output or Path("reports") / f"{spec.stem}.md"
        distinct_outputs({"report": report_path, "chart": Path(report_path).with_suffix(".png"),
                          "JSON result": json_path, "speedscope file": speedscope_path},
                         {"script being profiled": None if is_module else target})
        report = check_writable(report_path, "report")
        json_out = check_writable(json_path, "JSON result") if json_path else None
        flame_out = check_writable(speedscope_path, "speedscope file") if speedscope_path else None
    except (OutputError, CheckError) as exc:
        raise UsageProblem(str(exc)) from None

    from .collect import NothingMeasured
    from .renderers.bundle import chart_drawer
    from .renderers.statusline import StatusLine

    measured = []
    with chart_drawer() as drawer:  # matplotlib loads while the target runs
        try:
            with StatusLine(" ".join([Path(spec.argv[0]).name, *spec.argv[1:]]), sys.stderr) as status:
                result = api.profile_target(spec, backend, progress=status, on_start=drawer.start,
                                            on_measurement=measured.append)
        except NothingMeasured as exc:
            typer.echo(f"concadvisor: nothing measured: {exc}", err=True)
            raise typer.Exit(130 if exc.interrupted else 1)
        _write(result, report, json_out, flame_out, measured[0] if measured else None, drawer=drawer)
    found = {f.get("kind") for f in result.findings}
    if result.target.get("interrupted"):
        raise typer.Exit(130)
    if result.target.get("terminated"):
        raise typer.Exit(128 + (1 if result.target.get("hung_up") else 15))
    if kinds & found:
        typer.echo(f"concadvisor: failing on {', '.join(sorted(kinds & found))}", err=True)
        raise typer.Exit(3)


@app.command()
def attach(
    pid: int = typer.Argument(..., help="The process to sample (a running Python program)."),
    duration: float = typer.Option(5.0, "--duration", help="Seconds to sample it for."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Markdown report (default reports/<script stem>.md)."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the machine-readable result here."),
):
    """Sample a running Python process with py-spy for a while; it keeps running.

    \b
    Example:
      concadvisor attach 12345 --duration 10 --json reports/service.json
    """
    from . import api
    from .collect.attach_checks import AttachProblem, check_process, report_stem
    from .output import OutputError, check_writable

    if duration <= 0:
        raise UsageProblem(f"--duration must be a positive number of seconds, not {duration}")
    try:
        check_process(pid)
        report = check_writable(output or Path("reports") / f"{report_stem(pid)}.md", "report")
        json_out = check_writable(json_path, "JSON result") if json_path else None
    except (AttachProblem, OutputError) as exc:
        raise UsageProblem(str(exc)) from None

    from .collect.pyspy import PySpyUnavailable
    from .renderers.bundle import chart_drawer

    with chart_drawer() as drawer:
        drawer.start()
        try:
            result = api.attach(pid, duration)
        except api.UsageError as exc:
            raise UsageProblem(str(exc)) from None
        except PySpyUnavailable as exc:
            typer.echo(f"concadvisor: cannot attach: {exc}", err=True)
            raise typer.Exit(1)
        _write(result, report, json_out, drawer=drawer)


@app.command()
def report(
    result_file: Path = typer.Argument(..., metavar="RESULT.json", help="A result saved with --json."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Markdown report (default: beside the JSON, .md)."),
):
    """Re-render a saved result without running anything (the report and its chart).

    \b
    Example:
      concadvisor report reports/app.json -o reports/app.md
    """
    from .api import load
    from .checks import CheckError, distinct_outputs
    from .output import OutputError, check_writable
    from .result import ResultError

    try:
        result = load(result_file)
        report_path = output or result_file.with_suffix(".md")
        distinct_outputs({"report": report_path, "chart": Path(report_path).with_suffix(".png")},
                         {"result being read": result_file})
        target = check_writable(report_path, "report")
    except (ResultError, OutputError, CheckError) as exc:
        raise UsageProblem(str(exc)) from None
    _write(result, target, None)


@app.command()
def compare(
    before_file: Path = typer.Argument(..., metavar="BEFORE.json", help="The result before the change (saved with --json)."),
    after_file: Path = typer.Argument(..., metavar="AFTER.json", help="The result after the change."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Markdown comparison (default reports/compare.md; a chart is written beside it)."),
):
    """Compare two saved results: wall time, each category and the top call sites, with the change.

    \b
    Example:
      concadvisor profile app.py --json reports/before.json
      (refactor app.py)
      concadvisor profile app.py --json reports/after.json
      concadvisor compare reports/before.json reports/after.json -o reports/compare.md
    """
    from .checks import CheckError, distinct_outputs
    from .output import OutputError, check_writable
    from .api import load
    from .renderers.bundle import write_comparison
    from .result import ResultError

    try:
        before = load(before_file)
        after = load(after_file)
        compare_path = output or Path("reports") / "compare.md"
        distinct_outputs({"comparison": compare_path, "chart": Path(compare_path).with_suffix(".png")},
                         {"result before": before_file, "result after": after_file})
        target = check_writable(compare_path, "comparison")
    except (ResultError, OutputError, CheckError) as exc:
        raise UsageProblem(str(exc)) from None
    written = write_comparison(before, after, target, (_shown(before_file), _shown(after_file)))
    for problem in written.problems:
        typer.echo(f"concadvisor: {problem}", err=True)
    ratio = before.wall_seconds / after.wall_seconds if after.wall_seconds > 0 else float("nan")
    typer.echo(f"concadvisor: {before.wall_seconds:.2f} s -> {after.wall_seconds:.2f} s ({ratio:.2f}x)", err=True)
    typer.echo(f"comparison: {_shown(target)}" + (f"  chart: {_shown(written.chart)}" if written.chart else ""),
               err=True)


def _write(result, report_path: Path, json_path: Optional[Path], speedscope_path: Optional[Path] = None,
           measurement=None, drawer=None) -> None:
    from .renderers.bundle import write_report, write_speedscope
    from .renderers.terminal import print_summary

    written = write_report(result, report_path, json_path, drawer=drawer)
    if speedscope_path and measurement is not None:
        written.speedscope = write_speedscope(measurement, speedscope_path, " ".join(map(str, result.target.get("argv", []))))
    for problem in written.problems:
        typer.echo(f"concadvisor: {problem}", err=True)
    print_summary(result, sys.stderr)
    shown = [f"report: {_shown(report_path)}"]
    shown += [f"{label}: {_shown(path)}" for label, path in
              (("chart", written.chart), ("json", json_path), ("speedscope", written.speedscope)) if path]
    typer.echo("  ".join(shown), err=True)


def _shown(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def _parse_fail_on(value: Optional[str]) -> set:
    if not value:
        return set()
    kinds = {k.strip() for k in value.split(",") if k.strip()}
    unknown = sorted(kinds - set(FINDING_KINDS))
    if unknown:
        raise UsageProblem(f"unknown finding kind {', '.join(unknown)} for --fail-on "
                           f"(known: {', '.join(FINDING_KINDS)})")
    return kinds


def _kinds(name: str, *known) -> tuple:
    """click's exception class ``name`` as both click and Typer's own copy of click raise it
    (Typer 0.2x vendors click: its parser errors are not ``click.UsageError``)."""
    kinds = set(known)
    for base in typer.BadParameter.__mro__:
        if base.__name__ == name:
            kinds.add(base)
    return tuple(kinds)


USAGE_ERRORS = _kinds("UsageError", click.UsageError)
EXITS = _kinds("Exit", click.exceptions.Exit, typer.Exit)
ABORTS = _kinds("Abort", click.Abort, typer.Abort)


def main(argv: Optional[List[str]] = None) -> None:
    """Entry point: every usage error is one line on stderr and exit 2; no traceback."""
    from .output import WriteError

    try:
        code = app(args=argv, prog_name="concadvisor", standalone_mode=False)
    except USAGE_ERRORS as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `concadvisor`: the help
            sys.stdout.write(exc.format_message().rstrip() + "\n")
            sys.exit(0)
        lines = [line.strip() for line in (exc.format_message() or "").splitlines() if line.strip()]
        sys.stderr.write(f"concadvisor: error: {lines[0] if lines else 'usage error'}\n")
        sys.exit(2)
    except EXITS as exc:
        sys.exit(getattr(exc, "exit_code", 0))
    except ABORTS:
        sys.stderr.write("concadvisor: aborted\n")
        sys.exit(130)
    except WriteError as exc:  # disk full, folder removed meanwhile...
        sys.stderr.write(f"concadvisor: error: {exc.strerror}\n")
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


def run() -> None:
    """The console command: ``main``, then leave at once. Tearing down an interpreter
    that has pandas and numpy loaded takes a tenth of a second, and by then every file
    is written and closed; only the output streams need flushing."""
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code
        if code is None:
            code = 0
        elif not isinstance(code, int):
            sys.stderr.write(f"{code}\n")
            code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
