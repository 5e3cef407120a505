"""Authorization rules: the most specific covering rule decides, deny beats allow, none denies."""

from __future__ import annotations

import fnmatch
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from pasv.policy.models import Action, Perm, Rule, Subject, SubjectKind, User

__all__ = ["Decision", "RuleBook", "UserRules", "split_path"]

_GLOB_CHARS = frozenset("*?[")
_K = TypeVar("_K")
_V = TypeVar("_V")


class _Lru(Generic[_K, _V]):
    """A small bounded least-recently-used mapping."""

    __slots__ = ("_data", "_size")

    def __init__(self, size: int) -> None:
        self._data: OrderedDict[_K, _V] = OrderedDict()
        self._size = size

    def get(self, key: _K) -> _V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: _K, value: _V) -> None:
        self._data[key] = value
        if len(self._data) > self._size:
            self._data.popitem(last=False)


def split_path(path: str) -> tuple[str, ...]:
    """Segments of a virtual path: ``"/pub/a/"`` -> ``("pub", "a")``; ``.`` dropped, ``..`` pops."""
    stack: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if stack:
                stack.pop()
        else:
            stack.append(part)
    return tuple(stack)


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to "may this user do ``perm`` at ``path``?" and the rule that gave it."""

    allowed: bool
    rule: Rule | None
    perm: Perm = Perm.NONE
    path: str = ""
    own: bool = False  # decided by the user's own (baseline) permissions

    def explain(self) -> str:
        verdict = "allowed" if self.allowed else "denied"
        if self.rule is None:
            if self.allowed:
                return "allowed: nothing was asked"
            return (
                f"denied: no rule gives {self.perm.describe()} at {self.path or '/'}"
                " (no rule means deny)"
            )
        if self.own:
            return f"{verdict} by the user's own permissions ({self.rule.perms.describe()} on /)"
        if self.rule.id:
            return f"{verdict} by {self.rule.describe()}"
        return f'{verdict} by the rule "{self.rule.describe()}"'


_Matcher = Callable[[str], object]


def _segment_matcher(segment: str) -> _Matcher:
    if _GLOB_CHARS.isdisjoint(segment):
        return segment.__eq__
    return re.compile(fnmatch.translate(segment)).match


class _Compiled:
    """A rule with its path pre-split and its globs pre-compiled."""

    __slots__ = ("deny", "matchers", "own", "rule", "specificity")

    def __init__(self, rule: Rule, own: bool = False) -> None:
        segments = split_path(rule.path)
        literal = sum(1 for s in segments if _GLOB_CHARS.isdisjoint(s))
        self.rule = rule
        self.own = own
        self.deny = rule.action is Action.DENY
        self.matchers = tuple(_segment_matcher(s) for s in segments)
        self.specificity = (len(segments), literal)

    def covers(self, parts: tuple[str, ...]) -> bool:
        """True when the path ``parts`` is this rule's path or lies below it."""
        if len(parts) < len(self.matchers):
            return False
        return all(match(part) for match, part in zip(self.matchers, parts, strict=False))

    def reaches_below(self, parts: tuple[str, ...]) -> bool:
        """True when this rule's path could name something strictly below ``parts``."""
        if len(self.matchers) <= len(parts):
            return False
        return all(match(part) for match, part in zip(self.matchers, parts, strict=False))


def _applies(subjects: Iterable[Subject], user: User) -> bool:
    for subject in subjects:
        kind = subject.kind
        if (
            kind is SubjectKind.ALL
            or (kind is SubjectKind.ANONYMOUS and user.anonymous)
            or (kind is SubjectKind.GROUP and subject.name in user.groups)
            or (kind is SubjectKind.USER and subject.name == user.name)
        ):
            return True
    return False


def _or(values: Iterable[int]) -> int:
    found = 0
    for value in values:
        found |= value
    return found


_SINGLE_FLAGS = tuple(Perm.ALL)  # iterating a flag yields its single flags
_ALL_BITS = Perm.ALL._value_


