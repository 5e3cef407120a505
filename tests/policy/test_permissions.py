"""Authorization rule evaluation: specificity, deny precedence, subjects, globs, baseline perms."""

from __future__ import annotations

import pytest

from pasv.policy.models import Action, Perm, Rule, Subject, User
from pasv.policy.permissions import Decision, RuleBook, split_path


def rule(number: int, action: str, perms: str, path: str, subjects: str) -> Rule:
    """``rule(3, "allow", "LIST,RETR", "/pub", "*,@staff")``."""
    who = tuple(Subject.parse(s) for s in subjects.split(","))
    return Rule(Action(action), who, path, Perm.parse(perms), id=number)


def rules(spec: str) -> list[Rule]:
    """``"allow RETR /pub *; deny RETR /a b @x"``: rules numbered from 1 (paths may hold spaces)."""
    found = []
    for number, text in enumerate(filter(None, (t.strip() for t in spec.split(";"))), 1):
        action, perms, rest = text.split(" ", 2)
        path, _, subjects = rest.rpartition(" ")
        found.append(rule(number, action, perms, path, subjects))
    return found


# users with no baseline permissions, so that only the explicit rules decide
ALICE = User("alice", "/srv/alice", Perm.NONE, groups=("staff",))
BOB = User("bob", "/srv/bob", Perm.NONE, groups=("guests", "staff", "editors"))
CAROL = User("carol", "/srv/carol", Perm.NONE)
ANON = User("anonymous", "/srv/pub", Perm.NONE, anonymous=True)
FULL = User("root", "/srv", Perm.ALL)
READER = User("reader", "/srv", Perm.READ)
GUEST = User("anonymous", "/srv/pub", Perm.READ, anonymous=True)

