"""The mutation operators: Cosmic Ray's core operators plus the mistakes typical of NumPy code.

Cosmic Ray (``cosmic_ray.operators``) mutates Python source through its parse tree (parso):
arithmetic and comparison operators, numbers, booleans, unary operators, loops. It knows
nothing of arrays, so this module adds operators, written against the same ``Operator``
interface, for the mistakes that a course on numerical code sees most:

* a keyword argument left at its default (``axis``, ``keepdims``, ``ddof``, ``dtype``);
* two positional arguments swapped (``np.where(c, b, a)``, ``rng.normal(std, mean)``);
* a NumPy function or method swapped for its look-alike (``mean``/``sum``, ``max``/``min``);
* a copy or a cast left out (``x.copy()`` -> ``x``, ``x.astype(t)`` -> ``x``);
* an in-place update where a new array was made, and the reverse (``x = x - g`` <-> ``x -= g``);
* the wrong source of randomness (the global ``np.random`` state, or a generator seeded inside
  the function, instead of the ``rng`` the caller passed);
* a statement removed; ``@`` replaced by ``*``; an augmented operator replaced.

Each operator yields one position per possible mutation of a node (``mutation_positions``)
and returns the mutated node (``mutate``); Cosmic Ray's ``mutate_code`` applies the k-th one.
"""

from __future__ import annotations

import parso
from cosmic_ray.operators.operator import Example, Operator
from cosmic_ray.operators.provider import OperatorProvider
from parso.python import tree

# ---------------------------------------------------------------------------------------------
# Small tools on parso trees


def _code(node) -> str:
    return node.get_code(include_prefix=False)


def _expression(code: str):
    """The parse tree of one expression or simple statement."""
    node = parso.parse(code).children[0]
    return node.children[0] if node.type == "simple_stmt" else node


def _parsed(code: str, like):
    """The node for ``code`` (an expression or a simple statement), with ``like``'s prefix."""
    node = _expression(code)
    node.get_first_leaf().prefix = like.get_first_leaf().prefix
    return node


def _is_call(trailer) -> bool:
    return trailer.type == "trailer" and trailer.children[0].type == "operator" \
        and trailer.children[0].value == "("


def _arguments(trailer) -> list:
    """The argument nodes of a call trailer ``( ... )``, commas left out."""
    if len(trailer.children) != 3:
        return []
    inner = trailer.children[1]
    if inner.type == "arglist":
        return [c for c in inner.children if not (c.type == "operator" and c.value == ",")]
    return [inner]


def _is_keyword(arg) -> bool:
    return arg.type == "argument" and len(arg.children) == 3 and arg.children[1].type == "operator" \
        and arg.children[1].value == "="


def _is_positional(arg) -> bool:
    if arg.type == "argument":  # keyword, *args, **kwargs or a generator expression
        return False
    return not (arg.type == "operator")


def _with_arguments(trailer, args) -> tree.BaseNode:
    """A copy of the call trailer ``trailer`` holding the argument source strings ``args``."""
    new = _expression("f(" + ", ".join(args) + ")").children[1]
    new.get_first_leaf().prefix = trailer.get_first_leaf().prefix
    return new


def _trailers(atom_expr) -> tuple:
    """``(base, [trailer, ...])`` of ``a.b(c)[d]``."""
    return atom_expr.children[0], atom_expr.children[1:]


def _dotted(base, trailers) -> str:
    return _code(base) + "".join(_code(t) for t in trailers)


# ---------------------------------------------------------------------------------------------
# Operators for NumPy code


class DropKeywordArgument(Operator):
    """``f(x, axis=0)`` -> ``f(x)``: a keyword argument left at its default."""

    def mutation_positions(self, node):
        if _is_call(node):
            for arg in _arguments(node):
                if _is_keyword(arg):
                    yield (arg.start_pos, arg.end_pos)

    def mutate(self, node, index):
        keywords = [a for a in _arguments(node) if _is_keyword(a)]
        dropped = keywords[index]
        return _with_arguments(node, [_code(a) for a in _arguments(node) if a is not dropped])

    @classmethod
    def examples(cls):
        return (Example("y = x.mean(axis=0, keepdims=True)", "y = x.mean(keepdims=True)"),
                Example("y = x.mean(axis=0, keepdims=True)", "y = x.mean(axis=0)", occurrence=1),
                Example("y = np.var(x, ddof=1)", "y = np.var(x)"))


