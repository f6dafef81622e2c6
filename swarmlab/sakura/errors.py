"""Typed errors of the SAKURA Cloud client. Every message says what to do next.

Hierarchy::

    SakuraError
    ├── SakuraAPIError(status, error_code, message, method, path)   the API answered 4xx/5xx
    │   ├── BadRequest            400  (parameters rejected)
    │   ├── Unauthorized          401  (access token / secret wrong)
    │   ├── PaymentRequired       402
    │   ├── Forbidden             403
    │   ├── NotFound              404
    │   ├── MethodNotAllowed      405
    │   ├── Conflict              409
    │   │   └── StillCreating     409 still_creating
    │   ├── Locked                423
    │   ├── ServerError           500, 502, 504 and any other 5xx
    │   └── Busy                  503 (busy, too_many_request, any other 503)
    ├── SakuraConnectionError     the API could not be reached (after retries)
    ├── NoMatch                   a lookup (archive by tags, NFS plan) found nothing
    ├── WaitTimeout               a waiter gave up; names the resource and its last state
    └── ResourceFailed            a resource reached a terminal failed state (e.g. Availability=failed)

No message, repr or pickle of these errors ever contains the API secret: the transport scrubs
every server-supplied text before it builds an error (see `redact`).
"""

from __future__ import annotations

from swarmlab.errors import SwarmlabError, redact

__all__ = [
    "BadRequest",
    "Busy",
    "Conflict",
    "Forbidden",
    "Locked",
    "MethodNotAllowed",
    "NoMatch",
    "NotFound",
    "PaymentRequired",
    "ResourceFailed",
    "SakuraAPIError",
    "SakuraConnectionError",
    "SakuraError",
    "ServerError",
    "StillCreating",
    "Unauthorized",
    "WaitTimeout",
    "error_for",
    "redact",
]


class SakuraError(SwarmlabError):
    """Base of every error raised by `swarmlab.sakura`."""


class SakuraAPIError(SakuraError):
    """The API answered with an error status. `error_code` is the API's code (`not_found`, ...)."""

    def __init__(self, status: int, error_code: str, message: str, method: str, path: str,
                 serial: str = "", attempts: int = 1):
        self.status = status
        self.error_code = error_code or ""
        self.message = message or ""
        self.method = method
        self.path = path
        self.serial = serial or ""
        self.attempts = attempts
        super().__init__(status, self.error_code, self.message, method, path, self.serial, attempts)

    @property
    def what_to_do(self) -> str:
        if self.error_code in CODE_HINTS:
            return CODE_HINTS[self.error_code]
        return next((HINTS[c] for c in type(self).__mro__ if c in HINTS),
                    "see the error code in the SAKURA Cloud API manual")

    def __str__(self) -> str:
        code = f" {self.error_code}" if self.error_code else ""
        msg = f": {self.message}" if self.message else ""
        tries = f" (after {self.attempts} attempts)" if self.attempts > 1 else ""
        serial = f" [serial {self.serial}]" if self.serial else ""
        return f"{self.method} {self.path} -> {self.status}{code}{msg}{tries}{serial}. {self.what_to_do}"

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(status={self.status}, error_code={self.error_code!r}, "
                f"method={self.method!r}, path={self.path!r})")


class BadRequest(SakuraAPIError):
    """400: the API rejected the request's parameters."""


class Unauthorized(SakuraAPIError):
    """401: the access token or its secret is wrong."""


class PaymentRequired(SakuraAPIError):
    """402: the account has a payment problem."""


class Forbidden(SakuraAPIError):
    """403: the key may not do this here."""


class NotFound(SakuraAPIError):
    """404: no such resource (in this zone)."""


class MethodNotAllowed(SakuraAPIError):
    """405: not an operation of this resource."""


class Conflict(SakuraAPIError):
    """409: the resource's state does not allow this."""


class StillCreating(Conflict):
    """409 still_creating: the resource is still being created."""


class Locked(SakuraAPIError):
    """423: another operation holds the resource."""


class ServerError(SakuraAPIError):
    """500, 502, 504 and any other 5xx: SAKURA Cloud failed."""


class Busy(SakuraAPIError):
    """503: busy or rate-limited (too_many_request)."""


#: what to do after an error of each class (a more specific error code's hint in CODE_HINTS wins)
HINTS: dict[type[SakuraAPIError], str] = {
    BadRequest: "the API rejected the request parameters; fix the values named in the message",
    Unauthorized: ("the API rejected the credentials: check the access token and access token secret of "
                   "the credentials block (and that the key is enabled for this zone); not retried"),
    PaymentRequired: "the account has a payment problem; check billing in the SAKURA Cloud control panel",
    Forbidden: ("the API key is not allowed to do this (permission level, zone, or sandbox "
                "restriction); use a key with resource-creation rights in this zone"),
    NotFound: ("the resource does not exist: it was deleted, the ID is wrong, or it lives in another "
               "zone"),
    MethodNotAllowed: "this operation is not supported on this resource",
    Conflict: "the resource's current state does not allow this; check its status and retry",
    StillCreating: "the resource is still being created; wait until it is available, then retry",
    Locked: "the resource is locked by another operation; wait and retry",
    ServerError: "SAKURA Cloud failed internally; retry later, and check the status page if it persists",
    Busy: ("SAKURA Cloud is busy or rate-limiting this key; the client backed off and retried. "
           "Retry later, or lower rate_per_s / the number of parallel tasks"),
}

