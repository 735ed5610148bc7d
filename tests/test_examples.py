"""Every script in examples/ runs to completion and prints what it shows.

Scripts that write a file take its path as their argument; here it points into the
test's temporary directory, which is also the working directory, so that a script
writing anywhere else in it would be noticed.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))
# The scripts that write a file, and the name to give it.
OUTPUTS = {"circles_and_moons.py": "boundaries.png", "save_and_load.py": "model.safetensors"}


def test_the_examples_are_there():
    names = {script.name for script in EXAMPLES}
    assert set(OUTPUTS) <= names
    assert {"tutorial_step_api.py", "digits_classifier.py", "regression.py"} <= names
    assert "distributed_search.py" in names


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_says_what_it_shows_and_how_to_run_it(script):
    docstring = ast.get_docstring(ast.parse(script.read_text(encoding="utf-8")))
    assert docstring, f"{script.name} has no module docstring"
    assert f"Run: python examples/{script.name}" in docstring


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(script, tmp_path):
    output = tmp_path / OUTPUTS[script.name] if script.name in OUTPUTS else None
    result = subprocess.run(
        [sys.executable, str(script), *([str(output)] if output else [])],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) >= 3, result.stdout
    assert sorted(tmp_path.iterdir()) == ([output] if output else [])
    if output is not None:
        assert str(output) in result.stdout  # says where the file went
        data = output.read_bytes()
        if output.suffix == ".png":
            assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert len(data) > 1000