# (rules, user, perm asked, path, allowed, deciding rule id: None = none, 0 = the user's own perms)
CASES = {
    "no rule means deny": ("", ALICE, "RETR", "/pub/a", False, None),
    "root rule covers everything": ("allow RETR / *", ALICE, "RETR", "/x/y/z", True, 1),
    "rule for another flag does not help": ("allow LIST / *", ALICE, "RETR", "/pub", False, None),
    "inherited by sub-paths": (
        "allow RETR /pub *",
        ALICE,
        "RETR",
        "/pub/deep/er/file.txt",
        True,
        1,
    ),
    "sibling with common prefix is not below": (
        "allow RETR /pub *",
        ALICE,
        "RETR",
        "/public/file",
        False,
        None,
    ),
    "parent of the rule path is not covered": (
        "allow LIST /pub/sub *",
        ALICE,
        "LIST",
        "/pub",
        False,
        None,
    ),
    "deeper deny beats shallower allow": (
        "allow RETR /pub *; deny RETR /pub/secret *",
        ALICE,
        "RETR",
        "/pub/secret/a",
        False,
        2,
    ),
    "deeper allow beats shallower deny": (
        "deny STOR / *; allow STOR /incoming *",
        ALICE,
        "STOR",
        "/incoming/up.bin",
        True,
        2,
    ),
    "shallower deny still holds outside the deeper allow": (
        "deny STOR / *; allow STOR /incoming *",
        ALICE,
        "STOR",
        "/pub/up.bin",
        False,
        1,
    ),
    "deny beats allow at equal specificity": (
        "allow RETR /pub *; deny RETR /pub @staff",
        ALICE,
        "RETR",
        "/pub/a",
        False,
        2,
    ),
    "deny beats allow at equal specificity, whatever the order": (
        "deny RETR /pub alice; allow RETR /pub *",
        ALICE,
        "RETR",
        "/pub/a",
        False,
        1,
    ),
    "group deny does not touch non-members": (
        "allow RETR /pub *; deny RETR /pub @staff",
        CAROL,
        "RETR",
        "/pub/a",
        True,
        1,
    ),
    "user rule names one user exactly": ("allow DELE / alice", CAROL, "DELE", "/a", False, None),
    "user names are case-sensitive": ("allow DELE / Alice", ALICE, "DELE", "/a", False, None),
    "user rule deeper than group deny": (
        "deny STOR / @staff; allow STOR /alice alice",
        ALICE,
        "STOR",
        "/alice/f",
        True,
        2,
    ),
    "a member of several groups gets each group's rules": (
        "allow MKD /docs @editors; allow LIST / @guests",
        BOB,
        "MKD",
        "/docs/new",
        True,
        1,
    ),
    "the second group's deny applies too": (
        "allow RETR / @guests; deny RETR / @editors",
        BOB,
        "RETR",
        "/a",
        False,
        2,
    ),
    "one rule for several subjects": ("allow RETR / carol,@editors", CAROL, "RETR", "/a", True, 1),
    "anonymous rule applies to anonymous": (
        "allow STOR /incoming ?",
        ANON,
        "STOR",
        "/incoming/up",
        True,
        1,
    ),
    "anonymous rule does not apply to named users": (
        "allow STOR /incoming ?",
        ALICE,
        "STOR",
        "/incoming/up",
        False,
        None,
    ),
    "all-users rule applies to anonymous": ("allow LIST / *", ANON, "LIST", "/", True, 1),
    "star glob in the middle": (
        "allow RETR / *; deny RETR /home/*/private *",
        ALICE,
        "RETR",
        "/home/bob/private/x",
        False,
        2,
    ),
    "star glob does not cross a slash": (
        "allow RETR / *; deny RETR /home/*/private *",
        ALICE,
        "RETR",
        "/home/bob/x/private",
        True,
        1,
    ),
    "question mark glob matches one character": (
        "allow RETR /logs/202? *",
        ALICE,
        "RETR",
        "/logs/2024/jan.log",
        True,
        1,
    ),
    "question mark glob needs exactly one character": (
        "allow RETR /logs/202? *",
        ALICE,
        "RETR",
        "/logs/20245/jan.log",
        False,
        None,
    ),
    "bracket glob": ("allow LIST /[ab]* *", ALICE, "LIST", "/beta", True, 1),
    "globs are case-sensitive": ("allow LIST /[ab]* *", ALICE, "LIST", "/Beta", False, None),
    "literal beats glob at the same depth": (
        "deny RETR /pub/* *; allow RETR /pub/free *",
        ALICE,
        "RETR",
        "/pub/free/a",
        True,
        2,
    ),
    "glob at the same depth still decides elsewhere": (
        "deny RETR /pub/* *; allow RETR /pub/free *",
        ALICE,
        "RETR",
        "/pub/other/a",
        False,
        1,
    ),
    "deeper glob beats shallower literal": (
        "allow RETR /pub *; deny RETR /pub/*/tmp *",
        ALICE,
        "RETR",
        "/pub/x/tmp",
        False,
        2,
    ),
    "rule on a file path": (
        "allow RETR /pub *; deny RETR /pub/secret.txt *",
        ALICE,
        "RETR",
        "/pub/secret.txt",
        False,
        2,
    ),
    "rule on a file path leaves its siblings alone": (
        "allow RETR /pub *; deny RETR /pub/secret.txt *",
        ALICE,
        "RETR",
        "/pub/secret.txt.bak",
        True,
        1,
    ),
    "trailing slash on the rule path is ignored": (
        "allow LIST /pub/ *",
        ALICE,
        "LIST",
        "/pub",
        True,
        1,
    ),
    "trailing slash on the asked path is ignored": (
        "deny LIST /pub *; allow LIST / *",
        ALICE,
        "LIST",
        "/pub/",
        False,
        1,
    ),
    "spaces in paths": (
        "allow RETR /My Documents/shared files *",
        ALICE,
        "RETR",
        "/My Documents/shared files/a b.txt",
        True,
        1,
    ),
    "UTF-8 paths": ("allow STOR /上传/文件 @staff", ALICE, "STOR", "/上传/文件/报告.doc", True, 1),
    "UTF-8 glob": (
        "deny RETR /上传/*.doc *; allow RETR / *",
        ALICE,
        "RETR",
        "/上传/报告.doc",
        False,
        1,
    ),
    "read shorthand needs both LIST and RETR": (
        "allow LIST / *",
        ALICE,
        "READ",
        "/pub",
        False,
        None,
    ),
    "read shorthand reports the denied flag's rule": (
        "allow LIST,RETR / *; deny RETR /pub *",
        ALICE,
        "LIST RETR",
        "/pub",
        False,
        2,
    ),
    "read shorthand allowed when both flags are": (
        "allow LIST / *; allow RETR / @staff",
        ALICE,
        "READ",
        "/pub",
        True,
        1,
    ),
    "write shorthand in a rule grants rename": (
        "allow write /home/alice alice",
        ALICE,
        "RNFR",
        "/home/alice/old.txt",
        True,
        1,
    ),
    "rename denied where only store is allowed": (
        "allow STOR,APPE /incoming ?",
        ANON,
        "RENAME",
        "/incoming/a",
        False,
        None,
    ),
    "own permissions allow everything without rules": ("", FULL, "DELE", "/any/where", True, 0),
    "explicit deny beats own permissions at root": ("deny STOR / *", FULL, "STOR", "/a", False, 1),
    "own permissions below an explicit allow elsewhere": (
        "deny STOR / *; allow STOR /incoming *",
        FULL,
        "DELE",
        "/incoming/a",
        True,
        0,
    ),
    "read-only own permissions do not write": ("", READER, "STOR", "/a", False, None),
    "read-only anonymous reads": ("", GUEST, "RETR", "/pub/a", True, 0),
    "read-only anonymous uploads where a rule allows": (
        "allow STOR /incoming ?",
        GUEST,
        "STOR",
        "/incoming/up",
        True,
        1,
    ),
    "read-only anonymous cannot upload elsewhere": (
        "allow STOR /incoming ?",
        GUEST,
        "STOR",
        "/pub/up",
        False,
        None,
    ),
    "deny below the root hides from anonymous": (
        "deny LIST,RETR /private ?",
        GUEST,
        "LIST",
        "/private/x",
        False,
        1,
    ),
}


