"""Shared test fixtures: the CLI runner that returns (exit code, stdout, stderr), and the real data
sets in ../shared/data (tests that need them are skipped where that folder is absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

SHARED_DATA = Path(os.environ.get("SHINSOU_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


@pytest.fixture
def shared_data() -> Path:
    """../shared/data (or $SHINSOU_SHARED_DATA); skips the test where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data sets not present at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def cli(capsys):
    """Run `shinsou ARGS...` in-process: returns (exit_status, stdout, stderr)."""
    from shinsou.cli import main

    def run(*args: str):
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
