"""``python -m sandbox``: run the Kie, T-Bank, Telegram and S3 fakes until SIGTERM or SIGINT.

Configuration is the fleet's own (``Settings.from_env``: each fake listens on the port of its base URL) plus the
fakes' SANDBOX_* knobs. Once everything is up (bucket included) it prints one line per fake, ``<name> <url>``.

- ``python -m sandbox --check [--timeout S]``: wait until a running sandbox answers, exit 0; 1 if it does not.
- ``--only kie,s3``: start (or check) just those fakes.
Exit codes: 0 after a clean stop or a good check; 1 when a fake does not answer or the bucket cannot be made;
2 on bad configuration (a base URL off loopback, a busy port, a missing fake module).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Mapping, Sequence

from sandbox import runner
from settings import Settings
from telemetry import logs


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run (or ``--check``) the sandbox as configured by ``environ`` (default: the process environment); the
    return value is the exit code."""
    args = _parser().parse_args(argv)
    environ = os.environ if environ is None else environ
    names = [name.strip() for name in args.only.split(",") if name.strip()] if args.only else None
    try:
        logs.configure(environ.get("LOG_LEVEL") or "INFO")
        settings = Settings.from_env(environ)
        if args.check:
            return _check(settings, names, args.timeout)
        return _serve(settings, environ, names)
    # ValueError covers SettingsError and a fake's malformed SANDBOX_* knob.
    except (ValueError, runner.SandboxError, ModuleNotFoundError) as exc:
        print(f"sandbox: {exc}", file=sys.stderr)
        return 2
    except runner.BucketError as exc:  # the S3 fake started but does not work
        print(f"sandbox: {exc}", file=sys.stderr)
        return 1


def _serve(settings: Settings, environ: Mapping[str, str], names: Sequence[str] | None) -> int:
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    # Handlers go in before the fakes start, so a signal during start-up still ends in a clean stop.
    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    sandbox = runner.start_all(settings, environ, names=names)
    try:
        for name, url in sandbox.urls.items():
            print(f"{name:<9}{url}", flush=True)
        # A bounded wait in a loop: the signal handler runs between waits even where a lock wait is not interrupted.
        while not stop.wait(0.5):
            pass
    finally:
        sandbox.stop()
    return 0


def _check(settings: Settings, names: Sequence[str] | None, timeout_s: float) -> int:
    missing = runner.check(settings, names=names, timeout_s=timeout_s)
    if missing:
        print(f"sandbox: no answer from {', '.join(missing)} within {timeout_s:g} s", file=sys.stderr)
        return 1
    print("sandbox: all fakes answer", flush=True)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description="Run the local fakes of the providers.")
    parser.add_argument("--check", action="store_true", help="wait until a running sandbox answers, then exit")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds --check waits (default 30)")
    parser.add_argument("--only", default="", help="comma-separated fakes to start or check (default: all)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