@pytest.mark.parametrize(
    ("spec", "user", "perm", "path", "allowed", "rule_id"), CASES.values(), ids=CASES.keys()
)
def test_rule_evaluation(
    spec: str, user: User, perm: str, path: str, allowed: bool, rule_id: int | None
) -> None:
    decision = RuleBook(rules(spec)).decide(user, Perm.parse(perm), path)
    assert decision.allowed is allowed, decision.explain()
    assert (decision.rule.id if decision.rule else None) == rule_id, decision.explain()
    assert decision.own is (rule_id == 0)


def test_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize(
    ("decision", "text"),
    [
        (
            Decision(True, rule(3, "allow", "LIST,RETR", "/pub", "*"), Perm.RETR, "/pub/a"),
            "allowed by rule 3: allow LIST,RETR on /pub to *",
        ),
        (
            Decision(False, rule(7, "deny", "STOR", "/", "?,@guests"), Perm.STOR, "/a"),
            "denied by rule 7: deny STOR on / to ?,@guests",
        ),
        (
            Decision(False, None, Perm.RETR, "/x"),
            "denied: no rule gives RETR at /x (no rule means deny)",
        ),
        (
            Decision(False, rule(0, "deny", "DELE", "/", "*"), Perm.DELE, "/x"),
            'denied by the rule "deny DELE on / to *"',
        ),
    ],
    ids=["allowed by rule", "denied by rule", "no rule", "rule without number"],
)
def test_explain_wording(decision: Decision, text: str) -> None:
    assert decision.explain() == text


def test_explain_names_own_permissions() -> None:
    decision = RuleBook([]).decide(READER, Perm.RETR, "/a")
    assert decision.explain() == "allowed by the user's own permissions (LIST,RETR on /)"


def test_explain_of_shorthand_names_the_missing_flag() -> None:
    decision = RuleBook([rule(1, "allow", "LIST", "/", "*")]).decide(ALICE, Perm.READ, "/pub")
    assert decision.perm is Perm.RETR
    assert decision.explain() == "denied: no rule gives RETR at /pub (no rule means deny)"


