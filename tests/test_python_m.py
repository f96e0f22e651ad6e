"""``python -m misclass`` runs the same command line as the ``misclass`` script."""

from __future__ import annotations

import subprocess
import sys


def test_python_m_misclass_runs_the_cli():
    out = subprocess.run([sys.executable, "-m", "misclass", "models", "--help"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Usage: misclass models" in " ".join(out.stdout.split())
