"""MLSD's per-entry permissions (UserRules.entry_rights, granted): always the answer of decide."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.policy.test_permissions import ALICE, FULL

from pasv.policy.models import Action, Perm, Rule, Subject
from pasv.policy.permissions import RuleBook

_SEGMENTS = ("big", "a", "b", "x.txt", "*", "*.txt", "d?", "[ab]")
_NAMES = ("a", "b", "x.txt", "y.txt", "d1", "dd", "big")
_FLAGS = tuple(Perm.ALL)

rule_strategy = st.builds(
    lambda action, segments, flags, who: Rule(
        action,
        (Subject.parse(who),),
        "/" + "/".join(segments),
        Perm(sum(f._value_ for f in flags)) or Perm.LIST,
    ),
    st.sampled_from(tuple(Action)),
    st.lists(st.sampled_from(_SEGMENTS), max_size=3),
    st.sets(st.sampled_from(_FLAGS), min_size=1),
    st.sampled_from(("*", "alice", "bob", "@staff")),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(rule_strategy, max_size=6),
    st.sampled_from(("/", "/big", "/a", "/big/a")),
    st.booleans(),
)
def test_entry_rights_agree_with_decide(rules: list[Rule], directory: str, full: bool) -> None:
    user_rules = RuleBook(rules).for_user(FULL if full else ALICE)
    rights = user_rules.entry_rights(directory)
    for name in _NAMES:
        path = directory.rstrip("/") + "/" + name
        expected = Perm.NONE
        for flag in _FLAGS:
            if user_rules.allows(flag, path):
                expected |= flag
        assert user_rules.granted(path) == expected
        assert rights(name, False) == (expected, bool(expected))
        assert rights(name, True) == (expected, user_rules.may_enter(path))
