"""Service configuration: built-in defaults < seeds/sources.toml < config file < environment.

The file is TOML (see deploy/config.example.toml for every key).  Environment variables:

  TRACKER287G_CONFIG    path of the configuration file
  TRACKER287G_DB        database URL                      ([database] url)
  TRACKER287G_CONTACT   contact for the User-Agent        ([crawler] contact)
  TRACKER287G__<SECTION>__<KEY>[__<KEY>...]=value         any key, e.g.
      TRACKER287G__HEALTH__STALE_AFTER_HOURS=12
      TRACKER287G__SOURCES__ICE_287G__URL=http://127.0.0.1:8080/287g
  Values are read as TOML values when they parse as one (numbers, booleans, inline tables),
  else as text.  Names are lower-cased.

Every section is a typed dataclass, checked when the configuration is loaded: an unknown key, a
value of the wrong type, a bad schedule or a news source option its kind does not take is a
``ConfigError`` at start, not a surprise at a source's first run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from crawler.limits import ReadLimits
from crawler.sources import LIST_SOURCE_KIND, NEWS_KINDS, NewsSource
from diff.confirmation import DEFAULT_CONFIRMATION, ConfirmationRule
from diff.guards import DEFAULT_THRESHOLDS, Thresholds
from publish.notify import RETIRED_HINT, RETIRED_KEYS, NotificationSettings
from scheduler.seeds import SEEDS_DIR

SEEDS_SOURCES = SEEDS_DIR / "sources.toml"
ENV_PREFIX = "TRACKER287G__"
# Interval schedules are laid on a fixed grid, so restarts do not shift them.
INTERVAL_ANCHOR = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the key."""


# -- sections ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DatabaseSettings:
    url: str | None = None


@dataclass(frozen=True)
class CrawlerSettings:
    contact: str = ""
    run_timeout_seconds: float = 600
    download_timeout_seconds: float = 30
    max_download_bytes: int = 50_000_000
    retry_times: int = 2
    download_delay_seconds: float = 2.0
    scrapy: Mapping[str, Any] = field(default_factory=dict)   # any Scrapy setting, verbatim

    def scrapy_settings(self) -> dict[str, Any]:
        """Scrapy settings for every crawl: the named keys, then [crawler.scrapy] verbatim."""
        return {
            "DOWNLOAD_TIMEOUT": self.download_timeout_seconds,
            "DOWNLOAD_MAXSIZE": self.max_download_bytes,
            "RETRY_TIMES": self.retry_times,
            "DOWNLOAD_DELAY": self.download_delay_seconds,
            **self.scrapy,
        }


@dataclass(frozen=True)
class HealthSettings:
    failures_before_event: int = 3
    stale_after_hours: float = 26.0
    check_every_seconds: float = 60

    def __post_init__(self) -> None:
        if self.failures_before_event < 1 or self.stale_after_hours <= 0:
            raise ValueError("failures_before_event must be >= 1 and stale_after_hours > 0")

    @property
    def stale_after(self) -> dt.timedelta:
        return dt.timedelta(hours=self.stale_after_hours)


@dataclass(frozen=True)
class SchedulerSettings:
    timezone: str = "UTC"
    max_parallel_sources: int = 4
    stop_timeout_seconds: float = 8
    # How long a replica's claim on a source outlives its last renewal (renewed every third of it):
    # the longest a dead replica's sources wait for another replica to take them over.
    lease_seconds: float = 60

    def __post_init__(self) -> None:
        if self.lease_seconds < 1:
            raise ValueError("lease_seconds must be at least 1")


SECTIONS: Mapping[str, type] = {
    "database": DatabaseSettings, "crawler": CrawlerSettings, "health": HealthSettings,
    "scheduler": SchedulerSettings, "notifications": NotificationSettings, "limits": ReadLimits,
}


def _defaults(section: type) -> dict[str, Any]:
    """A section's defaults as TOML would give them (lists and tables, not tuples and mappings)."""
    defaults = section()
    tree = {}
    for f in dataclasses.fields(section):
        value = getattr(defaults, f.name)
        tree[f.name] = list(value) if isinstance(value, tuple) else dict(value) if isinstance(value, Mapping) else value
    return tree


