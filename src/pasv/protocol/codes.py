"""FTP reply codes (RFC 959, 2228, 2389, 2428, 3659, 4217) as an IntEnum carrying their phrases."""

from __future__ import annotations

from enum import IntEnum


class ReplyCode(IntEnum):
    """A reply code; ``code.phrase`` is the customary text."""

    phrase: str

    def __new__(cls, value: int, phrase: str = "") -> ReplyCode:
        obj = int.__new__(cls, value)
        obj._value_ = value
        obj.phrase = phrase
        return obj

    RESTART_MARKER = 110, "Restart marker reply."
    SERVICE_READY_IN = 120, "Service ready in a few minutes."
    DATA_ALREADY_OPEN = 125, "Data connection already open; transfer starting."
    FILE_STATUS_OK = 150, "File status okay; about to open data connection."
    OK = 200, "Command okay."
    NOT_IMPLEMENTED_SUPERFLUOUS = 202, "Command not implemented, superfluous at this site."
    SYSTEM_STATUS = 211, "System status, or system help reply."
    DIRECTORY_STATUS = 212, "Directory status."
    FILE_STATUS = 213, "File status."
    HELP = 214, "Help message."
    SYSTEM_TYPE = 215, "UNIX Type: L8"
    SERVICE_READY = 220, "Service ready for new user."
    CLOSING = 221, "Service closing control connection."
    DATA_OPEN_NO_TRANSFER = 225, "Data connection open; no transfer in progress."
    TRANSFER_COMPLETE = 226, "Closing data connection. Requested file action successful."
    PASSIVE = 227, "Entering Passive Mode."
    LONG_PASSIVE = 228, "Entering Long Passive Mode."
    EXTENDED_PASSIVE = 229, "Entering Extended Passive Mode."
    LOGGED_IN = 230, "User logged in, proceed."
    AUTH_OK = 234, "Security exchange completed."
    FILE_ACTION_OK = 250, "Requested file action okay, completed."
    PATH_CREATED = 257, "Pathname created."
    NEED_PASSWORD = 331, "User name okay, need password."
    NEED_ACCOUNT = 332, "Need account for login."
    PENDING = 350, "Requested file action pending further information."
    SERVICE_UNAVAILABLE = 421, "Service not available, closing control connection."
    CANNOT_OPEN_DATA = 425, "Can't open data connection."
    TRANSFER_ABORTED = 426, "Connection closed; transfer aborted."
    FILE_ACTION_NOT_TAKEN = 450, "Requested file action not taken."
    LOCAL_ERROR = 451, "Requested action aborted. Local error in processing."
    INSUFFICIENT_STORAGE = 452, "Requested action not taken. Insufficient storage space in system."
    SYNTAX_ERROR = 500, "Syntax error, command unrecognized."
    ARGUMENT_ERROR = 501, "Syntax error in parameters or arguments."
    NOT_IMPLEMENTED = 502, "Command not implemented."
    BAD_SEQUENCE = 503, "Bad sequence of commands."
    PARAMETER_NOT_IMPLEMENTED = 504, "Command not implemented for that parameter."
    UNSUPPORTED_NETWORK_PROTOCOL = 522, "Network protocol not supported."
    NOT_LOGGED_IN = 530, "Not logged in."
    NEED_ACCOUNT_FOR_STORING = 532, "Need account for storing files."
    PROTECTION_DENIED = 533, "Command protection level denied for policy reasons."
    POLICY_DENIED = 534, "Request denied for policy reasons."
    PROT_LEVEL_NOT_SUPPORTED = 536, "Requested PROT level not supported by mechanism."
    FILE_UNAVAILABLE = 550, "Requested action not taken. File unavailable."
    PAGE_TYPE_UNKNOWN = 551, "Requested action aborted. Page type unknown."
    EXCEEDED_STORAGE = 552, "Requested file action aborted. Exceeded storage allocation."
    NAME_NOT_ALLOWED = 553, "Requested action not taken. File name not allowed."

    @property
    def is_preliminary(self) -> bool:
        return 100 <= self < 200

    @property
    def is_positive(self) -> bool:
        return 200 <= self < 400

    @property
    def is_transient(self) -> bool:
        return 400 <= self < 500

    @property
    def is_permanent(self) -> bool:
        return 500 <= self < 600
