"""One user's access under one policy: the rules, names and texts its commands are checked by."""

from __future__ import annotations

from collections.abc import Callable

from pasv.policy.models import Perm, User
from pasv.policy.names import NamePatterns
from pasv.policy.options import Messages, PolicySettings
from pasv.policy.permissions import Decision, UserRules
from pasv.protocol import paths
from pasv.protocol.errors import PathNotFound, PermissionDenied, ProhibitedName
from pasv.protocol.texts import said

RateLimits = tuple[tuple[str, int], ...]


class Access:
    """Built once per user and policy (a session keeps it), so a command's checks are a few
    lookups: no settings to resolve, no patterns to find."""

    __slots__ = (
        "_hidden",
        "_names",
        "_rules",
        "download_limits",
        "messages",
        "serial",
        "settings",
        "upload_limits",
        "user",
    )

    def __init__(
        self,
        user: User,
        settings: PolicySettings,
        rules: UserRules,
        names: NamePatterns,
        messages: Messages,
        limits: tuple[RateLimits, RateLimits] = ((), ()),
        *,
        serial: int = 0,
    ) -> None:
        self.user, self.settings, self.messages = user, settings, messages
        self.serial = serial  # the Policy it was built under (Policy.serial)
        self._rules, self._names = rules, names
        self._hidden = bool(settings.hidden_names)
        # (bucket name, bytes per second): the user's own, its groups', the server's
        self.upload_limits, self.download_limits = limits

    def decide(self, perm: Perm, path: str) -> Decision:
        return self._rules.decide(perm, path)

    def check_reachable(self, path: str) -> None:
        """Hidden names are not there at all: 550, as for a path that does not exist."""
        if self._hidden and self._names.hidden_path(path):
            raise PathNotFound(
                said("replies", "access.hidden", "No such file or directory: {path}", path=path)
            )

    def check(self, perm: Perm, path: str) -> None:
        """Refuse (550) what the rules do not allow."""
        if not self._rules.allows(perm, path):
            what = perm.describe() if perm else "that"
            raise PermissionDenied(self.messages.say("permission", perm=what, path=path))

    def check_enter(self, path: str) -> None:
        """CWD, before the storage is asked: refused (550, one text whether ``path`` exists,
        and with hide_denied the text of a missing path) where the user has no permission
        and no allow rule below it."""
        if self._rules.may_enter(path):
            return
        if self.settings.hide_denied:
            raise PathNotFound()
        raise PermissionDenied(self.messages.say("permission", perm="CWD", path=path))

    def check_name(self, path: str) -> None:
        """A new name (upload, rename target, new directory) must not be forbidden."""
        if self._names.empty:
            return
        name = paths.basename(path)
        if self._names.forbidden(path) is not None or self._names.hidden(name):
            raise ProhibitedName(self.messages.say("prohibited_name", name=name))

    def remembers_uploads(self, path: str) -> bool:
        """Whether the session should remember an upload to ``path`` (``Session.uploaded``):
        the user may rename it, and a rename could give it more than it has there."""
        rules = self._rules
        if not rules.allows(Perm.RENAME, path):
            return False
        possible = rules.possible
        return rules.granted(path) & possible != possible

    def check_rename(
        self, source: str, target: str, *, directory: bool, own_upload: bool = False
    ) -> None:
        """A rename must not move content out from under the rules (or forbidden path
        patterns) that cover it: 550 when it would give the user a permission over it it lacks
        now, or (a directory) when rules lie below either path; 553 when a forbidden path
        pattern could match below a renamed directory's new path. A file the session uploaded
        itself (``own_upload``: a client's ``.part`` file) may go wherever the user may STOR:
        it could have uploaded the same bytes there."""
        rules = self._rules
        if directory and (rules.may_differ_below(source) or rules.may_differ_below(target)):
            raise PermissionDenied(
                said(
                    "replies",
                    "access.rename_rules_below",
                    "Cannot rename {source} to {target}: one of them holds paths with their own"
                    " rules; rename them one by one or ask the administrator.",
                    source=source,
                    target=target,
                )
            )
        gain = rules.gained(source, target)
        if gain and not (own_upload and rules.allows(Perm.STOR, target)):
            raise PermissionDenied(
                said(
                    "replies",
                    "access.rename_gains",
                    "Cannot rename {source} to {target}: you would get {perm} there, which is"
                    " not allowed for you at {source}.",
                    source=source,
                    target=target,
                    perm=gain.describe(),
                )
            )
        if directory and not self._names.empty:
            pattern = self._names.may_forbid_below(target)
            if pattern is not None:
                raise ProhibitedName(
                    said(
                        "replies",
                        "access.rename_forbidden_below",
                        "Cannot rename the directory {source} to {target}: names below it"
                        " could match the forbidden pattern {pattern}.",
                        source=source,
                        target=target,
                        pattern=pattern,
                    )
                )

    def check_replace(self, source: str, target: str, *, directory: bool) -> None:
        """RNTO onto an existing name removes what was there: a file needs DELE at
        ``target``, an (empty) directory RMD, as deleting it would."""
        perm = Perm.RMD if directory else Perm.DELE
        if not self._rules.allows(perm, target):
            raise PermissionDenied(
                said(
                    "replies",
                    "access.rename_replaces",
                    "Cannot rename {source} to {target}: {target} exists, and replacing it"
                    " needs {perm}, which is not allowed for you there.",
                    source=source,
                    target=target,
                    perm=perm.describe(),
                )
            )

    def rights(self, path: str) -> tuple[Perm, bool]:
        """What the user may do at ``path``, and whether it may enter it (CWD)."""
        perms = self._rules.granted(path)
        return perms, bool(perms) or self._rules.may_enter(path)

    def may_differ_below(self, directory: str) -> bool:
        return self._rules.may_differ_below(directory)

    def entry_rights(self, directory: str) -> Callable[[str, bool], tuple[Perm, bool]]:
        """``rights`` of each entry of ``directory`` by name (and whether it is a directory),
        for MLSD's perm facts: the rules are evaluated per entry only where they differ."""
        return self._rules.entry_rights(directory)

    def entry_filter(self, directory: str) -> Callable[[str], bool] | None:
        """Which entries of ``directory`` a listing shows (hidden names never; with
        hide_denied, nothing the user may not LIST); None when everything is shown."""
        names, rules = self._names, self._rules
        by_rules = self.settings.hide_denied and rules.may_differ_below(directory)
        if not self._hidden and not by_rules:
            return None

        def visible(name: str) -> bool:
            if self._hidden and names.hidden(name):
                return False
            return not by_rules or rules.allows(Perm.LIST, paths.join(directory, name))

        return visible