CODE_HINTS: dict[str, str] = {
    "still_creating": HINTS[StillCreating],
    "disk_is_not_available": "the disk is still being copied; wait until it is available, then retry",
    "disk_is_copying": "the disk is still being copied; wait until it is available, then retry",
    "server_power_must_be_down": "power the server off (and wait until it is down) first",
    "server_power_must_be_up": "power the server on (and wait until it is up) first",
    "server_is_cleaning": "the server is shutting down; wait until it is down, then retry",
    "disconnect_b4_delete": ("the resource is still connected; delete or disconnect what uses it "
                             "(servers, appliances, disks) first"),
    "disconnect_b4_update": "disconnect the resource before changing this value",
    "res_already_exists": "a resource with these values already exists; adopt it or pick another name",
    "duplicate_entry": "an entry with these values already exists; adopt it or pick another name",
    "connect_to_same_switch": "two NICs of one server cannot connect to the same switch",
    "run_out_of_ipaddress": "the segment has no free IP address left",
    "original_hash_mismatch": "the resource changed meanwhile; re-read it and retry",
    "limit_count_in_account": "account quota reached; delete unused resources or ask support to raise it",
    "limit_count_in_zone": "zone quota reached; delete unused resources or ask support to raise it",
    "limit_memory_in_account": "memory quota reached; delete servers or ask support to raise it",
    "limit_size_in_account": "disk size quota reached; delete disks or ask support to raise it",
    "limit_count_in_network": "too many resources on this network",
    "param_res_not_found": "a resource referenced in the request (switch, archive, server...) does not exist",
    "param_ip_not_found": "no network contains this IP address; check the switch and subnet",
    "too_many_request": HINTS[Busy],
    "apiproxy_timeout_non_get": ("the API timed out and the request MAY have been executed: re-read "
                                 "the resource before retrying"),
    "unknown_os_type": "the archive does not support disk edit; use a Linux public archive",
}

_BY_STATUS: dict[int, type[SakuraAPIError]] = {
    400: BadRequest, 401: Unauthorized, 402: PaymentRequired, 403: Forbidden, 404: NotFound,
    405: MethodNotAllowed, 409: Conflict, 423: Locked, 503: Busy,
}


def error_for(status: int, error_code: str, message: str, method: str, path: str,
              serial: str = "", attempts: int = 1) -> SakuraAPIError:
    """Build the most specific error class for an API error answer."""
    if status == 409 and error_code == "still_creating":
        cls: type[SakuraAPIError] = StillCreating
    elif status in _BY_STATUS:
        cls = _BY_STATUS[status]
    elif status >= 500:
        cls = ServerError
    else:
        cls = SakuraAPIError
    return cls(status, error_code, message, method, path, serial, attempts)


class SakuraConnectionError(SakuraError):
    """The API could not be reached, or did not answer in time, after all retries."""

    def __init__(self, method: str, path: str, cause: str, attempts: int = 1):
        self.method, self.path, self.cause, self.attempts = method, path, cause, attempts
        super().__init__(method, path, cause, attempts)

    def __str__(self) -> str:
        return (f"{self.method} {self.path}: SAKURA Cloud API not reachable after {self.attempts} "
                f"attempt(s): {self.cause}. Check network access to the API root (api_root) and "
                f"retry; a POST that timed out may have been executed, so look the resource up by "
                f"name before creating it again")


class NoMatch(SakuraError):
    """A lookup that must find something found nothing."""

    def __init__(self, what: str, hint: str = ""):
        self.what, self.hint = what, hint
        super().__init__(what, hint)

    def __str__(self) -> str:
        return f"no {self.what}" + (f"; {self.hint}" if self.hint else "")


class WaitTimeout(SakuraError):
    """A waiter gave up before the resource reached the wanted state."""

    def __init__(self, what: str, wanted: str, last_state: str, timeout_s: float):
        self.what, self.wanted, self.last_state, self.timeout_s = what, wanted, last_state, timeout_s
        super().__init__(what, wanted, last_state, timeout_s)

    def __str__(self) -> str:
        return (f"timed out after {self.timeout_s:g} s waiting for {self.what} to be {self.wanted}; "
                f"last state: {self.last_state}. Raise the timeout if the cloud is slow, or check "
                f"the resource in the control panel")


class ResourceFailed(SakuraError):
    """The resource reached a terminal failure state; it will not recover by waiting."""

    def __init__(self, what: str, state: str):
        self.what, self.state = what, state
        super().__init__(what, state)

    def __str__(self) -> str:
        return (f"{self.what} failed (state: {self.state}); it will not recover: delete it and "
                f"create it again")
