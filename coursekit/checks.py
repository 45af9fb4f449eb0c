"""Checks shared by the assignments' visible tests, their hidden tests and the repository tests.

NumPy only, so that a student's notebook can run its visible tests without PyTorch.
Every check raises ``AssertionError`` with a message that says which case failed and by
how much, and checks type, shape and dtype before values.
"""

from __future__ import annotations

import dis
import types

import numpy as np

__all__ = ["check_array", "check_scalar", "assert_self_contained", "relative_error"]

#: Default tolerances per dtype, loose enough for any numerically sound formula.
DEFAULT_TOLERANCE = {
    np.dtype(np.float16): dict(rtol=1e-2, atol=1e-3),
    np.dtype(np.float32): dict(rtol=1e-5, atol=1e-6),
    np.dtype(np.float64): dict(rtol=1e-10, atol=1e-12),
}

#: Libraries a submission may not call: the oracle and the course's own reference code.
FORBIDDEN_MODULES = ("torch", "nn_reference")


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """``max |a - e| / max(|e|, tiny)`` over the elements, ignoring positions equal in both."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        diff = np.abs(actual - expected)
    diff = np.where(actual == expected, 0.0, diff)  # equal infinities are not an error
    scale = np.maximum(np.abs(expected), np.finfo(np.float64).tiny)
    return float(np.nanmax(np.where(np.isnan(diff), np.inf, diff / scale), initial=0.0))


def check_array(actual, expected, case: str, *, dtype=None, coerce: bool = False,
                rtol: float | None = None, atol: float | None = None) -> None:
    """Assert that ``actual`` is an ndarray with ``expected``'s shape, dtype and values.

    ``case`` names the input in the failure message. ``coerce=True`` accepts any array-like
    (a list of floats, say) and skips the dtype check, for results whose container the
    exercise leaves open. Values are compared with ``|a - e| <= atol + rtol * |e|``.
    """
    expected = np.asarray(expected)
    if coerce:
        try:
            actual = np.asarray(actual, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise AssertionError(f"{case}: the result is not a list or array of numbers ({err})")
        expected = expected.astype(np.float64)
    elif not isinstance(actual, np.ndarray):
        raise AssertionError(
            f"{case}: expected a numpy.ndarray, got {type(actual).__name__}"
        )
    if actual.shape != expected.shape:
        raise AssertionError(f"{case}: expected shape {expected.shape}, got {actual.shape}")
    want_dtype = np.dtype(dtype) if dtype is not None else expected.dtype
    if not coerce and actual.dtype != want_dtype:
        raise AssertionError(
            f"{case}: expected dtype {want_dtype}, got {actual.dtype} "
            f"(a float32 input should give a float32 result)"
        )
    tol = DEFAULT_TOLERANCE.get(want_dtype, DEFAULT_TOLERANCE[np.dtype(np.float64)])
    rtol = tol["rtol"] if rtol is None else rtol
    atol = tol["atol"] if atol is None else atol
    if np.isnan(actual).any() and not np.isnan(expected).any():
        raise AssertionError(f"{case}: the result contains NaN at {np.argwhere(np.isnan(actual))[:3].tolist()}")
    with np.errstate(invalid="ignore"):
        close = np.isclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True)
    if not close.all():
        worst = np.unravel_index(np.argmax(~close), close.shape) if close.ndim else ()
        raise AssertionError(
            f"{case}: {int((~close).sum())} of {close.size} values differ; "
            f"first at index {tuple(int(i) for i in worst)}: got {actual[worst].item()!r}, "
            f"expected {expected[worst].item()!r}; max relative error "
            f"{relative_error(actual, expected):.3g} (tolerance rtol={rtol:g}, atol={atol:g})"
        )


def check_scalar(actual, expected: float, case: str, *, rtol: float = 1e-6,
                 atol: float = 1e-9) -> None:
    """Assert that ``actual`` is one real number (Python or NumPy, 0-d) close to ``expected``."""
    if isinstance(actual, (bool, np.bool_, str, bytes)) or np.ndim(actual) != 0:
        raise AssertionError(f"{case}: expected a single number, got {actual!r}")
    try:
        value = float(actual)
    except (TypeError, ValueError):
        raise AssertionError(f"{case}: expected a single number, got {type(actual).__name__}")
    if not np.isclose(value, expected, rtol=rtol, atol=atol):
        raise AssertionError(
            f"{case}: got {value!r}, expected {expected!r} "
            f"(relative error {abs(value - expected) / max(abs(expected), 1e-300):.3g})"
        )


def _imported_names(code: types.CodeType):
    for instruction in dis.get_instructions(code):
        if instruction.opname == "IMPORT_NAME":
            yield instruction.argval


def _code_objects(code: types.CodeType):
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)


def _modules_used(func, seen: set) -> set[str]:
    """Names of the modules whose objects ``func`` reaches, following the student's helpers."""
    func = getattr(func, "__func__", func)  # bound methods
    code = getattr(func, "__code__", None)
    if code is None or id(func) in seen:
        return set()
    seen.add(id(func))
    namespace = getattr(func, "__globals__", {})
    used: set[str] = set()
    closure_values = [c.cell_contents for c in (func.__closure__ or ()) if _has_contents(c)]
    for co in _code_objects(code):
        used.update(_imported_names(co))
        objects = [namespace[n] for n in co.co_names if n in namespace] + closure_values
        for obj in objects:
            if isinstance(obj, types.ModuleType):
                used.add(obj.__name__)
                continue
            module = getattr(obj, "__module__", None) or ""
            used.add(module)
            if isinstance(obj, types.FunctionType) and getattr(obj, "__globals__", None) is namespace:
                used |= _modules_used(obj, seen)  # a helper the student wrote next to it
    return used


def _has_contents(cell) -> bool:
    try:
        cell.cell_contents
    except ValueError:
        return False
    return True


def assert_self_contained(func, forbidden=FORBIDDEN_MODULES) -> None:
    """Fail if ``func`` (or a helper it calls from the same notebook) uses a forbidden library.

    The exercises ask for NumPy implementations; calling PyTorch or the course's reference
    package instead does not earn the points.
    """
    if getattr(func, "__course_judge_remote__", False):
        return  # graded by the judge: the student's sandbox has neither library installed
    used = _modules_used(func, set())
    bad = sorted(m for m in used if m and m.split(".")[0] in forbidden)
    if bad:
        raise AssertionError(
            f"{getattr(func, '__name__', func)} uses {', '.join(bad)}; "
            f"this exercise must be solved with NumPy alone"
        )