class SwapArguments(Operator):
    """``f(a, b)`` -> ``f(b, a)``: two neighboring positional arguments swapped."""

    def mutation_positions(self, node):
        if _is_call(node):
            args = _arguments(node)
            for a, b in zip(args, args[1:]):
                if _is_positional(a) and _is_positional(b) and _code(a) != _code(b):
                    yield (a.start_pos, b.end_pos)

    def mutate(self, node, index):
        args = _arguments(node)
        pairs = [i for i, (a, b) in enumerate(zip(args, args[1:]))
                 if _is_positional(a) and _is_positional(b) and _code(a) != _code(b)]
        i = pairs[index]
        codes = [_code(a) for a in args]
        codes[i], codes[i + 1] = codes[i + 1], codes[i]
        return _with_arguments(node, codes)

    @classmethod
    def examples(cls):
        return (Example("y = np.where(m, a, b)", "y = np.where(a, m, b)"),
                Example("y = np.where(m, a, b)", "y = np.where(m, b, a)", occurrence=1))


#: NumPy functions and methods with the same arguments but another meaning.
LOOK_ALIKES = {
    "mean": "sum", "sum": "mean", "max": "min", "min": "max", "amax": "amin", "amin": "amax",
    "maximum": "minimum", "minimum": "maximum", "argmax": "argmin", "argmin": "argmax",
    "var": "std", "std": "var", "zeros": "ones", "ones": "zeros", "zeros_like": "ones_like",
    "ones_like": "zeros_like", "exp": "expm1", "expm1": "exp", "log": "log1p", "log1p": "log",
    "floor": "ceil", "ceil": "floor", "all": "any", "any": "all", "prod": "sum",
    "cumsum": "cumprod", "sqrt": "abs", "tanh": "sin", "abs": "negative",
}
#: Built-in functions swapped only when called by their bare name.
BUILTIN_LOOK_ALIKES = {"max": "min", "min": "max", "sum": "max", "any": "all", "all": "any",
                       "abs": "float"}


class SwapFunction(Operator):
    """``np.mean(x)`` -> ``np.sum(x)``, ``x.max()`` -> ``x.min()``: a look-alike function called."""

    def mutation_positions(self, node):
        if self._replacement(node):
            yield (node.start_pos, node.end_pos)

    @staticmethod
    def _replacement(node):
        if node.type != "name":
            return None
        parent = node.parent
        if parent.type == "trailer" and parent.children[0].type == "operator" \
                and parent.children[0].value == ".":
            following = parent.get_next_sibling()
            if following is not None and _is_call(following):
                return LOOK_ALIKES.get(node.value)
        if parent.type == "atom_expr" and parent.children[0] is node and _is_call(parent.children[1]):
            return BUILTIN_LOOK_ALIKES.get(node.value)
        return None

    def mutate(self, node, index):
        return tree.Name(self._replacement(node), node.start_pos, node.prefix)

    @classmethod
    def examples(cls):
        return (Example("y = np.mean(x, axis=0)", "y = np.sum(x, axis=0)"),
                Example("y = x.max(axis=1)", "y = x.min(axis=1)"),
                Example("y = max(a, b)", "y = min(a, b)"))


#: Calls that make a copy or a cast of their single argument.
COPY_OR_CAST_CALLS = {"np.copy", "np.array", "numpy.copy", "numpy.array", "float", "np.float32",
                      "np.float64", "copy.deepcopy", "list", "dict"}
COPY_OR_CAST_METHODS = {"copy", "astype"}


