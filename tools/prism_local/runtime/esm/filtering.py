"""Lambda's event filtering: which records a mapping sends to its function.

Emulates https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html ("Filter rule syntax"):
``FilterCriteria`` is ``{"Filters": [{"Pattern": "<json>"}]}``; a record is sent when it matches any pattern
(OR across filters); inside a pattern every key must match (AND); the rules listed for one leaf are ORed.

Supported rules: exact values (string, number, boolean, ``null``; ``""`` matches the empty string), ``prefix``,
``suffix`` and ``equals-ignore-case`` (prefix/suffix also in their ``{"equals-ignore-case": ...}`` form),
``anything-but`` (a value, a list of values, or ``{"prefix"|"suffix"|"equals-ignore-case": ...}``), ``numeric``
(``=``, or one or two of ``>``/``>=`` then ``<``/``<=``), ``exists``, nested keys and ``$or``. Anything else
(``cidr``, ``wildcard``, an unknown operator, a leaf that is not a list) raises :class:`FilterCriteriaError`
when the mapping is built: an unreadable pattern never silently matches everything.

Choices where the docs are silent, following EventBridge's pattern semantics (which Lambda's mirror):
- a key that is absent from the record matches only ``{"exists": false}``; ``anything-but`` needs the key;
- when the record's value is a list, a leaf matches when any element does, and a nested pattern matches when
  any element (an object) does;
- ``numeric`` matches JSON numbers only, never numeric strings (so never DynamoDB's ``{"N": "5"}``);
- ``anything-but`` with ``prefix``/``suffix``/``equals-ignore-case`` matches string values only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

#: Marks a key the record does not have (distinct from a JSON ``null``).
_MISSING: Any = object()

_NUMERIC_LOWER = (">", ">=")
_NUMERIC_UPPER = ("<", "<=")


class FilterCriteriaError(ValueError):
    """A ``FilterCriteria`` (or one of its patterns) that Lambda would reject or that Prism cannot emulate."""


@dataclass(frozen=True)
class _Exact:
    value: str | float | bool | None

    def matches(self, value: Any) -> bool:
        return _same_json_value(self.value, value)


@dataclass(frozen=True)
class _Affix:
    kind: Literal["prefix", "suffix"]
    text: str
    ignore_case: bool

    def matches(self, value: Any) -> bool:
        if not isinstance(value, str):
            return False
        subject, text = (value.casefold(), self.text.casefold()) if self.ignore_case else (value, self.text)
        return subject.startswith(text) if self.kind == "prefix" else subject.endswith(text)


@dataclass(frozen=True)
class _EqualsIgnoreCase:
    text: str

    def matches(self, value: Any) -> bool:
        return isinstance(value, str) and value.casefold() == self.text.casefold()


@dataclass(frozen=True)
class _AnythingBut:
    """Matches a present value that none of ``excluded`` matches."""

    excluded: tuple[_Exact | _Affix | _EqualsIgnoreCase, ...]
    strings_only: bool

    def matches(self, value: Any) -> bool:
        if self.strings_only and not isinstance(value, str):
            return False
        return not any(rule.matches(value) for rule in self.excluded)


@dataclass(frozen=True)
class _Numeric:
    conditions: tuple[tuple[str, float], ...]

    def matches(self, value: Any) -> bool:
        if not _is_number(value):
            return False
        number = float(value)
        return all(_compare(number, operator, bound) for operator, bound in self.conditions)


@dataclass(frozen=True)
class _Exists:
    expected: bool


_ValueRule = _Exact | _Affix | _EqualsIgnoreCase | _AnythingBut | _Numeric


@dataclass(frozen=True)
class _Leaf:
    rules: tuple[_ValueRule | _Exists, ...]

    def matches(self, value: Any) -> bool:
        if value is _MISSING:
            return any(isinstance(rule, _Exists) and not rule.expected for rule in self.rules)
        candidates = value if isinstance(value, list) else [value]
        for rule in self.rules:
            if isinstance(rule, _Exists):
                if rule.expected:
                    return True
                continue
            if any(rule.matches(candidate) for candidate in candidates):
                return True
        return False


@dataclass(frozen=True)
class Pattern:
    """One compiled filter pattern: every field must match, and one of each ``$or`` group's alternatives."""

    fields: tuple[tuple[str, Pattern | _Leaf], ...]
    any_of: tuple[tuple[Pattern, ...], ...] = ()

    def matches(self, record: Any) -> bool:
        if isinstance(record, list):
            return any(self.matches(element) for element in record) if record else self.matches({})
        if not isinstance(record, Mapping):
            # A scalar (or absent) parent has no child keys: only {"exists": false} leaves can match under it.
            record = {}
        for key, node in self.fields:
            value = record.get(key, _MISSING)
            if isinstance(node, _Leaf):
                if not node.matches(value):
                    return False
            elif not node.matches({} if value is _MISSING else value):
                return False
        return all(any(alternative.matches(record) for alternative in group) for group in self.any_of)


