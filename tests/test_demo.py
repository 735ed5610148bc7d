"""The demo: the tutorial's network on the circles reaches >= 0.98 accuracy."""

import subprocess
import sys

import pytest

from ferroprop.__main__ import demo, main


@pytest.mark.parametrize("seed", range(10))
def test_demo_reaches_98_percent(seed):
    assert demo(seed, verbose=False) >= 0.98


def test_cli_prints_progress_and_final_accuracy():
    out = subprocess.run(
        [sys.executable, "-m", "ferroprop", "demo", "--seed", "3", "--epochs", "50"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = out.strip().splitlines()
    assert lines[-1].startswith("final accuracy: ")
    accuracy = float(lines[-1].split(": ")[1])
    assert 0.9 <= accuracy <= 1.0
    assert any(line.split()[:1] == ["50"] for line in lines)  # a progress row at epoch 50


def test_cli_refuses_bad_arguments(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--epochs", "0"])
    assert exc.value.code == 2
    assert "--epochs" in capsys.readouterr().err
