"""CWD under the rules (UserRules.may_enter): where a user may go, before anything is looked at."""

from __future__ import annotations

import pytest
from tests.policy.test_permissions import ALICE, GUEST, rules

from pasv.policy.permissions import RuleBook

MAY_ENTER = {
    "no rule at all": ("", "/pub", False),
    "any one permission": ("allow STOR /incoming *", "/incoming", True),
    "below an allowed directory": ("allow LIST /pub *", "/pub/a/b", True),
    "denied everything": ("allow ALL / *; deny ALL /secret *", "/secret/sub", False),
    "on the way to an allowed directory": ("deny ALL /a *; allow LIST /a/b *", "/a", True),
    "beside the allowed directory": ("deny ALL /a *; allow LIST /a/b *", "/a/c", False),
    "a deny rule below opens nothing": ("deny RETR /a/b *", "/a", False),
    "an allow rule below for another user": ("allow LIST /a/b bob", "/a", False),
    "a glob below": ("deny ALL /home *; allow ALL /home/*/public *", "/home/bob", True),
}


@pytest.mark.parametrize(("spec", "path", "expected"), MAY_ENTER.values(), ids=MAY_ENTER.keys())
def test_may_enter(spec: str, path: str, expected: bool) -> None:
    assert RuleBook(rules(spec)).for_user(ALICE).may_enter(path) is expected


def test_own_permissions_let_a_user_in() -> None:
    book = RuleBook(rules("deny LIST,RETR /incoming ?; allow STOR /incoming ?"))
    assert book.for_user(GUEST).may_enter("/incoming")  # the write-only drop box
    assert book.for_user(GUEST).may_enter("/pub")  # read by its own permissions
