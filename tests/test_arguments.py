"""Every scalar argument, every bad value: the exception type, and a message that names the
argument and the value.

Python converts and checks types (``TypeError``; bools are not numbers); the core checks
every value (``ValueError``, ``"{arg} must be ..., got {value}"`` or ``"unknown {arg}
'{name}'; expected one of ..."``), whatever the optimizer and schedule.
"""

import re

import numpy as np
import pytest

from ferroprop import Network

HUGE = 2**200  # beyond the binding's 128-bit integers
BIG = 2**64  # beyond the core's 64-bit integers
FLOAT_OVERFLOW = 10**400  # an int beyond the floats: infinite

# (value, exception, how the message shows the value)
COUNT = [
    (0, ValueError, "at least 1, got 0"),
    (-1, ValueError, "at least 1, got -1"),
    (np.int64(-2), ValueError, "got -2"),
    (-(2**70), ValueError, f"at least 1, got {-(2**70)}"),
    (BIG, ValueError, f"got {BIG}"),
    (HUGE, ValueError, f"got {HUGE}"),
    (True, TypeError, "True"),
    (np.bool_(True), TypeError, "True"),
    (2.0, TypeError, "2.0"),
    ("3", TypeError, "'3'"),
]
SEED = [
    (-1, ValueError, "[0, 2**64), got -1"),
    (BIG, ValueError, f"got {BIG}"),
    (HUGE, ValueError, f"got {HUGE}"),
    (False, TypeError, "False"),
    (1.5, TypeError, "1.5"),
]
NOT_A_REAL = [
    (True, TypeError, "True"),
    ("x", TypeError, "'x'"),
    (None, TypeError, "None"),
    (1j, TypeError, "1j"),
]
NOT_FINITE = [
    (float("nan"), ValueError, "got nan"),
    (float("inf"), ValueError, "got inf"),
    (-float("inf"), ValueError, "got -inf"),
    (FLOAT_OVERFLOW, ValueError, "got inf"),
]
POSITIVE = [
    (0, ValueError, "positive and finite, got 0.0"),
    (-1.0, ValueError, "positive and finite, got -1.0"),
    *NOT_FINITE,
    *NOT_A_REAL,
]
BELOW_ONE = [
    (1.0, ValueError, "[0, 1), got 1.0"),
    (1.5, ValueError, "[0, 1), got 1.5"),
    (-0.1, ValueError, "[0, 1), got -0.1"),
    (float("nan"), ValueError, "got nan"),
    (float("inf"), ValueError, "got inf"),
    *NOT_A_REAL,
]
NON_NEGATIVE = [
    (-1.0, ValueError, "non-negative and finite, got -1.0"),
    (-1e-300, ValueError, "got -1e-300"),
    *NOT_FINITE,
    *NOT_A_REAL,
]


def _name(choices):
    return [
        ("x", ValueError, "'x'; expected one of " + ", ".join(f"'{c}'" for c in choices)),
        ("SGD ", ValueError, "'SGD '"),
        (3, TypeError, "3"),
        (None, TypeError, "None"),
    ]


FIT = {
    "epochs": COUNT,
    "learning_rate": POSITIVE,
    "batch_size": COUNT,
    "optimizer": _name(["sgd", "adam", "adamw"]),
    "seed": SEED,
    "momentum": BELOW_ONE,
    "beta_1": BELOW_ONE,
    "beta_2": BELOW_ONE,
    "epsilon": POSITIVE,
    "alpha": NON_NEGATIVE,
    "schedule": _name(["constant", "invscaling", "adaptive", "cosine", "step", "one_cycle"]),
    "power_t": NON_NEGATIVE,
    "validation_metric": _name(["loss", "accuracy", "r2"]),
    "n_iter_no_change": COUNT,
    "tol": NON_NEGATIVE,
    "weight_decay": NON_NEGATIVE,
    "warmup": [
        (-1, ValueError, "at least 0, got -1"),
        (BIG, ValueError, f"got {BIG}"),
        (HUGE, ValueError, f"got {HUGE}"),
        (True, TypeError, "True"),
        (2.0, TypeError, "2.0"),
    ],
    "t_max": COUNT,
    "step_size": COUNT,
    "gamma": POSITIVE,
}


