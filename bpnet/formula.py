"""A small, safe formula language evaluated on numpy arrays.

    >>> f = parse_formula("sin(3*x)*exp(-x^2)")
    >>> f(np.linspace(-1, 1, 5)).shape
    (5,)

Grammar (lowest to highest precedence; whitespace is ignored)::

    expression := term (("+" | "-") term)*
    term       := signed (("*" | "/") signed)*
    signed     := ("-" | "+") signed | power
    power      := atom (("^" | "**") signed)?          right-associative
    atom       := number | variable | constant | function "(" arguments ")"
                | "(" expression ")"
    number     := 12 | 1.5 | .5 | 5. | 1e-3 | 2.5E+4
    constant   := pi | e

So ``-x^2`` is ``-(x^2)``, ``2^3^2`` is ``2^9`` and ``2^-x`` is ``2^(-x)``, as in math.
Functions are listed in ``FUNCTIONS``; ``min``/``max`` are elementwise.
Implicit multiplication (``2x``) is an error. Text is tokenized and parsed by hand into a
tiny tree of node classes; nothing is ever passed to ``eval``/``exec``/``compile``.
At most ``MAX_LENGTH`` characters and ``MAX_DEPTH`` levels of nesting (parentheses,
function calls, signs and exponents) are accepted, so any input parses in bounded time.
"""
from __future__ import annotations

import difflib
import re
from typing import Callable, NamedTuple

import numpy as np

__all__ = ["parse_formula", "Formula", "FormulaError", "FUNCTIONS", "CONSTANTS"]

MAX_LENGTH = 200
MAX_DEPTH = 30

_UNARY_FUNCTIONS = "sin cos tan exp log sqrt abs tanh sinh cosh arcsin arccos arctan floor ceil sign"
FUNCTIONS = {name: (getattr(np, name), 1) for name in _UNARY_FUNCTIONS.split()}  # name -> (ufunc, arity)
FUNCTIONS.update(power=(np.power, 2), min=(np.minimum, 2), max=(np.maximum, 2))
CONSTANTS = {"pi": float(np.pi), "e": float(np.e)}

_BINARY = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "^": np.power}
_UNARY = {"-": np.negative, "+": np.positive}
_INFIX_BP = {"+": (10, 11), "-": (10, 11), "*": (20, 21), "/": (20, 21), "^": (41, 40)}  # (left, right)
_PREFIX_BP = 30  # between "*" and "^": -x^2 == -(x^2), -x*y == (-x)*y
_NUMBER = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = ("**", "+", "-", "*", "/", "^", "(", ")", ",")


class FormulaError(ValueError):
    """A formula that cannot be parsed or evaluated; ``column`` is 1-based or None."""

    def __init__(self, message: str, column: int | None = None):
        super().__init__(message)
        self.message = message
        self.column = column


class _Token(NamedTuple):
    """One lexical token with its 1-based column."""
    kind: str  # "num", "name", "op" or "end"
    text: str
    col: int


def _tokenize(text: str) -> list[_Token]:
    """Split text into tokens; any character outside the language is an error."""
    tokens, pos = [], 0
    while pos < len(text):
        col = pos + 1
        if text[pos] in " \t\r\n":
            pos += 1
            continue
        match = _NUMBER.match(text, pos) or _NAME.match(text, pos)
        if match:
            kind, word = ("num" if text[pos] in "0123456789." else "name"), match.group()
        else:
            kind, word = "op", next((op for op in _OPERATORS if text.startswith(op, pos)), None)
            if word is None:
                raise FormulaError(f"unexpected character {text[pos]!r} at column {col}", col)
        pos += len(word)
        if kind == "num" and text.startswith(".", pos):
            raise FormulaError(f"malformed number {word + '.'!r} at column {col}", col)
        tokens.append(_Token(kind, word, col))
    tokens.append(_Token("end", "", len(text) + 1))
    return tokens


