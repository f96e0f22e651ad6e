"""Helpers for tests: the shared real data and running the CLI in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

from misclass.cli import main

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
IMAGENET_TIMM = SHARED_DATA / "imagenet-val-timm-top1"


def require_imagenet_timm() -> Path:
    """Skip the test when the shared ImageNet predictions are absent."""
    if not IMAGENET_TIMM.is_dir():
        pytest.skip(f"real ImageNet predictions not found at {IMAGENET_TIMM} (../shared/data)")
    return IMAGENET_TIMM


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    """Run ``misclass`` in-process; return (exit code, stdout, stderr)."""
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out = capsys.readouterr()
    return code, out.out, out.err


def cli_json(command: list, capsys, out) -> dict:
    """Run ``misclass COMMAND... --json OUT`` in-process (it must succeed); return the JSON it wrote."""
    import json

    code, _, err = run_cli([*command, "--json", out], capsys)
    assert code == 0, err
    return json.loads(Path(out).read_text())