def _cases(table):
    return [
        pytest.param(arg, value, error, shown, id=f"{arg}={value!r}"[:60])
        for arg, rows in table.items()
        for value, error, shown in rows
    ]


def _net():
    return Network([2, 3, 1], ["tanh", "sigmoid"], "binary_cross_entropy", seed=0)


X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
Y = np.array([1.0, 1.0, 0.0, 0.0])


def _assert_message(err, arg, shown):
    message = str(err.value)
    assert re.search(rf"(^|\W){re.escape(arg)}(\W|$)", message), message
    assert shown in message, message
    assert "\n" not in message


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw"])
@pytest.mark.parametrize(("arg", "value", "error", "shown"), _cases(FIT))
def test_fit_refuses_every_bad_value_whatever_the_optimizer(optimizer, arg, value, error, shown):
    """Every setting is checked, those of the optimizer not chosen and power_t without
    schedule="invscaling" too (scikit-learn's rule), and the weights stay as they were."""
    net = _net()
    before = net.get_weights()
    kwargs = {"optimizer": optimizer, "epochs": 2, arg: value}
    with pytest.raises(error) as err:
        net.fit(X, Y, **kwargs)
    _assert_message(err, arg, shown)
    if error is ValueError and arg not in ("optimizer", "schedule", "validation_metric"):
        assert str(err.value).startswith(f"{arg} must be"), str(err.value)
    for (W, b), (W0, b0) in zip(net.get_weights(), before):
        np.testing.assert_array_equal(W, W0)
        np.testing.assert_array_equal(b, b0)