class UserRules:
    """The rules that apply to one user (with its own permissions), indexed per single flag."""

    __slots__ = ("_by_flag", "_levels", "_memo", "_rules", "possible", "user")

    def __init__(self, user: User, rules: Sequence[_Compiled], memo_size: int = 4096) -> None:
        self.user = user
        own = _Compiled(
            Rule(Action.ALLOW, (Subject(SubjectKind.USER, user.name),), "/", user.perms, id=0),
            own=True,
        )
        mine = [r for r in rules if _applies(r.rule.subjects, user)]
        mine.append(own)
        # every permission some path could give the user (what a rename could gain, at most)
        self.possible = Perm(_or(r.rule.perms._value_ for r in mine if not r.deny))
        self._rules = tuple(mine)
        # per flag: the rules that include it, most specific first (stable: explicit before own)
        self._by_flag = {
            flag: tuple(
                sorted(
                    (r for r in mine if flag in r.rule.perms),
                    key=lambda r: r.specificity,
                    reverse=True,
                )
            )
            for flag in _SINGLE_FLAGS
        }
        # all of them by specificity, most specific first, with their flags as numbers
        levels: dict[tuple[int, int], list[tuple[_Compiled, int]]] = {}
        for r in mine:
            levels.setdefault(r.specificity, []).append((r, r.rule.perms._value_))
        self._levels = tuple(tuple(levels[k]) for k in sorted(levels, reverse=True))
        # keyed by the flag's number: hashing the member runs Enum.__hash__, Python code
        self._memo: _Lru[tuple[int, str], Decision] = _Lru(memo_size)

    def decide(self, perm: Perm, path: str) -> Decision:
        """May the user do every flag of ``perm`` at ``path``? The first denial is reported."""
        key = (perm._value_, path)
        decision = self._memo.get(key)
        if decision is None:
            decision = self._decide(perm, path)
            self._memo.put(key, decision)
        return decision

    def allows(self, perm: Perm, path: str) -> bool:
        return self.decide(perm, path).allowed

    def may_differ_below(self, directory: str) -> bool:
        """True when a rule of this user could decide otherwise for entries below ``directory``."""
        parts = split_path(directory)
        return any(r.reaches_below(parts) for r in self._rules)

    def may_enter(self, directory: str) -> bool:
        """CWD: the user may do something at ``directory``, or an allow rule of theirs names
        a path below it (a directory denied to them on the way to one they may use)."""
        if any(self.allows(flag, directory) for flag in _SINGLE_FLAGS):
            return True
        parts = split_path(directory)
        return any(not r.deny and r.reaches_below(parts) for r in self._rules)

    def granted(self, path: str) -> Perm:
        """Every single permission the user has at ``path``."""
        return self._granted(split_path(path))

    def entry_rights(self, directory: str) -> Callable[[str, bool], tuple[Perm, bool]]:
        """For each entry of ``directory`` by name (and whether it is a directory): its
        permissions and whether the user may enter it (``may_enter``). A rule one segment
        below ``directory`` is more specific for an entry it names than any rule covering
        the directory, and deeper rules cover no entry: the directory's answer is found once,
        and per entry only those rules' last segments are matched."""
        parts = split_path(directory)
        depth = len(parts)
        levels: dict[tuple[int, int], list[tuple[_Matcher, bool, int]]] = {}
        deep: list[_Matcher] = []
        for r in self._rules:
            if not r.reaches_below(parts):
                continue
            if len(r.matchers) == depth + 1:
                levels.setdefault(r.specificity, []).append(
                    (r.matchers[depth], r.deny, r.rule.perms._value_)
                )
            elif not r.deny:
                deep.append(r.matchers[depth])
        near = tuple(tuple(levels[k]) for k in sorted(levels, reverse=True))
        here = self._granted(parts)
        here_bits = here._value_

        def rights(name: str, is_dir: bool) -> tuple[Perm, bool]:
            perms = here
            if near:
                decided = allowed = 0
                for level in near:
                    allow = deny = 0
                    for match, denies, bits in level:
                        if match(name):
                            if denies:
                                deny |= bits
                            else:
                                allow |= bits
                    fresh = (allow | deny) & ~decided
                    allowed |= allow & ~deny & fresh
                    decided |= fresh
                if decided:
                    perms = Perm(allowed | (here_bits & ~decided))
            enter = bool(perms) or (is_dir and any(match(name) for match in deep))
            return perms, enter

        return rights

    def gained(self, source: str, target: str) -> Perm:
        """The single permissions allowed at ``target`` but not at ``source``: what moving
        something from ``source`` to ``target`` would give the user over it."""
        gain = Perm.NONE
        for flag in _SINGLE_FLAGS:
            if self.allows(flag, target) and not self.allows(flag, source):
                gain |= flag
        return gain

    def _granted(self, parts: tuple[str, ...]) -> Perm:
        """``decide`` for every flag at once (as numbers: Flag operators are Python code): the
        most specific covering rules decide each flag, deny beating allow among them."""
        decided = allowed = 0
        for level in self._levels:
            allow = deny = 0
            for r, bits in level:
                if r.covers(parts):
                    if r.deny:
                        deny |= bits
                    else:
                        allow |= bits
            fresh = (allow | deny) & ~decided
            allowed |= allow & ~deny & fresh
            decided |= fresh
            if decided == _ALL_BITS:
                break
        return Perm(allowed)

    def _decide(self, perm: Perm, path: str) -> Decision:
        parts = split_path(path)
        first: Decision | None = None
        for flag in perm:
            decision = self._decide_flag(flag, parts, path)
            if not decision.allowed:
                return decision
            first = first or decision
        return first or Decision(True, None, perm, path)

    def _decide_flag(self, flag: Perm, parts: tuple[str, ...], path: str) -> Decision:
        best: _Compiled | None = None
        for candidate in self._by_flag[flag]:
            if best is not None and candidate.specificity < best.specificity:
                break
            if not candidate.covers(parts):
                continue
            if candidate.deny:
                return Decision(False, candidate.rule, flag, path, candidate.own)
            best = best or candidate
        if best is None:
            return Decision(False, None, flag, path)
        return Decision(True, best.rule, flag, path, best.own)


class RuleBook:
    """All authorization rules, compiled once; hands out cached per-user views."""

    __slots__ = ("_cache", "_compiled", "rules")

    def __init__(self, rules: Sequence[Rule], cache_size: int = 1024) -> None:
        self.rules = tuple(rules)
        self._compiled = tuple(_Compiled(rule) for rule in self.rules)
        self._cache: _Lru[tuple[str, bool, tuple[str, ...], Perm], UserRules] = _Lru(cache_size)

    def for_user(self, user: User) -> UserRules:
        key = (user.name, user.anonymous, user.groups, user.perms)
        found = self._cache.get(key)
        if found is None:
            found = UserRules(user, self._compiled)
            self._cache.put(key, found)
        return found

    def decide(self, user: User, perm: Perm, path: str) -> Decision:
        return self.for_user(user).decide(perm, path)