# The built-in layer, as a tree (also what `config show` starts from).
DEFAULTS: dict[str, Any] = {
    "database": _defaults(DatabaseSettings),
    "crawler": _defaults(CrawlerSettings),
    "health": _defaults(HealthSettings),
    "thresholds": {name: {"max_drop_share": t.max_drop_share, "min_drop_rows": t.min_drop_rows}
                   for name, t in DEFAULT_THRESHOLDS.items()},
    "confirmation": {name: {"snapshots": r.snapshots, "hours": r.hours} for name, r in DEFAULT_CONFIRMATION.items()},
    "scheduler": _defaults(SchedulerSettings),
    "notifications": _defaults(NotificationSettings),
    "limits": _defaults(ReadLimits),
    "sources": {},
}


# -- sources ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Schedule:
    interval_seconds: float | None = None
    cron: str | None = None
    jitter_seconds: float = 0

    def trigger(self, timezone: str) -> BaseTrigger:
        jitter = int(self.jitter_seconds) or None
        if self.cron:
            fields = self.cron.split()
            if len(fields) != 5:
                raise ValueError(f"cron {self.cron!r} needs 5 fields (minute hour day month day-of-week)")
            minute, hour, day, month, day_of_week = fields
            return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=day_of_week,
                               timezone=timezone, jitter=jitter)
        return IntervalTrigger(seconds=self.interval_seconds, start_date=INTERVAL_ANCHOR, timezone=timezone,
                               jitter=jitter)

    def describe(self) -> str:
        base = f"cron {self.cron}" if self.cron else f"every {self.interval_seconds:g} s"
        return base + (f" (+ up to {self.jitter_seconds:g} s jitter)" if self.jitter_seconds else "")


@dataclass(frozen=True)
class SourceConfig:
    id: str
    kind: str
    url: str
    enabled: bool
    schedule: Schedule
    options: Mapping[str, Any] = field(default_factory=dict)   # kind-specific keys, as given
    news: NewsSource | None = None                              # the checked options of a news source

    def as_mapping(self) -> dict[str, Any]:
        """The source as a plain mapping."""
        return {"id": self.id, "kind": self.kind, "url": self.url, "enabled": self.enabled, **self.options}


@dataclass(frozen=True)
class Config:
    raw: Mapping[str, Any]                 # the merged tree, for `config show`
    origin: Mapping[str, str]              # where each overridden value came from (dotted key -> origin)
    database: DatabaseSettings
    crawler: CrawlerSettings
    health: HealthSettings
    thresholds: Mapping[str, Thresholds]
    scheduler: SchedulerSettings
    notifications: NotificationSettings
    sources: tuple[SourceConfig, ...]
    confirmation: Mapping[str, ConfirmationRule] = dataclasses.field(
        default_factory=lambda: dict(DEFAULT_CONFIRMATION))
    limits: ReadLimits = ReadLimits()

    @property
    def database_url(self) -> str | None:
        return self.database.url

    @property
    def contact(self) -> str:
        return self.crawler.contact

    def enabled_sources(self) -> tuple[SourceConfig, ...]:
        return tuple(s for s in self.sources if s.enabled)

    def source(self, source_id: str) -> SourceConfig | None:
        return next((s for s in self.sources if s.id == source_id), None)

    def news_sources(self) -> tuple[SourceConfig, ...]:
        return tuple(s for s in self.sources if s.news is not None)

    def to_toml(self, **replace: Mapping[str, Any]) -> str:
        """The effective configuration as TOML (``replace``: whole sections to show instead)."""
        return to_toml({**self.raw, **replace})


# -- loading ------------------------------------------------------------------------------------------

