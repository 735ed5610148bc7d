"""Two-dimensional classification: make_circles and make_moons with a small Network.

For each dataset it trains a [2, 16, 16, 1] network (relu, relu, sigmoid, binary
cross-entropy, Adam, minibatches of 32) on 70 % of 600 noisy points, prints the training
and test accuracies, and draws both decision boundaries side by side in one PNG: the
predicted probability of class 1 over the plane, its 0.5 contour, and the test points
coloured by class.

Run: python examples/circles_and_moons.py [OUTPUT.png]   (a few seconds)

Without OUTPUT the image goes to a new temporary directory; the path is printed either
way. The plot needs matplotlib (``pip install 'ferroprop[plot]'``); without it the
script still trains and prints, and says it skipped the plot.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import make_circles, make_moons
from sklearn.model_selection import train_test_split

from ferroprop import Network

DATASETS = {
    "circles": make_circles(n_samples=600, factor=0.5, noise=0.1, random_state=0),
    "moons": make_moons(n_samples=600, noise=0.2, random_state=0),
}


def train(X: np.ndarray, y: np.ndarray, seed: int = 0) -> Network:
    """Train a [2, 16, 16, 1] relu network by Adam.

    Parameters
    ----------
    X : ndarray of shape (n_samples, 2)
        The points.
    y : ndarray of shape (n_samples,)
        Their classes, 0 or 1.
    seed : int
        Seed of the initialisation and of the shuffling.

    Returns
    -------
    Network
        The network after 300 epochs (minibatches of 32, learning rate 0.01).
    """
    net = Network([2, 16, 16, 1], ["relu", "relu", "sigmoid"], "binary_cross_entropy", seed=seed)
    net.fit(X, y, epochs=300, learning_rate=0.01, batch_size=32, optimizer="adam", seed=seed)
    return net


def accuracy(net: Network, X: np.ndarray, y: np.ndarray) -> float:
    """The fraction of points on the right side of the 0.5 boundary.

    Parameters
    ----------
    net : Network
        A network with one sigmoid output.
    X : ndarray of shape (n_samples, 2)
        The points.
    y : ndarray of shape (n_samples,)
        Their classes, 0 or 1.

    Returns
    -------
    float
        The accuracy, in [0, 1].
    """
    return float(np.mean((net.predict(X)[:, 0] > 0.5) == y))


def plot(results: dict, path: Path) -> None:
    """Draw the decision boundary of each trained network, one panel per dataset.

    Parameters
    ----------
    results : dict
        ``{name: (net, X_test, y_test, test_accuracy)}``, one entry per panel.
    path : Path
        The PNG file to write (matplotlib's Agg backend; no window is opened).
    """
    import matplotlib

    matplotlib.use("Agg")  # files only, no window
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(5.2 * len(results), 4.6))
    for ax, (name, (net, X_test, y_test, acc)) in zip(axes, results.items()):
        lo, hi = X_test.min(axis=0) - 0.5, X_test.max(axis=0) + 0.5
        xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], 250), np.linspace(lo[1], hi[1], 250))
        proba = net.predict(np.column_stack([xx.ravel(), yy.ravel()]))[:, 0].reshape(xx.shape)
        ax.contourf(xx, yy, proba, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6)
        ax.contour(xx, yy, proba, levels=[0.5], colors="k", linewidths=1.2)
        for label, color in ((0, "tab:blue"), (1, "tab:red")):
            points = X_test[y_test == label]
            ax.scatter(*points.T, s=14, c=color, edgecolors="k", linewidths=0.4)
        ax.set_title(f"{name}: test accuracy {acc:.3f}")
        ax.set_aspect("equal")
    fig.suptitle("ferroprop Network([2, 16, 16, 1]): decision boundaries, test points")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=90)
    plt.close(fig)


def main() -> None:
    """Train on both datasets, print the accuracies, plot to the path in ``sys.argv``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("output", nargs="?", type=Path, help="where to write the PNG")
    args = parser.parse_args()

    results = {}
    for name, (X, y) in DATASETS.items():
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.3, random_state=0, stratify=y
        )
        t0 = time.perf_counter()
        net = train(X_train, y_train)
        elapsed = time.perf_counter() - t0
        train_acc, test_acc = accuracy(net, X_train, y_train), accuracy(net, X_test, y_test)
        print(
            f"{name:>8}: train accuracy {train_acc:.3f}, test accuracy {test_acc:.3f} "
            f"(300 epochs in {elapsed:.2f} s)"
        )
        assert test_acc > 0.9, f"{name}: the network should separate the classes"
        results[name] = (net, X_test, y_test, test_acc)

    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("matplotlib is not installed, plot skipped: pip install 'ferroprop[plot]'")
        return
    path = args.output or Path(tempfile.mkdtemp(prefix="ferroprop-")) / "circles_and_moons.png"
    plot(results, path)
    print(f"decision boundaries written to {path}")


if __name__ == "__main__":
    main()