@dataclass(frozen=True)
class EventFilter:
    """A mapping's compiled ``FilterCriteria``. With no patterns every record matches (no filtering)."""

    patterns: tuple[Pattern, ...] = ()

    @property
    def filters_anything(self) -> bool:
        return bool(self.patterns)

    def matches(self, record: Mapping[str, Any]) -> bool:
        """True when Lambda would send ``record`` (in the shape the function receives) to the function."""
        return not self.patterns or any(pattern.matches(record) for pattern in self.patterns)


def compile_filter_criteria(criteria: object) -> EventFilter:
    """Compile a template's ``FilterCriteria`` (``None`` means no filtering) or raise FilterCriteriaError."""
    if criteria is None:
        return EventFilter()
    if not isinstance(criteria, Mapping):
        raise FilterCriteriaError(f"FilterCriteria must be a mapping with a Filters list, not {criteria!r}")
    unknown = set(criteria) - {"Filters"}
    if unknown:
        raise FilterCriteriaError(f"FilterCriteria has unknown keys {sorted(unknown)}; only Filters is allowed")
    filters = criteria.get("Filters", [])
    if not isinstance(filters, list):
        raise FilterCriteriaError(f"FilterCriteria.Filters must be a list, not {filters!r}")
    patterns = []
    for index, entry in enumerate(filters):
        if not isinstance(entry, Mapping) or set(entry) != {"Pattern"} or not isinstance(entry["Pattern"], str):
            # CloudFormation takes the pattern as a JSON string; a YAML mapping here would not deploy.
            raise FilterCriteriaError(f"FilterCriteria.Filters[{index}] must be {{'Pattern': '<json>'}}: {entry!r}")
        try:
            patterns.append(compile_pattern(entry["Pattern"]))
        except FilterCriteriaError as exc:
            raise FilterCriteriaError(f"FilterCriteria.Filters[{index}].Pattern: {exc}") from exc
    return EventFilter(tuple(patterns))


def compile_pattern(pattern: str | Mapping[str, Any]) -> Pattern:
    """Compile one pattern, given as Lambda stores it (a JSON string) or already decoded."""
    if isinstance(pattern, str):
        try:
            decoded = json.loads(pattern)
        except json.JSONDecodeError as exc:
            raise FilterCriteriaError(f"not valid JSON ({exc.msg} at {exc.pos}): {pattern!r}") from exc
    else:
        decoded = pattern
    if not isinstance(decoded, Mapping) or not decoded:
        raise FilterCriteriaError(f"a pattern must be a non-empty JSON object, not {decoded!r}")
    return _compile_object(decoded, path="")


def _compile_object(node: Mapping[str, Any], path: str) -> Pattern:
    fields: list[tuple[str, Pattern | _Leaf]] = []
    any_of: list[tuple[Pattern, ...]] = []
    for key, value in node.items():
        where = f"{path}.{key}" if path else key
        if key == "$or":
            any_of.append(_compile_or(value, where))
        elif isinstance(value, Mapping):
            if not value:
                raise FilterCriteriaError(f"{where}: an empty object matches nothing; remove it")
            fields.append((key, _compile_object(value, where)))
        elif isinstance(value, list):
            fields.append((key, _compile_leaf(value, where)))
        else:
            raise FilterCriteriaError(f"{where}: a leaf must be a list of rules, e.g. [{json.dumps(value)}]")
    return Pattern(tuple(fields), tuple(any_of))


def _compile_or(value: Any, where: str) -> tuple[Pattern, ...]:
    if not isinstance(value, list) or not value:
        raise FilterCriteriaError(f"{where}: $or takes a non-empty list of patterns")
    alternatives = []
    for index, alternative in enumerate(value):
        if not isinstance(alternative, Mapping) or not alternative:
            raise FilterCriteriaError(f"{where}[{index}]: each $or alternative must be a non-empty object")
        alternatives.append(_compile_object(alternative, f"{where}[{index}]"))
    return tuple(alternatives)


def _compile_leaf(rules: Sequence[Any], where: str) -> _Leaf:
    if not rules:
        raise FilterCriteriaError(f"{where}: an empty rule list matches nothing (use [null] to match null)")
    return _Leaf(tuple(_compile_rule(rule, where) for rule in rules))


def _compile_rule(rule: Any, where: str) -> _ValueRule | _Exists:
    if rule is None or isinstance(rule, str | bool):
        return _Exact(rule)
    if _is_number(rule):
        return _Exact(_finite(rule, where))
    if not isinstance(rule, Mapping):
        raise FilterCriteriaError(f"{where}: unsupported rule {rule!r}")
    if len(rule) != 1:
        raise FilterCriteriaError(f"{where}: a rule object holds exactly one operator, not {sorted(rule)}")
    ((operator, operand),) = rule.items()
    compile_operator = _OPERATORS.get(operator)
    if compile_operator is None:
        raise FilterCriteriaError(f"{where}: operator {operator!r} is not supported by Lambda event filtering")
    return compile_operator(operand, f"{where}.{operator}")


