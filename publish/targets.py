"""Notification targets as configured: which events each wants, where it is, how its secrets
are read, and how its address is shown without them.

A target is an Apprise URL (``mailto://``, ``slack://``, ``ntfy://``, ``json://`` ...) given in
``[notifications] targets``, either as text or as a table with a name, filters, a digest and a
start.  Secrets never need to be written in the configuration: ``${NAME}`` in a URL is replaced
by the environment variable NAME when a message is sent, and ``url_env`` names a variable that
holds the whole URL.  ``mask_url`` is the only way an address is shown (logs, errors, `notify`
output, `config show`).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from publish.changes import ChangeRow, kind_matches, state_matches

DISMISSED = ("false_positive", "source_error")
DIGESTS = ("", "daily", "weekly")
STARTS = ("now", "all")
FORMATS = ("", "text", "markdown", "html")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
STATUSES = ("provisional", "confirmed", "reverted")
# An event without a status (recorded before confirmation existed) counts as confirmed.
DEFAULT_STATUS = "confirmed"
MASK = "****"
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


class TargetError(ValueError):
    """A target that cannot be used, or a secret that is missing; the message has no secret."""


@dataclass(frozen=True)
class Filters:
    """Which change events a target wants.  Empty means every one; ``kinds`` may name prefixes
    ending in a dot; list-wide events (no state) pass any ``states``; ``agencies`` match part of
    an agency's name, any case.  Events a reviewer dismissed are never sent."""

    kinds: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    agencies: tuple[str, ...] = ()

    def wants(self, row: Mapping[str, Any]) -> bool:
        if not kind_matches(row["kind"], self.kinds) or not state_matches(row["state"], self.states):
            return False
        if self.statuses and (row.get("status") or DEFAULT_STATUS) not in self.statuses:
            return False
        if self.agencies and not _names_agency(row, self.agencies):
            return False
        return not (row["review"] and row["review"]["status"] in DISMISSED)


def _names_agency(row: Mapping[str, Any], agencies: Sequence[str]) -> bool:
    """Agency filters concern agreement events only: the names the event carries, any case."""
    if not row["subject_key"]:
        return False
    names = " ".join(str(v) for v in (row["subject_key"], row["old_value"], row["new_value"], row["summary"]) if v)
    names = names.casefold()
    return any(agency.casefold() in names for agency in agencies)


@dataclass(frozen=True)
class Target:
    """One Apprise target: ``[notifications] targets`` entries, checked at load."""

    name: str
    url: str = ""                 # may hold ${NAME} placeholders
    url_env: str = ""             # or: the NAME of a variable holding the whole URL
    filters: Filters = field(default_factory=Filters)
    digest: str = ""              # "" (each run), daily, weekly
    start: str = "now"            # now: never sent events recorded before it was first seen; all
    format: str = ""              # "" = what the service shows best; text, markdown, html
    allow_insecure_login: bool = False   # mailto:// login without TLS

    def resolved_url(self, environ: Mapping[str, str] | None = None) -> str:
        """The URL with its secrets, for Apprise only; TargetError names a missing variable."""
        environ = os.environ if environ is None else environ
        if self.url_env:
            url = environ.get(self.url_env, "")
            if not url:
                raise TargetError(f"target {self.name}: environment variable {self.url_env} is not set")
        else:
            url = self.url

        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if not environ.get(name):
                raise TargetError(f"target {self.name}: environment variable {name} is not set")
            return quote(environ[name], safe="")

        return _PLACEHOLDER.sub(value, url)

    def secrets(self, environ: Mapping[str, str] | None = None) -> list[str]:
        """The secret values this target's URL is built from, to scrub from any message."""
        environ = os.environ if environ is None else environ
        names = [self.url_env] if self.url_env else _PLACEHOLDER.findall(self.url)
        values = [environ.get(n, "") for n in names]
        return [v for v in values for v in (v, quote(v, safe="")) if len(v) >= 3]

    def shown(self) -> str:
        if self.url_env:
            return f"${{{self.url_env}}}"
        return mask_url(self.url)


def parse_targets(entries: Sequence[Any], defaults: Filters) -> tuple[Target, ...]:
    """The ``targets`` list: each a URL text or a table; a section-wide filter is the default for
    each target's own.  TargetError says which entry is wrong."""
    targets = []
    for index, entry in enumerate(entries, start=1):
        where = f"targets[{index}]"
        if isinstance(entry, str):
            entry = {"url": entry}
        if not isinstance(entry, Mapping):
            raise TargetError(f"{where}: a URL or a table")
        targets.append(_target(dict(entry), where, defaults))
    names = [t.name for t in targets]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise TargetError(f"two targets are named {duplicate!r}: give each a different name")
    if "webhook" in names:
        raise TargetError("the name 'webhook' belongs to webhook_url: give the target another name")
    return tuple(targets)