def load_config(path: Path | str | None = None, environ: Mapping[str, str] | None = None,
                sources_file: Path = SEEDS_SOURCES) -> Config:
    environ = os.environ if environ is None else environ
    tree = _copy(DEFAULTS)
    origin: dict[str, str] = {}
    seeds = _read_toml(sources_file)
    tree["sources"] = {entry["id"]: dict(entry) for entry in seeds.get("sources", []) if "id" in entry}
    path = path or environ.get("TRACKER287G_CONFIG")
    if path:
        _merge(tree, _read_toml(Path(path)), origin, f"file {path}")
    _merge(tree, _environment_tree(environ), origin, "environment")
    return _typed(tree, origin)


def _environment_tree(environ: Mapping[str, str]) -> dict[str, Any]:
    env_tree: dict[str, Any] = {}
    if environ.get("TRACKER287G_DB"):
        env_tree.setdefault("database", {})["url"] = environ["TRACKER287G_DB"]
    if environ.get("TRACKER287G_CONTACT"):
        env_tree.setdefault("crawler", {})["contact"] = environ["TRACKER287G_CONTACT"]
    for name, value in environ.items():
        if name.startswith(ENV_PREFIX) and len(name) > len(ENV_PREFIX):
            keys = [k.lower() for k in name[len(ENV_PREFIX):].split("__")]
            node = env_tree
            for key in keys[:-1]:
                node = node.setdefault(key, {})
            node[keys[-1]] = _env_value(value)
    return env_tree


def _typed(tree: dict[str, Any], origin: dict[str, str]) -> Config:
    unknown = sorted(set(tree) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"unknown configuration section [{unknown[0]}]")
    sections = {name: _section(cls, tree[name], name) for name, cls in SECTIONS.items()}
    return Config(raw=tree, origin=origin, thresholds=_thresholds(tree["thresholds"]),
                  confirmation=_confirmation(tree["confirmation"]), sources=_sources(tree["sources"]), **sections)


def _section(cls: type, values: Any, where: str) -> Any:
    if not isinstance(values, Mapping):
        raise ConfigError(f"[{where}] must be a table")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    for key in values:
        if where == "notifications" and key in RETIRED_KEYS:
            raise ConfigError(f"[notifications] {key}: {RETIRED_HINT}")
        if key not in known:
            raise ConfigError(f"unknown key {key!r} in [{where}]")
    try:
        return cls(**{key: _checked(value, hints[key], f"[{where}] {key}") for key, value in values.items()})
    except ValueError as error:
        if isinstance(error, ConfigError):
            raise
        raise ConfigError(f"[{where}] {error}") from error


def _checked(value: Any, expected: Any, where: str) -> Any:
    """``value`` as the field's type wants it, or a ConfigError naming the key."""
    origin, args = typing.get_origin(expected), typing.get_args(expected)
    if origin in (types.UnionType, typing.Union):       # X | None
        if value is None:
            return None
        expected = next(a for a in args if a is not type(None))
        origin, args = typing.get_origin(expected), typing.get_args(expected)
    if expected is bool:
        ok = isinstance(value, bool)
    elif expected is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif expected is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif expected is str:
        ok = isinstance(value, str)
    elif origin is tuple:
        ok = isinstance(value, (list, tuple)) and (args[0] is Any or all(isinstance(v, str) for v in value))
        value = tuple(value) if ok else value
    elif origin in (Mapping, dict) or expected is Mapping:
        ok = isinstance(value, Mapping)
    else:  # pragma: no cover - a section field of a type this function does not know
        raise TypeError(f"{where}: no check for {expected!r}")
    if not ok:
        raise ConfigError(f"{where}: {value!r} is not {_type_name(expected)}")
    return value


def _type_name(expected: Any) -> str:
    names = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}
    return names.get(expected, "a list of texts" if typing.get_origin(expected) is tuple else "a table")


def _thresholds(entries: Mapping[str, Any]) -> dict[str, Thresholds]:
    thresholds = {}
    for name, rule in entries.items():
        if name not in DEFAULT_THRESHOLDS:
            raise ConfigError(f"[thresholds] {name}: not a list name (participating or pending)")
        try:
            thresholds[name] = Thresholds(float(rule["max_drop_share"]), int(rule["min_drop_rows"]))
        except (KeyError, TypeError, ValueError) as error:
            raise ConfigError(f"[thresholds] {name}: {error}") from error
    return thresholds