def _suggest(name: str, known) -> str:
    """A "; did you mean ...?" hint for a misspelt name, or ""."""
    close = difflib.get_close_matches(name, list(known), n=1) or difflib.get_close_matches(
        name.lower(), list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


class _Number(NamedTuple):
    """A literal number or named constant."""
    value: np.float64

    def evaluate(self, env):
        return self.value


class _Variable(NamedTuple):
    """A reference to one of the formula's variables."""
    name: str

    def evaluate(self, env):
        return env[self.name]


class _Apply(NamedTuple):
    """A whitelisted numpy function (operator or call) applied to sub-expressions."""
    func: Callable
    args: tuple

    def evaluate(self, env):
        return self.func(*(arg.evaluate(env) for arg in self.args))


class _Parser:
    """Pratt parser from tokens to a node tree; depth is bounded by MAX_DEPTH."""

    def __init__(self, text: str, variables: tuple[str, ...]):
        self.tokens, self.pos, self.prev, self.variables = _tokenize(text), 0, None, variables

    def peek(self) -> _Token:
        return self.tokens[self.pos]

    def advance(self) -> _Token:
        self.prev = self.tokens[self.pos]
        self.pos += 1
        return self.prev

    def parse(self):
        """Parse the whole token list into one expression tree."""
        tree = self.expression(0, 0)
        if self.peek().kind != "end":
            self.unexpected(self.peek())
        return tree

    def unexpected(self, tok: _Token):
        """Raise for a token that cannot follow a complete expression: ')' or ','."""
        if tok.text == ")":
            raise FormulaError(f"unbalanced parenthesis: ')' at column {tok.col} has no matching '('", tok.col)
        raise FormulaError(f"unexpected {tok.text!r} at column {tok.col}; commas only separate "
                           "function arguments", tok.col)

    def expression(self, min_bp: int, depth: int):
        """Parse operators binding tighter than min_bp (Pratt loop); depth counts nesting."""
        if depth > MAX_DEPTH:
            col = self.prev.col
            raise FormulaError(f"formula is nested too deeply at column {col}: at most {MAX_DEPTH} levels "
                               "of parentheses, function calls, signs and powers", col)
        left = self.prefix(depth)
        while True:
            tok = self.peek()
            if tok.kind in ("num", "name") or tok.text == "(":
                before = self.prev.text
                raise FormulaError(f"missing operator between {before!r} and {tok.text!r} at column {tok.col}; "
                                   f"did you mean '{before}*{tok.text}'?", tok.col)
            op = "^" if tok.text == "**" else tok.text
            if op not in _INFIX_BP or _INFIX_BP[op][0] <= min_bp:
                return left
            self.advance()
            right = self.expression(_INFIX_BP[op][1], depth + 1 if op == "^" else depth)
            left = _Apply(_BINARY[op], (left, right))

    def prefix(self, depth: int):
        """Parse what can start an expression: number, name, sign or parenthesis."""
        tok, prev = self.peek(), self.prev
        if tok.kind == "num":
            self.advance()
            return _Number(np.float64(tok.text))  # 1e999 -> inf, reported by the finite check
        if tok.kind == "name":
            self.advance()
            return self.name(tok, depth)
        if tok.text in _UNARY:
            self.advance()
            return _Apply(_UNARY[tok.text], (self.expression(_PREFIX_BP, depth + 1),))
        if tok.text == "(":
            self.advance()
            inner = self.expression(0, depth + 1)
            self.close(tok)
            return inner
        if tok.kind == "end" and prev is not None and prev.text == "(":
            self.close(prev)
        if prev is None:
            raise FormulaError(f"expected an expression at column {tok.col}, found {tok.text!r}", tok.col)
        found = "" if tok.kind == "end" else f", found {tok.text!r}"
        raise FormulaError(f"expected an expression after {prev.text!r} at column {prev.col}{found}", prev.col)

    def close(self, opening: _Token):
        """Consume the ')' matching the opening token."""
        tok = self.peek()
        if tok.kind == "end":
            raise FormulaError(f"unbalanced parenthesis: '(' at column {opening.col} is never closed", opening.col)
        if tok.text != ")":
            self.unexpected(tok)
        self.advance()

    def name(self, tok: _Token, depth: int):
        """Resolve a name: function call, variable or constant."""
        name, col, called = tok.text, tok.col, self.peek().text == "("
        if name in FUNCTIONS:
            if not called:
                example = f"{name}(x)" if FUNCTIONS[name][1] == 1 else f"{name}(x, 2)"
                raise FormulaError(f"function {name!r} at column {col} needs parentheses, e.g. {example!r}", col)
            return self.call(tok, depth)
        kind = "variable" if name in self.variables else "constant" if name in CONSTANTS else None
        if kind and called:
            raise FormulaError(f"{kind} {name!r} at column {col} is not a function; did you mean '{name}*('?", col)
        if kind == "variable":
            return _Variable(name)
        if kind == "constant":
            return _Number(np.float64(CONSTANTS[name]))
        if called:
            raise FormulaError(f"unknown function {name!r} at column {col}{_suggest(name, FUNCTIONS)}", col)
        allowed = ", ".join(self.variables) or "none"
        hint = _suggest(name, (*self.variables, *CONSTANTS))
        raise FormulaError(f"unknown variable {name!r} at column {col}; allowed: {allowed}{hint}", col)

    def call(self, tok: _Token, depth: int):
        """Parse a function's parenthesised arguments and check their number."""
        opening, args = self.advance(), []
        if self.peek().text != ")":
            args.append(self.expression(0, depth + 1))
            while self.peek().text == ",":
                self.advance()
                args.append(self.expression(0, depth + 1))
        self.close(opening)
        arity = FUNCTIONS[tok.text][1]
        if len(args) != arity:
            raise FormulaError(f"{tok.text} takes {arity} argument{'s' * (arity > 1)}, got {len(args)} "
                               f"at column {tok.col}", tok.col)
        return _Apply(FUNCTIONS[tok.text][0], tuple(args))


def _check_variables(variables) -> tuple[str, ...]:
    """Validate variable names: identifiers, unique, not a function or constant."""
    variables = (variables,) if isinstance(variables, str) else tuple(variables)
    for name in variables:
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise FormulaError(f"invalid variable name {name!r}")
        if name in FUNCTIONS or name in CONSTANTS:
            raise FormulaError(f"variable name {name!r} is already a function or constant")
    if len(set(variables)) != len(variables):
        raise FormulaError(f"duplicate variable names in {variables!r}")
    return variables


def _as_float_array(name: str, value) -> np.ndarray:
    """Convert one input to a float64 array; only real numbers are accepted."""
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise FormulaError(f"value for {name!r} is not an array of numbers: {exc}") from None
    if array.dtype.kind not in "biuf":
        raise FormulaError(f"value for {name!r} must be real numbers, got dtype {array.dtype}")
    return array.astype(np.float64)


class Formula:
    """A parsed formula; call it with one array per variable (positionally or by name)."""
    __slots__ = ("text", "variables", "_tree")

    def __init__(self, text: str, variables=("x",)):
        if not isinstance(text, str):
            raise FormulaError(f"formula must be a string, not {type(text).__name__}")
        if len(text) > MAX_LENGTH:
            raise FormulaError(f"formula is too long: {len(text)} characters (at most {MAX_LENGTH} allowed)")
        if not text.strip():
            raise FormulaError("empty formula")
        self.text, self.variables = text, _check_variables(variables)
        self._tree = _Parser(text, self.variables).parse()

    def __repr__(self) -> str:
        return f"Formula({self.text!r}, variables={self.variables!r})"

    def _inputs(self, args, kwargs):
        """Bind arguments to variables as float64 arrays and return them with the broadcast shape."""
        if len(args) > len(self.variables):
            raise FormulaError(f"too many inputs: got {len(args)}, variables are {', '.join(self.variables)}")
        values = dict(zip(self.variables, args))
        for name, value in kwargs.items():
            if name not in self.variables or name in values:
                raise FormulaError(f"unexpected or repeated input {name!r}; variables: {', '.join(self.variables)}")
            values[name] = value
        if missing := [name for name in self.variables if name not in values]:
            raise FormulaError(f"missing value for variable {missing[0]!r}")
        arrays = {name: _as_float_array(name, values[name]) for name in self.variables}
        try:
            shape = np.broadcast_shapes(*(a.shape for a in arrays.values()))
        except ValueError:
            shapes = ", ".join(f"{n}: {a.shape}" for n, a in arrays.items())
            raise FormulaError(f"input shapes do not broadcast together ({shapes})") from None
        return arrays, shape

    def _evaluate(self, args, kwargs):
        """Return the bound inputs, their broadcast shape and the result array."""
        arrays, shape = self._inputs(args, kwargs)
        try:
            with np.errstate(all="ignore"):
                result = self._tree.evaluate(arrays)
            return arrays, shape, np.array(np.broadcast_to(result, shape), dtype=np.float64)
        except (ArithmeticError, ValueError, TypeError) as exc:  # defensive: ufuncs on floats should not raise
            raise FormulaError(f"could not evaluate {self.text.strip()}: {exc}") from None

    def __call__(self, *args, **kwargs) -> np.ndarray:
        """Evaluate elementwise; returns a new float64 array of the broadcast input shape."""
        return self._evaluate(args, kwargs)[2]

    def check_finite(self, *args, **kwargs) -> np.ndarray:
        """Evaluate like calling, but raise FormulaError if any value is NaN or infinite."""
        arrays, shape, result = self._evaluate(args, kwargs)
        bad = ~np.isfinite(result)
        if not bad.any():
            return result
        where = tuple(np.argwhere(bad)[0])
        point = ", ".join(f"{n}={np.broadcast_to(a, shape)[where]:g}" for n, a in arrays.items())
        example = f" (for instance at {point})" if point else ""
        raise FormulaError(f"{self.text.strip()} is not finite on the domain: {int(bad.sum())} of {result.size} "
                           f"values are NaN or infinite{example}")


def parse_formula(text: str, variables=("x",)) -> Formula:
    """Parse text into a Formula over the given variable names; raises FormulaError."""
    return Formula(text, variables)
