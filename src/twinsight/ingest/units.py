"""Unit conversion into the unit a DTDL model declares.

Units are named as DTDL names them (``degreeCelsius``, ``revolutionPerMinute``), as SenML
does (``Cel``, ``%RH``) or in pint's own syntax (``degF``, ``psi``). Conversions are linear
or affine, so each pair is solved once with pint and then applied as ``a * x + b``: a pint
conversion costs ~0.5 ms, far too much per value at ingest rates.

>>> convert = converter("degreeFahrenheit", "degreeCelsius")
>>> round(convert(212.0), 6)
100.0
>>> converter("revolutionPerMinute", "revolutionPerSecond")(60.0)
1.0
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from functools import cache

import numpy as np
import pint
from numpy.typing import NDArray

from twinsight.core.errors import BadRequest

_registry: pint.UnitRegistry[float] = pint.UnitRegistry()

DTDL_OVERRIDES = {
    "gForce": "standard_gravity",
    "poundPerSquareInch": "psi",
    "newtonMetre": "newton * meter",
    "degreeOfArc": "degree",
    "unity": "dimensionless",
    "percent": "percent",
    "standardGravity": "standard_gravity",
}
SENML_UNITS = {
    "Cel": "degree_Celsius",
    "K": "kelvin",
    "%RH": "percent",
    "%": "percent",
    "/": "dimensionless",
    "1/min": "1 / minute",
    "m/s2": "meter / second ** 2",
    "lx": "lux",
    "Pa": "pascal",
}


class UnitError(BadRequest):
    code = "InvalidUnit"


def _dtdl_word(word: str) -> str:
    power = ""
    for suffix, exp in (("Squared", "**2"), ("Cubed", "**3")):
        if word.endswith(suffix):
            word, power = word[: -len(suffix)], exp
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", word).lower()
    snake = snake.replace("degree_celsius", "degree_Celsius")
    snake = snake.replace("degree_fahrenheit", "degree_Fahrenheit")
    snake = snake.replace("metre", "meter").replace("litre", "liter")
    for prefix, exp in (("square_", "**2"), ("cubic_", "**3")):
        if snake.startswith(prefix):
            snake, power = snake[len(prefix) :], exp
    return f"({snake}{power})"


def pint_expression(unit: str) -> str:
    """The pint expression for a DTDL, SenML or pint unit name."""
    if unit in DTDL_OVERRIDES:
        return DTDL_OVERRIDES[unit]
    if unit in SENML_UNITS:
        return SENML_UNITS[unit]
    if re.fullmatch(r"[a-z][A-Za-z]*", unit) and any(c.isupper() for c in unit):
        return " / ".join(_dtdl_word(p) for p in re.split(r"Per(?=[A-Z])", unit))
    return unit


_PARSE_ERRORS = (pint.errors.PintError, AttributeError, TypeError, ValueError, AssertionError)


@cache
def _units(unit: str) -> pint.Unit:
    """The pint unit for a name: read as a DTDL/SenML name first, then as pint syntax (so
    both ``degreeFahrenheit`` and ``degF`` work)."""
    for expression in dict.fromkeys((pint_expression(unit), unit)):
        try:
            return _registry.Unit(expression)
        except _PARSE_ERRORS:
            continue
    raise UnitError(f"unknown unit {unit!r}")


def check_unit(unit: str) -> None:
    """Raise :class:`UnitError` if ``unit`` is not a unit pint understands."""
    _units(unit)


@cache
def converter(source: str, target: str) -> Callable[[float], float]:
    """A function converting a value from ``source`` units into ``target`` units.

    Raises :class:`UnitError` naming both units when they measure different things.
    """
    found = _coefficients(source, target)
    if found is None:
        return _identity
    a, b = found

    def convert(value: float) -> float:
        return a * value + b

    return convert


def convert_array(source: str, target: str, values: NDArray[np.float64]) -> NDArray[np.float64]:
    """:func:`converter` for a column of floats at once, with the very same arithmetic
    (``a * x + b`` in doubles), so a column and its values one by one agree to the bit."""
    found = _coefficients(source, target)
    if found is None:
        return values
    converted: NDArray[np.float64] = found[0] * values + found[1]
    return converted


@cache
def _coefficients(source: str, target: str) -> tuple[float, float] | None:
    """``(a, b)`` of the conversion ``a * x + b``, or ``None`` when both name one unit."""
    src, dst = _units(source), _units(target)
    if src == dst:
        return None
    try:
        b = float(_registry.Quantity(0.0, src).to(dst).magnitude)
        # the slope from a distant point keeps rounding error out of a (212 °F -> 100 °C)
        a = (float(_registry.Quantity(1e6, src).to(dst).magnitude) - b) / 1e6
        check = float(_registry.Quantity(10.0, src).to(dst).magnitude)
    except pint.errors.PintError as exc:
        raise UnitError(
            f"cannot convert {source!r} into {target!r}: they measure different quantities"
        ) from exc
    if not math.isclose(check, 10.0 * a + b, rel_tol=1e-9, abs_tol=1e-12):
        raise UnitError(f"cannot convert {source!r} into {target!r}: not a linear relation")
    return a, b


def _identity(value: float) -> float:
    return value
