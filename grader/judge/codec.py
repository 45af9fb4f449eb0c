"""What may cross the trust boundary between the student's sandbox and the grader: data only.

Both sides use this module: the agent inside the sandbox encodes a student function's result,
the grader decodes it, and the other way round for arguments. A value is encoded as a JSON
tree; nothing in it runs code when decoded (no pickle, no classes chosen by the sender):

==========================  ====================================================
Python value                encoding
==========================  ====================================================
None, bool, int, float, str  themselves (floats may be NaN or infinite)
list                         a JSON list
tuple                        ``{"__tuple__": [...]}``
dict                         ``{"__dict__": [[key, value], ...]}`` (keys: str, int, float, bool, None)
numpy.ndarray                ``{"__ndarray__": {"dtype", "shape", "data": base64}}``, numeric or bool
numpy scalar                 ``{"__npscalar__": {"dtype", "data": base64}}``
numpy.random.Generator       ``{"__generator__": {"bit_generator", "state"}}``
a remote object              ``{"__remote__": {"handle", "kind", "type"}}`` (see ``proxy.py``)
==========================  ====================================================

Decoding rebuilds *base* ``numpy.ndarray`` objects (never a subclass, never object dtype), so
whatever the student's process did to its own arrays (a lying ``__eq__``, an
``__array_ufunc__``) does not come back. ``Limits`` bound the depth, the number of nodes, the
bytes of array data and the length of strings, so a result cannot exhaust the grader.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import numpy as np

#: dtypes that may cross, as NumPy's ``dtype.str`` (byte order included).
ALLOWED_DTYPES = frozenset(
    np.dtype(t).str for t in (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16,
                              np.uint32, np.uint64, np.float16, np.float32, np.float64,
                              np.complex64, np.complex128)
)
#: Bit generators whose state may cross; their state is a dict of ints, strings and arrays.
ALLOWED_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")
_INT_LIMIT = 1 << 256  # generator states hold 128-bit integers


class CodecError(ValueError):
    """A value that may not cross (not data, too large, too deep, or malformed)."""


@dataclass(frozen=True)
class Limits:
    max_depth: int = 32
    max_nodes: int = 200_000
    max_array_bytes: int = 64 << 20
    max_string: int = 1 << 20


DEFAULT_LIMITS = Limits()


class _Budget:
    def __init__(self, limits: Limits):
        self.limits, self.nodes, self.array_bytes = limits, 0, 0

    def node(self, depth: int) -> None:
        self.nodes += 1
        if depth > self.limits.max_depth:
            raise CodecError(f"the value is nested more than {self.limits.max_depth} levels deep")
        if self.nodes > self.limits.max_nodes:
            raise CodecError(f"the value has more than {self.limits.max_nodes} elements")

    def array(self, nbytes: int) -> None:
        self.array_bytes += nbytes
        if self.array_bytes > self.limits.max_array_bytes:
            raise CodecError(f"the arrays in the value exceed {self.limits.max_array_bytes >> 20} MiB")


# ----------------------------------------------------------------------------- encoding

def encode(value, limits: Limits = DEFAULT_LIMITS, remote=None):
    """The JSON tree of ``value``. ``remote(obj)`` encodes what is not data (or raises)."""
    return _encode(value, _Budget(limits), 0, remote)


def _encode(value, budget: _Budget, depth: int, remote):
    budget.node(depth)
    kind = type(value)
    if value is None or kind is bool or kind is str or kind is float:
        if kind is str and len(value) > budget.limits.max_string:
            raise CodecError(f"a string longer than {budget.limits.max_string} characters")
        return value
    if kind is int:
        if abs(value) >= _INT_LIMIT:
            raise CodecError("an integer too large to cross")
        return value
    if kind is list:
        return [_encode(v, budget, depth + 1, remote) for v in value]
    if kind is tuple:
        return {"__tuple__": [_encode(v, budget, depth + 1, remote) for v in value]}
    if kind is dict:
        return {"__dict__": [[_encode_key(k, budget, depth), _encode(v, budget, depth + 1, remote)]
                             for k, v in value.items()]}
    if isinstance(value, np.ndarray) and value.dtype.str in ALLOWED_DTYPES:
        data = np.ascontiguousarray(value).view(np.ndarray).tobytes()
        budget.array(len(data))
        return {"__ndarray__": {"dtype": value.dtype.str, "shape": list(value.shape),
                                "data": base64.b64encode(data).decode("ascii")}}
    if isinstance(value, np.generic) and value.dtype.str in ALLOWED_DTYPES:
        return {"__npscalar__": {"dtype": value.dtype.str,
                                 "data": base64.b64encode(value.tobytes()).decode("ascii")}}
    if isinstance(value, np.random.Generator):
        name = type(value.bit_generator).__name__
        if name not in ALLOWED_BIT_GENERATORS:
            raise CodecError(f"a generator with bit generator {name} cannot cross")
        return {"__generator__": {"bit_generator": name,
                                  "state": _encode(value.bit_generator.state, budget, depth + 1, None)}}
    if remote is not None:
        return {"__remote__": remote(value)}
    raise CodecError(f"a value of type {kind.__name__} is not data and cannot cross")


def _encode_key(key, budget, depth):
    if key is not None and type(key) not in (str, int, float, bool):
        raise CodecError(f"a dict key of type {type(key).__name__} cannot cross")
    return _encode(key, budget, depth + 1, None)


# ----------------------------------------------------------------------------- decoding

def decode(tree, limits: Limits = DEFAULT_LIMITS, remote=None):
    """The value a JSON tree encodes. ``remote(info)`` builds a proxy for a remote object."""
    return _decode(tree, _Budget(limits), 0, remote)


def _decode(tree, budget: _Budget, depth: int, remote):
    budget.node(depth)
    kind = type(tree)
    if tree is None or kind in (bool, float):
        return tree
    if kind is int:
        if abs(tree) >= _INT_LIMIT:
            raise CodecError("an integer too large to cross")
        return tree
    if kind is str:
        if len(tree) > budget.limits.max_string:
            raise CodecError(f"a string longer than {budget.limits.max_string} characters")
        return tree
    if kind is list:
        return [_decode(v, budget, depth + 1, remote) for v in tree]
    if kind is not dict or len(tree) != 1:
        raise CodecError(f"malformed value of type {kind.__name__}")
    (tag, body), = tree.items()
    if tag == "__tuple__" and type(body) is list:
        return tuple(_decode(v, budget, depth + 1, remote) for v in body)
    if tag == "__dict__" and type(body) is list:
        out = {}
        for pair in body:
            if type(pair) is not list or len(pair) != 2:
                raise CodecError("malformed dict entry")
            key = _decode(pair[0], budget, depth + 1, None)
            if key is not None and type(key) not in (str, int, float, bool):
                raise CodecError("malformed dict key")
            out[key] = _decode(pair[1], budget, depth + 1, remote)
        return out
    if tag == "__ndarray__":
        return _decode_array(body, budget)
    if tag == "__npscalar__":
        dtype, data = _dtype_and_bytes(body, budget)
        if len(data) != dtype.itemsize:
            raise CodecError("malformed numpy scalar")
        return np.frombuffer(data, dtype=dtype)[0].copy()
    if tag == "__generator__":
        return _decode_generator(body, budget, depth)
    if tag == "__remote__" and remote is not None and type(body) is dict:
        return remote(body)
    raise CodecError(f"unknown tag {str(tag)[:40]!r}")


def _dtype_and_bytes(body, budget: _Budget):
    if type(body) is not dict or type(body.get("dtype")) is not str or type(body.get("data")) is not str:
        raise CodecError("malformed array")
    if body["dtype"] not in ALLOWED_DTYPES:
        raise CodecError(f"dtype {body['dtype'][:20]!r} cannot cross (numeric or bool only)")
    budget.array(len(body["data"]) * 3 // 4)
    try:
        data = base64.b64decode(body["data"].encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError) as err:
        raise CodecError(f"malformed array data: {err}") from None
    return np.dtype(body["dtype"]), data


def _decode_array(body, budget: _Budget) -> np.ndarray:
    dtype, data = _dtype_and_bytes(body, budget)
    shape = body.get("shape")
    if type(shape) is not list or len(shape) > 32 or any(type(n) is not int or n < 0 for n in shape):
        raise CodecError("malformed array shape")
    count = 1
    for n in shape:
        count *= n
    if count * dtype.itemsize != len(data):
        raise CodecError("array data does not match its shape")
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()


def _decode_generator(body, budget: _Budget, depth: int) -> np.random.Generator:
    if type(body) is not dict or body.get("bit_generator") not in ALLOWED_BIT_GENERATORS:
        raise CodecError("malformed generator")
    state = _decode(body.get("state"), budget, depth + 1, None)
    bit_generator = getattr(np.random, body["bit_generator"])()
    try:
        bit_generator.state = state
    except (TypeError, ValueError, KeyError) as err:
        raise CodecError(f"malformed generator state: {err}") from None
    return np.random.Generator(bit_generator)