def _compile_exists(operand: Any, where: str) -> _Exists:
    if not isinstance(operand, bool):
        raise FilterCriteriaError(f"{where}: takes true or false, not {operand!r}")
    return _Exists(operand)


def _compile_prefix(operand: Any, where: str) -> _Affix:
    return _compile_affix("prefix", operand, where)


def _compile_suffix(operand: Any, where: str) -> _Affix:
    return _compile_affix("suffix", operand, where)


def _compile_equals_ignore_case(operand: Any, where: str) -> _EqualsIgnoreCase:
    return _EqualsIgnoreCase(_text(operand, where))


def _compile_affix(operator: Literal["prefix", "suffix"], operand: Any, where: str) -> _Affix:
    if isinstance(operand, Mapping) and set(operand) == {"equals-ignore-case"}:
        return _Affix(operator, _text(operand["equals-ignore-case"], where), ignore_case=True)
    return _Affix(operator, _text(operand, where), ignore_case=False)


def _compile_anything_but(operand: Any, where: str) -> _AnythingBut:
    if isinstance(operand, Mapping):
        if len(operand) != 1:
            raise FilterCriteriaError(f"{where}: takes one of prefix, suffix or equals-ignore-case")
        ((operator, value),) = operand.items()
        if operator in ("prefix", "suffix"):
            return _AnythingBut((_Affix(operator, _text(value, where), ignore_case=False),), strings_only=True)
        if operator == "equals-ignore-case":
            texts = value if isinstance(value, list) else [value]
            if not texts:
                raise FilterCriteriaError(f"{where}: equals-ignore-case needs at least one string")
            return _AnythingBut(tuple(_EqualsIgnoreCase(_text(t, where)) for t in texts), strings_only=True)
        raise FilterCriteriaError(f"{where}: operator {operator!r} is not supported inside anything-but")
    values = operand if isinstance(operand, list) else [operand]
    if not values:
        raise FilterCriteriaError(f"{where}: needs at least one value")
    excluded = []
    for value in values:
        if isinstance(value, str):
            excluded.append(_Exact(value))
        elif _is_number(value):
            excluded.append(_Exact(_finite(value, where)))
        else:
            raise FilterCriteriaError(f"{where}: values must be strings or numbers, not {value!r}")
    return _AnythingBut(tuple(excluded), strings_only=False)


def _compile_numeric(operand: Any, where: str) -> _Numeric:
    if not isinstance(operand, list) or len(operand) not in (2, 4):
        raise FilterCriteriaError(f"{where}: takes [op, number] or [op, number, op, number], not {operand!r}")
    conditions = []
    for index in range(0, len(operand), 2):
        operator, bound = operand[index], operand[index + 1]
        if operator not in ("=", *_NUMERIC_LOWER, *_NUMERIC_UPPER):
            raise FilterCriteriaError(f"{where}: unknown comparison {operator!r}")
        if not _is_number(bound):
            raise FilterCriteriaError(f"{where}: {operator} needs a number, not {bound!r}")
        conditions.append((str(operator), _finite(bound, where)))
    if len(conditions) == 2:
        (low_op, low), (high_op, high) = conditions
        if low_op not in _NUMERIC_LOWER or high_op not in _NUMERIC_UPPER:
            raise FilterCriteriaError(f"{where}: a range is a lower bound (> or >=) then an upper (< or <=)")
        if low > high:
            raise FilterCriteriaError(f"{where}: the lower bound {low} is above the upper bound {high}")
    return _Numeric(tuple(conditions))


_OPERATORS: dict[str, Callable[[Any, str], _ValueRule | _Exists]] = {
    "prefix": _compile_prefix,
    "suffix": _compile_suffix,
    "equals-ignore-case": _compile_equals_ignore_case,
    "anything-but": _compile_anything_but,
    "numeric": _compile_numeric,
    "exists": _compile_exists,
}


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise FilterCriteriaError(f"{where}: expected a string, not {value!r}")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _finite(value: float, where: str) -> float:
    if not math.isfinite(value):
        raise FilterCriteriaError(f"{where}: {value!r} is not a finite number")
    return float(value)


def _same_json_value(expected: str | float | bool | None, value: Any) -> bool:
    """JSON equality: numbers compare by value (5 == 5.0), but never with booleans or strings."""
    if expected is None or isinstance(expected, bool | str):
        return type(value) is type(expected) and value == expected
    return _is_number(value) and float(value) == expected


def _compare(number: float, operator: str, bound: float) -> bool:
    if operator == "=":
        return number == bound
    if operator == ">":
        return number > bound
    if operator == ">=":
        return number >= bound
    if operator == "<":
        return number < bound
    return number <= bound
