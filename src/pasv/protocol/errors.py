"""Typed refusals: each carries its reply code and a reason a person can act on."""

from __future__ import annotations

from pasv.protocol.codes import ReplyCode


class FtpError(Exception):
    """A refusal that becomes one FTP reply. Subclasses fix the code; the text explains."""

    code: ReplyCode = ReplyCode.LOCAL_ERROR
    default_text: str = "Requested action aborted. Local error in processing."

    def __init__(self, text: str | None = None, *, code: ReplyCode | None = None) -> None:
        self.text = text if text is not None else self.default_text
        if code is not None:
            self.code = code
        super().__init__(f"{int(self.code)} {self.text}")


# --- 4xx: transient -------------------------------------------------------------------------
class ServiceUnavailable(FtpError):
    """421: the session ends after this reply."""

    code = ReplyCode.SERVICE_UNAVAILABLE
    default_text = "Service not available, closing control connection."


class DataConnectionFailed(FtpError):
    """425; ``kind`` names the failure for the metrics (passive_timeout, active_refused ...)."""

    code = ReplyCode.CANNOT_OPEN_DATA
    default_text = "Can't open data connection."

    def __init__(self, text: str | None = None, *, kind: str = "other") -> None:
        super().__init__(text)
        self.kind = kind


class TransferAborted(FtpError):
    code = ReplyCode.TRANSFER_ABORTED
    default_text = "Connection closed; transfer aborted."


class FileBusy(FtpError):
    code = ReplyCode.FILE_ACTION_NOT_TAKEN
    default_text = "Requested file action not taken: file busy."


class LocalError(FtpError):
    code = ReplyCode.LOCAL_ERROR
    default_text = "Requested action aborted. Local error in processing."


class ProtocolViolation(FtpError):
    """The peer broke the protocol framing (client side: a malformed reply)."""

    code = ReplyCode.LOCAL_ERROR
    default_text = "Malformed reply from server."


class InsufficientStorage(FtpError):
    code = ReplyCode.INSUFFICIENT_STORAGE
    default_text = "Requested action not taken. Insufficient storage space in system."


# --- 5xx: permanent -------------------------------------------------------------------------
class CommandUnrecognized(FtpError):
    code = ReplyCode.SYNTAX_ERROR
    default_text = "Syntax error, command unrecognized."


class LineTooLong(FtpError):
    code = ReplyCode.SYNTAX_ERROR
    default_text = "Command line too long."


class ArgumentError(FtpError):
    code = ReplyCode.ARGUMENT_ERROR
    default_text = "Syntax error in parameters or arguments."


class NotImplementedCommand(FtpError):
    code = ReplyCode.NOT_IMPLEMENTED
    default_text = "Command not implemented."


class BadSequence(FtpError):
    code = ReplyCode.BAD_SEQUENCE
    default_text = "Bad sequence of commands."


class ParameterNotImplemented(FtpError):
    code = ReplyCode.PARAMETER_NOT_IMPLEMENTED
    default_text = "Command not implemented for that parameter."


class NotLoggedIn(FtpError):
    code = ReplyCode.NOT_LOGGED_IN
    default_text = "Not logged in."


class PolicyDenied(FtpError):
    """534 (RFC 2228): e.g. TLS is required and the client did not use it."""

    code = ReplyCode.POLICY_DENIED
    default_text = "Request denied for policy reasons."


class DataTlsFailed(FtpError):
    """522, as vsftpd answers: the TLS handshake on a data connection failed or was refused."""

    code = ReplyCode.UNSUPPORTED_NETWORK_PROTOCOL
    default_text = "TLS on the data connection failed."


class FileUnavailable(FtpError):
    """550 and its specific reasons below."""

    code = ReplyCode.FILE_UNAVAILABLE
    default_text = "Requested action not taken. File unavailable."


class PathNotFound(FileUnavailable):
    default_text = "No such file or directory."


class PermissionDenied(FileUnavailable):
    default_text = "Permission denied."


class NotADirectory(FileUnavailable):
    default_text = "Not a directory."


class IsADirectory(FileUnavailable):
    default_text = "Is a directory."


class AlreadyExists(FileUnavailable):
    default_text = "File exists."


class DirectoryNotEmpty(FileUnavailable):
    default_text = "Directory not empty."


class OutsideJail(FileUnavailable):
    default_text = "Path is outside your home directory."


class ExceededStorage(FtpError):
    code = ReplyCode.EXCEEDED_STORAGE
    default_text = "Exceeded storage allocation."


class NameNotAllowed(FtpError):
    code = ReplyCode.NAME_NOT_ALLOWED
    default_text = "Requested action not taken. File name not allowed."


# --- policy refusals ------------------------------------------------------------------------
class Refused(ServiceUnavailable):
    """421 at connect or login: banned, address not allowed, too many users."""


class LoginRefused(NotLoggedIn):
    """530 for a reason other than the password: address, session limits, anonymous off."""


class ProhibitedName(NameNotAllowed):
    """553: the name matches a forbidden pattern."""


class InsufficientCredit(FileUnavailable):
    """550: a download costs more credit than the user has."""


class QuotaExceeded(ExceededStorage):
    """552: the upload would pass the user's byte or file quota."""