def _confirmation(entries: Mapping[str, Any]) -> dict[str, ConfirmationRule]:
    rules = dict(DEFAULT_CONFIRMATION)
    for name, rule in entries.items():
        if name not in DEFAULT_CONFIRMATION:
            raise ConfigError(f"[confirmation] {name}: not a list name (participating or pending)")
        try:
            rules[name] = ConfirmationRule(int(rule["snapshots"]), float(rule["hours"]))
        except (KeyError, TypeError, ValueError) as error:
            raise ConfigError(f"[confirmation] {name}: {error}") from error
    return rules


def _sources(entries: Mapping[str, Any]) -> tuple[SourceConfig, ...]:
    sources = []
    for source_id, entry in entries.items():
        where = f"[sources.{source_id}]"
        missing = [k for k in ("kind", "url", "schedule") if k not in entry]
        if missing:
            raise ConfigError(f"{where} lacks {', '.join(missing)}")
        options = {k: v for k, v in entry.items() if k not in ("id", "kind", "url", "enabled", "schedule")}
        kind, url = str(entry["kind"]), str(entry["url"])
        news = None
        if kind in NEWS_KINDS:
            try:
                news = NewsSource.from_mapping({**options, "id": source_id, "kind": kind, "url": url})
            except ValueError as error:
                raise ConfigError(f"{where} {error}") from error
        elif kind == LIST_SOURCE_KIND and options:
            raise ConfigError(f"{where} unknown key {sorted(options)[0]!r} for kind {kind!r}")
        sources.append(SourceConfig(source_id, kind, url, bool(entry.get("enabled", True)),
                                    _schedule(entry["schedule"], where), options, news))
    return tuple(sources)


def _schedule(schedule: Any, where: str) -> Schedule:
    if not isinstance(schedule, Mapping):
        raise ConfigError(f"{where} schedule must be a table")
    kinds = [k for k in ("interval_minutes", "interval_seconds", "cron") if k in schedule]
    if len(kinds) != 1:
        raise ConfigError(f"{where} schedule needs exactly one of interval_minutes, interval_seconds, cron")
    interval = None
    if "interval_minutes" in schedule:
        interval = float(schedule["interval_minutes"]) * 60
    elif "interval_seconds" in schedule:
        interval = float(schedule["interval_seconds"])
    if interval is not None and interval <= 0:
        raise ConfigError(f"{where} schedule interval must be positive")
    parsed = Schedule(interval, schedule.get("cron"), float(schedule.get("jitter_seconds", 0)))
    try:
        parsed.trigger("UTC")
    except ValueError as error:
        raise ConfigError(f"{where} schedule: {error}") from error
    return parsed


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ConfigError(f"configuration file not found: {path}") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from error


def _copy(tree: Any) -> Any:
    if isinstance(tree, dict):
        return {k: _copy(v) for k, v in tree.items()}
    return list(tree) if isinstance(tree, list) else tree


def _merge(base: dict[str, Any], override: Mapping[str, Any], origin: dict[str, str], label: str,
           prefix: str = "") -> None:
    for key, value in override.items():
        dotted = f"{prefix}{key}"
        # a schedule is replaced whole: merging {interval_seconds} into {interval_minutes} means nothing
        if isinstance(value, Mapping) and isinstance(base.get(key), dict) and key != "schedule":
            _merge(base[key], value, origin, label, dotted + ".")
        else:
            base[key] = _copy(dict(value)) if isinstance(value, Mapping) else value
            origin[dotted] = label


def _env_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def to_toml(tree: Mapping[str, Any]) -> str:
    """The tree as TOML (tomli-w); keys without a value (None) are left out, as TOML has no null."""
    return tomli_w.dumps(_without_none(tree))


def _without_none(tree: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _without_none(v) if isinstance(v, Mapping) else v for k, v in tree.items() if v is not None}