class DropCopyOrCast(Operator):
    """``x.copy()`` -> ``x``, ``x.astype(t)`` -> ``x``, ``np.array(x)`` -> ``x``,
    ``x.dtype.type(s)`` -> ``s``: a copy or a cast left out."""

    def mutation_positions(self, node):
        for _ in self._sites(node):
            yield (node.start_pos, node.end_pos)

    @staticmethod
    def _sites(node):
        if node.type != "atom_expr":
            return []
        base, trailers = _trailers(node)
        sites = []
        for i, (t, call) in enumerate(zip(trailers, trailers[1:])):
            if t.children[0].type == "operator" and t.children[0].value == "." \
                    and t.children[1].value in COPY_OR_CAST_METHODS and _is_call(call):
                sites.append(("method", i))
        if trailers and _is_call(trailers[-1]):
            callee = _dotted(base, trailers[:-1])
            args = _arguments(trailers[-1])
            if args and _is_positional(args[0]) and \
                    (callee in COPY_OR_CAST_CALLS or callee.endswith(".dtype.type")):
                sites.append(("wrapper", None))
        return sites

    def mutate(self, node, index):
        kind, i = self._sites(node)[index]
        base, trailers = _trailers(node)
        if kind == "method":
            code = _dotted(base, trailers[:i] + trailers[i + 2:])
        else:
            code = "(" + _code(_arguments(trailers[-1])[0]) + ")"
        return _parsed(code, node)

    @classmethod
    def examples(cls):
        return (Example("y = x.copy()", "y = x"),
                Example("y = x.astype(np.float32) * 2", "y = x * 2"),
                Example("y = np.array(x)", "y = (x)"),
                Example("y = x * x.dtype.type(s)", "y = x * (s)"))


class InPlaceUpdate(Operator):
    """``x -= g`` -> ``x = x - g`` and ``x = x - g`` -> ``x -= g``: an update made in place
    where a new array was meant, or the reverse."""

    OPS = ("+", "-", "*", "/")

    def mutation_positions(self, node):
        if self._rewrite(node) is not None:
            yield (node.start_pos, node.end_pos)

    def _rewrite(self, node):
        if node.type != "expr_stmt" or len(node.children) != 3:
            return None
        target, op, value = node.children
        if op.type != "operator":
            return None
        if op.value in tuple(o + "=" for o in self.OPS):
            return f"{_code(target)} = {_code(target)} {op.value[0]} ({_code(value)})"
        if op.value == "=" and value.type in ("arith_expr", "term") and len(value.children) == 3 \
                and _code(value.children[0]) == _code(target) and value.children[1].value in self.OPS:
            return f"{_code(target)} {value.children[1].value}= {_code(value.children[2])}"
        return None

    def mutate(self, node, index):
        return _parsed(self._rewrite(node), node)

    @classmethod
    def examples(cls):
        return (Example("w -= lr * g", "w = w - (lr * g)"),
                Example("w = w - lr * g", "w -= lr * g"))


#: Names that hold the random generator a function is given.
GENERATOR_NAMES = {"rng", "generator", "gen", "random_state"}
#: ``numpy.random.Generator`` methods whose legacy global-state function has another name.
GLOBAL_NAMES = {"integers": "randint"}


class WrongRandomSource(Operator):
    """``rng.normal(...)`` -> ``np.random.normal(...)`` (the global state) or
    ``np.random.default_rng(0).normal(...)`` (a generator seeded inside the function); a
    generator passed on, ``f(x, rng)``, -> ``f(x, np.random.default_rng(0))``."""

    def mutation_positions(self, node):
        for _ in self._variants(node):
            yield (node.start_pos, node.end_pos)

    @staticmethod
    def _variants(node):
        if node.type != "name" or node.value not in GENERATOR_NAMES:
            return []
        parent = node.parent
        if parent.type in ("param", "funcdef", "import_from", "import_name", "dotted_as_name"):
            return []
        if parent.type == "argument" and parent.children[0] is node:
            return []  # the keyword's name in f(rng=...)
        if parent.type == "expr_stmt" and parent.children[0] is node:
            return []  # an assignment to it
        if parent.type == "trailer":
            return []  # an attribute called rng
        if parent.type == "atom_expr" and parent.children[0] is node and len(parent.children) >= 3 \
                and parent.children[1].children[0].value == "." and _is_call(parent.children[2]):
            return ["seeded", "global"]
        return ["seeded"]

    def mutate(self, node, index):
        variant = self._variants(node)[index]
        if variant == "seeded":
            return _parsed("np.random.default_rng(0)", node)
        method = node.get_next_sibling().children[1]
        method.value = GLOBAL_NAMES.get(method.value, method.value)
        return _parsed("np.random", node)

    @classmethod
    def examples(cls):
        return (Example("m = rng.random(shape) >= p", "m = np.random.default_rng(0).random(shape) >= p"),
                Example("m = rng.random(shape) >= p", "m = np.random.random(shape) >= p", occurrence=1),
                Example("y = f(x, rng)", "y = f(x, np.random.default_rng(0))"))


