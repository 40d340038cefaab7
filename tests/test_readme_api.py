"""The README's Python API example runs as written (in a scratch folder) and learns."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_api_example_runs(tmp_path, monkeypatch):
    text = README.read_text(encoding="utf-8")
    section = text.split("## Python API", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, str(README), "exec"), {})
    lines = printed.getvalue().splitlines()
    assert len(lines) == 7  # accuracy and report, five predictions, the evaluation
    accuracy = float(lines[0].split()[0])
    assert accuracy > 0.5 and lines[0].split()[1].endswith("report.html")
    assert float(lines[-1]) == accuracy
    assert (tmp_path / "runs" / "api-example" / "best.safetensors").exists()