@pytest.mark.parametrize("arg", ["optimizer", "schedule", "validation_metric"])
def test_unknown_names_read_alike(arg):
    with pytest.raises(ValueError, match=rf"^unknown {arg} 'x'; expected one of '"):
        _net().fit(X, Y, epochs=1, **{arg: "x"})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        # The inconsistencies of the three layers of checks this replaced.
        (dict(optimizer="adam", momentum=1.5), r"^momentum must be in \[0, 1\), got 1.5$"),
        (dict(optimizer="sgd", beta_1=1.0), r"^beta_1 must be in \[0, 1\), got 1.0$"),
        (dict(optimizer="sgd", epsilon=0.0), r"^epsilon must be positive and finite, got 0.0$"),
        (dict(power_t=-0.5), r"^power_t must be non-negative and finite, got -0.5$"),
        (dict(power_t=-0.5, optimizer="adam"), r"^power_t must be non-negative"),
        (dict(power_t=-0.5, schedule="invscaling"), r"^power_t must be non-negative"),
        (dict(alpha=-1), r"^alpha must be non-negative and finite, got -1.0$"),
        (dict(tol=-1e-4), r"^tol must be non-negative and finite, got -0.0001$"),
        (dict(epochs=0), r"^epochs must be at least 1, got 0$"),
        (dict(epochs=-3), r"^epochs must be at least 1, got -3$"),
        (dict(batch_size=2**64), r"^batch_size must be at most \d+, got 18446744073709551616$"),
        (dict(seed=2**64), r"^seed must be in \[0, 2\*\*64\), got 18446744073709551616$"),
        (dict(n_iter_no_change=0), r"^n_iter_no_change must be at least 1, got 0$"),
    ],
)
def test_messages(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _net().fit(X, Y, **{"epochs": 1, **kwargs})


def test_valid_edges_are_accepted():
    net = _net()
    for kwargs in [
        dict(momentum=0.0, beta_1=0.0, beta_2=0.0, alpha=0.0, tol=0.0, power_t=0.0),
        dict(momentum=0.999, optimizer="adam", beta_1=0.999, epsilon=1e-300),
        dict(seed=2**64 - 1, batch_size=2**63, n_iter_no_change=2**63),
        dict(seed=np.uint64(2**64 - 1), epochs=np.int8(1), learning_rate=np.float32(0.1)),
    ]:
        assert len(net.fit(X, Y, **{"epochs": 1, **kwargs})) == 1


def test_sample_weight_keeps_the_alpha_given():
    """With sample weights, alpha is rescaled for the core, but a refused one is shown as
    given."""
    with pytest.raises(ValueError, match=r"^alpha must be non-negative and finite, got -1.0$"):
        _net().fit(X, Y, epochs=1, alpha=-1.0, sample_weight=[4.0, 4.0, 4.0, 4.0])
    with pytest.raises(ValueError, match=r"^alpha must be non-negative and finite, got -1.0$"):
        _net().loss_and_gradient(X, Y, sample_weight=[4.0, 4.0, 4.0, 4.0], alpha=-1.0)


INIT = {
    "layer_sizes": [
        ([2, 0, 1], ValueError, "layer_sizes[1] = 0"),
        ([2, -3, 1], ValueError, "layer_sizes[1] = -3"),
        ([2, BIG, 1], ValueError, f"layer_sizes[1] = {BIG}"),
        ([2, HUGE, 1], ValueError, str(HUGE)),
        ([2], ValueError, "at least 2 entries"),
        ([], ValueError, "at least 2 entries"),
        ([2, True, 1], TypeError, "True"),
        ([2, 2.5, 1], TypeError, "2.5"),
        ([2, "3", 1], TypeError, "'3'"),
        ("21", TypeError, "'21'"),
        (3, TypeError, "3"),
    ],
    "activations": [
        ("mish", ValueError, "'mish'"),
        (["relu", "mish"], ValueError, "'mish'"),
        ([1, "sigmoid"], TypeError, "1"),
        (3, TypeError, "3"),
    ],
    "loss": [("hinge", ValueError, "'hinge'"), (3, TypeError, "3")],
    "dtype": [
        ("float16", ValueError, "'float16'"),
        (np.float16, ValueError, "'float16'"),
        ("int64", ValueError, "'int64'"),
        (3, TypeError, "3"),
    ],
    "seed": SEED,
}


@pytest.mark.parametrize(("arg", "value", "error", "shown"), _cases(INIT))
def test_constructor_refuses_every_bad_value(arg, value, error, shown):
    kwargs = {"layer_sizes": [2, 3, 1], arg: value}
    with pytest.raises(error) as err:
        Network(**kwargs)
    _assert_message(err, arg, shown)


@pytest.mark.parametrize(("value", "error", "shown"), POSITIVE)
def test_update_refuses_every_bad_learning_rate(value, error, shown):
    net = _net()
    net.forward(X)
    net.backward(Y)
    with pytest.raises(error) as err:
        net.update(value)
    _assert_message(err, "learning_rate", shown)


@pytest.mark.parametrize(("value", "error", "shown"), POSITIVE)
def test_gradient_check_refuses_every_bad_eps(value, error, shown):
    if value is None:  # eps=None is the default step
        assert _net().gradient_check(X, Y, eps=None) < 1e-5
        return
    with pytest.raises(error) as err:
        _net().gradient_check(X, Y, eps=value)
    _assert_message(err, "eps", shown)


@pytest.mark.parametrize(("value", "error", "shown"), NON_NEGATIVE)
def test_loss_and_gradient_refuses_every_bad_alpha(value, error, shown):
    with pytest.raises(error) as err:
        _net().loss_and_gradient(X, Y, alpha=value)
    _assert_message(err, "alpha", shown)


def test_float32_networks_check_the_same_values():
    net = Network([2, 3, 1], ["tanh", "sigmoid"], dtype="float32", seed=0)
    with pytest.raises(ValueError, match=r"^momentum must be in \[0, 1\), got 1.0$"):
        net.fit(X, Y, epochs=1, optimizer="adam", momentum=1.0)
    with pytest.raises(ValueError, match="^eps must be positive and finite, got -1.0$"):
        net.gradient_check(X, Y, eps=-1.0)
