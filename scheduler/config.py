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
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from diff.guards import DEFAULT_THRESHOLDS, Thresholds

SEEDS_SOURCES = Path(__file__).resolve().parents[1] / "seeds" / "sources.toml"
ENV_PREFIX = "TRACKER287G__"
# Interval schedules are laid on a fixed grid, so restarts do not shift them.
INTERVAL_ANCHOR = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)

DEFAULTS: dict[str, Any] = {
    "database": {"url": None},
    "crawler": {
        "contact": "",
        "run_timeout_seconds": 600,
        "download_timeout_seconds": 30,
        "max_download_bytes": 50_000_000,
        "retry_times": 2,
        "download_delay_seconds": 2.0,
        "scrapy": {},
    },
    "health": {"failures_before_event": 3, "stale_after_hours": 26.0, "check_every_seconds": 60},
    "thresholds": {name: {"max_drop_share": t.max_drop_share, "min_drop_rows": t.min_drop_rows}
                   for name, t in DEFAULT_THRESHOLDS.items()},
    "scheduler": {"timezone": "UTC", "max_parallel_sources": 4, "stop_timeout_seconds": 8},
    "notifications": {
        "kinds": ["agreement.added", "agreement.removed", "agreement.renamed", "agreement.promoted",
                  "list.columns_changed", "source.anomaly"],
        "states": [],
        "webhook_url": "",
        "webhook_token_env": "",
        "webhook_attempts": 3,
        "webhook_backoff_seconds": 2.0,
        "webhook_timeout_seconds": 10.0,
        "email_to": [],
        "email_from": "",
        "email_mode": "immediate",
        "digest_hour_utc": 7,
        "smtp_host": "",
        "smtp_port": 587,
        "smtp_starttls": True,
        "smtp_user": "",
        "smtp_password_env": "TRACKER287G_SMTP_PASSWORD",
    },
    "sources": {},
}


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the key."""


@dataclass(frozen=True)
class Schedule:
    interval_seconds: float | None = None
    cron: str | None = None
    jitter_seconds: float = 0

    def trigger(self, timezone: str):
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

    def as_mapping(self) -> dict[str, Any]:
        """The source as a plain mapping (what collectors receive)."""
        return {"id": self.id, "kind": self.kind, "url": self.url, "enabled": self.enabled, **self.options}


@dataclass(frozen=True)
class Config:
    raw: Mapping[str, Any]                 # the merged tree, for `config show`
    sources: tuple[SourceConfig, ...]
    origin: Mapping[str, str]              # where each overridden value came from (dotted key -> origin)

    def section(self, name: str) -> Mapping[str, Any]:
        return self.raw[name]

    @property
    def database_url(self) -> str | None:
        return self.raw["database"]["url"]

    @property
    def contact(self) -> str:
        return self.raw["crawler"]["contact"]

    @property
    def thresholds(self) -> dict[str, Thresholds]:
        return {name: Thresholds(float(t["max_drop_share"]), int(t["min_drop_rows"]))
                for name, t in self.raw["thresholds"].items()}

    def crawler_settings(self) -> dict[str, Any]:
        """Scrapy settings for every crawl: the named keys, then [crawler.scrapy] verbatim."""
        crawler = self.raw["crawler"]
        return {
            "DOWNLOAD_TIMEOUT": crawler["download_timeout_seconds"],
            "DOWNLOAD_MAXSIZE": crawler["max_download_bytes"],
            "RETRY_TIMES": crawler["retry_times"],
            "DOWNLOAD_DELAY": crawler["download_delay_seconds"],
            **crawler["scrapy"],
        }

    def enabled_sources(self) -> tuple[SourceConfig, ...]:
        return tuple(s for s in self.sources if s.enabled)


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
    _merge(tree, env_tree, origin, "environment")
    _check_known(tree)
    return Config(raw=tree, sources=_sources(tree["sources"]), origin=origin)


def _read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ConfigError(f"configuration file not found: {path}") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from error


def _copy(tree: Any) -> Any:
    return {k: _copy(v) for k, v in tree.items()} if isinstance(tree, dict) else tree


def _merge(base: dict, override: Mapping, origin: dict, label: str, prefix: str = "") -> None:
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


def _check_known(tree: Mapping) -> None:
    for section, values in tree.items():
        if section not in DEFAULTS:
            raise ConfigError(f"unknown configuration section [{section}]")
        if section in ("sources", "thresholds"):
            continue
        for key in values:
            if key not in DEFAULTS[section] and not (section == "crawler" and key == "scrapy"):
                raise ConfigError(f"unknown key {key!r} in [{section}]")
    for name, rule in tree["thresholds"].items():
        if name not in DEFAULT_THRESHOLDS:
            raise ConfigError(f"[thresholds] {name}: not a list name (participating or pending)")
        try:
            Thresholds(float(rule["max_drop_share"]), int(rule["min_drop_rows"]))
        except (KeyError, TypeError, ValueError) as error:
            raise ConfigError(f"[thresholds] {name}: {error}") from error
    if tree["notifications"]["email_mode"] not in ("immediate", "digest"):
        raise ConfigError("[notifications] email_mode must be immediate or digest")
    health = tree["health"]
    if int(health["failures_before_event"]) < 1 or float(health["stale_after_hours"]) <= 0:
        raise ConfigError("[health] failures_before_event must be >= 1 and stale_after_hours > 0")


def _sources(entries: Mapping[str, Mapping]) -> tuple[SourceConfig, ...]:
    sources = []
    for source_id, entry in entries.items():
        where = f"[sources.{source_id}]"
        missing = [k for k in ("kind", "url", "schedule") if k not in entry]
        if missing:
            raise ConfigError(f"{where} lacks {', '.join(missing)}")
        schedule = entry["schedule"]
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
        cron = schedule.get("cron")
        if interval is not None and interval <= 0:
            raise ConfigError(f"{where} schedule interval must be positive")
        parsed = Schedule(interval, cron, float(schedule.get("jitter_seconds", 0)))
        try:
            parsed.trigger("UTC")
        except ValueError as error:
            raise ConfigError(f"{where} schedule: {error}") from error
        options = {k: v for k, v in entry.items() if k not in ("id", "kind", "url", "enabled", "schedule")}
        sources.append(SourceConfig(source_id, str(entry["kind"]), str(entry["url"]), bool(entry.get("enabled", True)),
                                    parsed, options))
    return tuple(sources)


def to_toml(tree: Mapping[str, Any]) -> str:
    """A small TOML writer for `config show` (tables, scalars, arrays, inline tables)."""
    lines: list[str] = []

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, Mapping):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return '""' if v is None else value(str(v))

    def table(name: str, node: Mapping[str, Any]) -> None:
        # each source and [crawler.scrapy] get a table of their own; other mappings read best inline
        def own_table(key: str, v: Any) -> bool:
            return isinstance(v, Mapping) and (name == "sources" or key == "scrapy")

        lines.append(f"[{name}]")
        for k, v in node.items():
            if not own_table(k, v):
                lines.append(f"# {k} = (not set)" if v is None else f"{k} = {value(v)}")
        lines.append("")
        for k, v in node.items():
            if own_table(k, v):
                table(f"{name}.{k}", v)

    for name, node in tree.items():
        table(name, node)
    return "\n".join(lines)