class RemoveStatement(Operator):
    """A statement left out (replaced by ``pass``)."""

    KINDS = {"expr_stmt", "atom_expr", "del_stmt", "raise_stmt", "assert_stmt", "power"}

    def mutation_positions(self, node):
        if node.type in self.KINDS and node.parent.type in ("simple_stmt", "suite", "file_input") \
                and not (node.type == "atom_expr" and node.children[0].type == "string"):
            yield (node.start_pos, node.end_pos)

    def mutate(self, node, index):
        return tree.Keyword("pass", node.start_pos, node.get_first_leaf().prefix)

    @classmethod
    def examples(cls):
        return (Example("def f(x):\n    x = x + 1\n    return x", "def f(x):\n    pass\n    return x"),
                Example("def f(x):\n    raise ValueError(x)", "def f(x):\n    pass"))


class ReplaceMatMul(Operator):
    """``a @ b`` -> ``a * b``."""

    def mutation_positions(self, node):
        if node.type == "operator" and node.value == "@" and node.parent.type == "term":
            yield (node.start_pos, node.end_pos)

    def mutate(self, node, index):
        node.value = "*"
        return node

    @classmethod
    def examples(cls):
        return (Example("y = x @ w", "y = x * w"),)


class ReplaceAugmentedOperator(Operator):
    """``x += d`` -> ``x -= d``, ``x *= s`` -> ``x /= s`` and back."""

    SWAP = {"+=": "-=", "-=": "+=", "*=": "/=", "/=": "*="}

    def mutation_positions(self, node):
        if node.type == "operator" and node.value in self.SWAP and node.parent.type == "expr_stmt":
            yield (node.start_pos, node.end_pos)

    def mutate(self, node, index):
        node.value = self.SWAP[node.value]
        return node

    @classmethod
    def examples(cls):
        return (Example("x += d", "x -= d"), Example("x *= s", "x /= s"))


COURSE_OPERATORS = (DropKeywordArgument, SwapArguments, SwapFunction, DropCopyOrCast, InPlaceUpdate,
                    WrongRandomSource, RemoveStatement, ReplaceMatMul, ReplaceAugmentedOperator)

# ---------------------------------------------------------------------------------------------
# Cosmic Ray's core operators, the subset that models a plausible mistake

_CORE_NAMES = (
    [f"ReplaceBinaryOperator_{a}_{b}" for a, b in
     [("Add", "Sub"), ("Sub", "Add"), ("Mul", "Div"), ("Div", "Mul"), ("FloorDiv", "Div"),
      ("Pow", "Mul"), ("Mod", "FloorDiv")]]
    + [f"ReplaceComparisonOperator_{a}_{b}" for a, b in
       [("Lt", "LtE"), ("LtE", "Lt"), ("Gt", "GtE"), ("GtE", "Gt"), ("Lt", "Gt"), ("Gt", "Lt"),
        ("LtE", "GtE"), ("GtE", "LtE"), ("Eq", "NotEq"), ("NotEq", "Eq"), ("Is", "IsNot"),
        ("IsNot", "Is")]]
    + ["ReplaceUnaryOperator_Delete_USub", "ReplaceUnaryOperator_Delete_Not", "AddNot",
       "ReplaceTrueWithFalse", "ReplaceFalseWithTrue", "ReplaceAndWithOr", "ReplaceOrWithAnd",
       "ReplaceBreakWithContinue", "ReplaceContinueWithBreak", "NumberReplacer",
       "ZeroIterationForLoop"]
)


def all_operators() -> dict[str, Operator]:
    """``name -> operator instance`` of every operator the course's mutation testing applies."""
    provider = OperatorProvider()
    operators = {name: provider[name]() for name in _CORE_NAMES}
    operators.update({cls.__name__: cls() for cls in COURSE_OPERATORS})
    return operators