_TARGET_KEYS = {"name", "url", "url_env", "kinds", "states", "statuses", "agencies", "digest", "start", "format",
                "allow_insecure_login"}


def _target(entry: dict[str, Any], where: str, defaults: Filters) -> Target:
    unknown = sorted(set(entry) - _TARGET_KEYS)
    if unknown:
        raise TargetError(f"{where}: unknown key {unknown[0]!r}")
    url, url_env = _text(entry, "url", where), _text(entry, "url_env", where)
    if bool(url) == bool(url_env):
        raise TargetError(f"{where}: give url or url_env (one of them)")
    if url and "://" not in url:
        raise TargetError(f"{where}: {mask_url(url)!r} is not a URL (scheme://...)")
    name = _text(entry, "name", where) or _default_name(url or url_env)
    if not _NAME.match(name):
        raise TargetError(f"{where}: name {name!r}: letters, digits, '.', '_' or '-', at most 100")
    filters = Filters(**{key: _texts(entry, key, where, getattr(defaults, key))
                         for key in ("kinds", "states", "statuses", "agencies")})
    bad_status = [s for s in filters.statuses if s not in STATUSES]
    if bad_status:
        raise TargetError(f"{where}: status {bad_status[0]!r} is not one of {', '.join(STATUSES)}")
    target = Target(name=name, url=url, url_env=url_env, filters=filters,
                    digest=_choice(entry, "digest", DIGESTS, where), start=_choice(entry, "start", STARTS, where),
                    format=_choice(entry, "format", FORMATS, where),
                    allow_insecure_login=_flag(entry, "allow_insecure_login", where))
    return target


def _default_name(url: str) -> str:
    """A stable name for a target given as a bare URL: its scheme and a short hash of the URL
    (so a changed URL is a new target, starting from now)."""
    scheme = url.split("://", 1)[0] if "://" in url else "env"
    return f"{scheme}-{hashlib.sha256(url.encode()).hexdigest()[:8]}"


def _text(entry: Mapping[str, Any], key: str, where: str) -> str:
    value = entry.get(key, "")
    if not isinstance(value, str):
        raise TargetError(f"{where}: {key} must be text")
    return value.strip()


def _texts(entry: Mapping[str, Any], key: str, where: str, default: tuple[str, ...]) -> tuple[str, ...]:
    if key not in entry:
        return default
    value = entry[key]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TargetError(f"{where}: {key} must be a list of texts")
    return tuple(v.upper() if key == "states" else v for v in value)


def _choice(entry: Mapping[str, Any], key: str, choices: Sequence[str], where: str) -> str:
    value = _text(entry, key, where) or choices[0]
    if value not in choices:
        raise TargetError(f"{where}: {key} {value!r} is not one of {', '.join(c or '(empty)' for c in choices)}")
    return value


def _flag(entry: Mapping[str, Any], key: str, where: str) -> bool:
    value = entry.get(key, False)
    if not isinstance(value, bool):
        raise TargetError(f"{where}: {key} must be true or false")
    return value


# -- showing an address without its secrets --------------------------------------------------------
_TOKENISH = re.compile(r"(?=.*\d)[A-Za-z0-9_\-+=.~%]{8,}|[A-Za-z0-9_\-+=.~%]{20,}")


def mask_url(url: str) -> str:
    """``url`` fit to show: the password of ``user:pass@``, every query value, and each path
    segment that looks like a token (8 characters or more with a digit, or 20 or more: Slack,
    Discord and Teams put their secrets there) become ****; ``${NAME}`` placeholders are kept.
    Anything that does not parse as a URL is masked whole."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return MASK
    if not parts.scheme:
        return MASK
    host = parts.hostname or ""
    if _TOKENISH.fullmatch(host) and "." not in host:   # Apprise puts tokens in the host place too
        host = MASK
    netloc = host + (f":{port}" if port else "")
    if parts.username:
        user = parts.username if not _TOKENISH.fullmatch(parts.username) else MASK
        netloc = f"{user}:{MASK}@{netloc}" if parts.password is not None else f"{user}@{netloc}"
    path = "/".join(_mask_segment(s) for s in parts.path.split("/"))
    query = urlencode([(k, v if _PLACEHOLDER.fullmatch(v) else MASK) for k, v in parse_qsl(parts.query)],
                      safe="*${}")
    return urlunsplit((parts.scheme, netloc, path, query, ""))


def _mask_segment(segment: str) -> str:
    if _PLACEHOLDER.fullmatch(segment) or not _TOKENISH.fullmatch(segment):
        return segment
    return MASK


def scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every known secret value replaced (for errors from libraries)."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def row_status(row: ChangeRow) -> str:
    return str(row.get("status") or DEFAULT_STATUS)
