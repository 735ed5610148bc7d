"""The demo: the tutorial's network on the circles reaches >= 0.98 accuracy."""

import subprocess
import sys

import numpy as np
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


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "ferroprop", "demo", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_plot_writes_a_png(tmp_path):
    image = pytest.importorskip("matplotlib.image")
    path = tmp_path / "demo.png"
    result = run_cli("--seed", "1", "--epochs", "30", "--plot", path)
    assert result.returncode == 0, result.stderr
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    pixels = image.imread(path)
    height, width = pixels.shape[:2]
    assert 300 <= height < width <= 3000  # two panels side by side
    assert pixels[..., :3].std() > 0.05  # something is drawn, not a blank canvas
    lines = result.stdout.strip().splitlines()
    assert lines[-2].startswith("final accuracy: ")
    assert lines[-1].endswith(str(path))


@pytest.mark.parametrize("where", ["missing folder", "a folder"])
def test_cli_plot_to_a_bad_path_fails_cleanly(tmp_path, where):
    pytest.importorskip("matplotlib")
    path = tmp_path / "missing" / "demo.png" if where == "missing folder" else tmp_path
    result = run_cli("--epochs", "5", "--plot", path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"cannot write the plot to {path}" in result.stderr
    assert result.stdout == ""  # refused before training
    assert sorted(tmp_path.iterdir()) == []


def test_plot_without_matplotlib_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--plot", str(tmp_path / "demo.png")])
    assert "pip install 'ferroprop[demo,plot]'" in str(exc.value.code)
    assert sorted(tmp_path.iterdir()) == []


def test_plot_demo_draws_the_network_it_is_given(tmp_path):
    pytest.importorskip("matplotlib")
    from ferroprop import Network
    from ferroprop.__main__ import plot_demo

    X = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    y = np.array([0, 1, 1])
    plot_demo(
        Network([2, 3, 1], seed=0, loss="binary_cross_entropy"), X, y, [0.7, 0.5], tmp_path / "p"
    )
    assert (tmp_path / "p").read_bytes()[:8] == PNG_SIGNATURE
    with pytest.raises(ValueError, match="2 inputs and 1 output"):
        plot_demo(Network([3, 1], seed=0), X, y, [0.7], tmp_path / "q")
    with pytest.raises(ValueError, match="shape"):
        plot_demo(Network([2, 1], seed=0), X, y[:2], [0.7], tmp_path / "q")
    assert not (tmp_path / "q").exists()


@pytest.mark.parametrize("argv", [["--help"], ["demo", "--help"]])
def test_the_help_is_plain_text_and_documents_every_option(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "``" not in out and ":class:" not in out
    if argv[0] == "demo":
        options = out[out.index("options:") :]
        entries = options.split("\n  --")[1:]  # one per option, its help text included
        assert [e.split()[0] for e in entries] == [
            "seed",
            "epochs",
            "learning-rate",
            "batch-size",
            "plot",
        ]
        assert all("(default: " in e for e in entries[:4])
        assert "ferroprop[demo]" in out and "ferroprop[demo,plot]" in out
