"""The checks that visible and hidden tests rely on: they pass right answers, fail wrong ones,
and say why."""

import numpy as np
import pytest

from coursekit.checks import assert_self_contained, check_array, check_scalar


def test_check_array_accepts_equal_arrays_and_reports_the_first_difference():
    check_array(np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-13]), "close")
    with pytest.raises(AssertionError, match=r"case A: 1 of 2 values differ; first at index \(1,\): got 2\.5"):
        check_array(np.array([1.0, 2.5]), np.array([1.0, 2.0]), "case A")


@pytest.mark.parametrize("actual,message", [
    ([1.0, 2.0], "expected a numpy.ndarray, got list"),
    (np.array([1.0, 2.0, 3.0]), r"expected shape \(2,\), got \(3,\)"),
    (np.array([1.0, 2.0], dtype=np.float32), "expected dtype float64, got float32"),
    (np.array([np.nan, 2.0]), "NaN"),
])
def test_check_array_checks_type_shape_dtype_before_values(actual, message):
    with pytest.raises(AssertionError, match=message):
        check_array(actual, np.array([1.0, 2.0]), "case")


def test_coerce_accepts_lists_but_not_wrong_values():
    check_array([1.0, 2.0], np.array([1.0, 2.0]), "list", coerce=True)
    with pytest.raises(AssertionError):
        check_array([1.0, 3.0], np.array([1.0, 2.0]), "list", coerce=True)
    with pytest.raises(AssertionError, match="not a list or array of numbers"):
        check_array(["a", "b"], np.array([1.0, 2.0]), "strings", coerce=True)


def test_check_scalar():
    check_scalar(np.float32(2.0), 2.0, "numpy scalar")
    for bad in (np.array([2.0]), True, "2.0"):
        with pytest.raises(AssertionError):
            check_scalar(bad, 2.0, "not a number")
    with pytest.raises(AssertionError, match="relative error"):
        check_scalar(2.1, 2.0, "off")


import torch  # noqa: E402  (imported here: the guard must see it as a global of the module)
from nn_reference import activations as reference  # noqa: E402


def numpy_only(x):
    return np.maximum(x, 0)


def calls_torch(x):
    return torch.relu(torch.as_tensor(x)).numpy()


def calls_reference(x):
    return reference.relu(x)


def imports_inside(x):
    import torch as t
    return t.relu(t.as_tensor(x)).numpy()


def via_helper(x):
    return calls_torch(x)


def test_self_contained_guard_passes_numpy_and_catches_every_route_to_torch():
    assert_self_contained(numpy_only)
    for func in (calls_torch, calls_reference, imports_inside, via_helper):
        with pytest.raises(AssertionError, match="NumPy alone"):
            assert_self_contained(func)
