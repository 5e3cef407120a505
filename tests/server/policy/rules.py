"""Helpers of the policy tests: a rule from its words, and the text of a refused command."""

from __future__ import annotations

import ftplib

import pytest

from pasv.policy.models import Action, Perm, Rule, Subject


def rule(action: str, path: str, perms: str, to: str = "*") -> Rule:
    return Rule(
        Action(action), tuple(Subject.parse(s) for s in to.split(",")), path, Perm.parse(perms)
    )


def refused(call: object, *args: object) -> str:
    """The reply of ``call(*args)``, which must fail with a permanent (5xx) error."""
    assert callable(call)
    with pytest.raises(ftplib.error_perm) as caught:
        call(*args)
    return str(caught.value)