MAY_DIFFER = {
    "no rules": ("", "/pub", False),
    "rule above the directory": ("deny RETR / *", "/pub", False),
    "rule on the directory itself": ("deny RETR /pub *", "/pub", False),
    "rule below the directory": ("deny RETR /pub/secret *", "/pub", True),
    "rule deep below the directory": ("deny RETR /pub/a/b/c *", "/pub/", True),
    "rule below another directory": ("deny RETR /other/secret *", "/pub", False),
    "glob that can match below": ("deny RETR /home/*/private *", "/home/bob", True),
    "glob that cannot match below": ("deny RETR /home/*/private *", "/srv/bob", False),
    "rule below for someone else": ("deny RETR /pub/secret @admins", "/pub", False),
    "rule below for one of the user's groups": ("allow LIST /pub/staff @staff", "/pub", True),
    "root listing with a rule anywhere": ("allow LIST /a *", "/", True),
}


@pytest.mark.parametrize(
    ("spec", "directory", "expected"), MAY_DIFFER.values(), ids=MAY_DIFFER.keys()
)
def test_may_differ_below(spec: str, directory: str, expected: bool) -> None:
    assert RuleBook(rules(spec)).for_user(ALICE).may_differ_below(directory) is expected


def test_for_user_cache_does_not_leak_between_groups() -> None:
    book = RuleBook([rule(1, "allow", "RETR", "/", "@staff")])
    staff = User("dave", "/srv", Perm.NONE, groups=("staff",))
    outsider = User("dave", "/srv", Perm.NONE, groups=("other",))
    assert book.decide(staff, Perm.RETR, "/a").allowed
    assert not book.decide(outsider, Perm.RETR, "/a").allowed
    assert book.decide(staff, Perm.RETR, "/a").allowed
    assert book.for_user(staff) is book.for_user(
        User("dave", "/elsewhere", Perm.NONE, groups=("staff",))
    )
    assert book.for_user(staff) is not book.for_user(outsider)


def test_for_user_cache_keys_on_perms_and_anonymity() -> None:
    book = RuleBook([rule(1, "allow", "STOR", "/incoming", "?")])
    named = User("anonymous", "/srv", Perm.READ)
    anonymous = User("anonymous", "/srv", Perm.READ, anonymous=True)
    assert not book.decide(named, Perm.STOR, "/incoming/a").allowed
    assert book.decide(anonymous, Perm.STOR, "/incoming/a").allowed
    writer = User("anonymous", "/srv", Perm.ALL)
    assert book.decide(writer, Perm.STOR, "/a").allowed
    assert not book.decide(named, Perm.STOR, "/a").allowed


def test_bounded_caches_still_answer_right() -> None:
    book = RuleBook([rule(1, "deny", "RETR", "/pub/*/secret", "*")], cache_size=2)
    users = [User(f"u{i}", "/srv", Perm.ALL) for i in range(5)]
    for _ in range(3):
        for number, user in enumerate(users):
            rules = book.for_user(user)
            assert rules.allows(Perm.RETR, f"/pub/{number}/open")
            assert not rules.allows(Perm.RETR, f"/pub/{number}/secret/f")


def test_memoised_decision_is_the_same_answer() -> None:
    rules = RuleBook([rule(1, "deny", "DELE", "/keep", "*")]).for_user(FULL)
    first = rules.decide(Perm.DELE, "/keep/a")
    assert rules.decide(Perm.DELE, "/keep/a") == first
    assert not first.allowed
    assert rules.allows(Perm.DELE, "/other")


def test_nothing_asked_is_allowed() -> None:
    assert RuleBook([]).decide(ALICE, Perm.NONE, "/").allowed


@pytest.mark.parametrize(
    ("path", "parts"),
    [
        ("/", ()),
        ("", ()),
        ("/pub/", ("pub",)),
        ("//pub//a", ("pub", "a")),
        ("/pub/./a/../b", ("pub", "b")),
        ("/..", ()),
        ("pub", ("pub",)),
    ],
)
def test_split_path(path: str, parts: tuple[str, ...]) -> None:
    assert split_path(path) == parts
