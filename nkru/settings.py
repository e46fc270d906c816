"""One frozen settings object, read once by the CLI from a settings file and NKRU_* environment variables.

Precedence: command-line flags > environment (``NKRU_KAFKA__BOOTSTRAP_SERVERS``…) > the settings file
(``--config FILE`` or ``NKRU_CONFIG``; YAML) > defaults. Secrets are ``SecretStr`` and never logged.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from nkru.paths import state_dir


class ConfigError(ValueError):
    """The settings file or environment is invalid; the message names the field."""


class KafkaSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    bootstrap_servers: str = Field("127.0.0.1:9092", description="host:port[,host:port…] of the Kafka cluster")
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="how clients talk to the brokers")
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None, description="SASL mechanism when security_protocol is SASL_*")
    sasl_username: str | None = Field(None, description="SASL user name")
    sasl_password: SecretStr | None = Field(None, description="SASL password (never logged or printed)")
    ssl_cafile: Path | None = Field(None, description="CA bundle to verify the brokers' certificates")
    ssl_certfile: Path | None = Field(None, description="client certificate (mutual TLS)")
    ssl_keyfile: Path | None = Field(None, description="client private key (mutual TLS)")
    topic_prefix: str = Field("", description="prefix of every topic name, e.g. 'replay.' for a rehearsal")
    create_topics: bool = Field(True, description="create missing topics (else only check they exist)")
    partitions: int = Field(3, ge=1, description="partitions of topics nkru creates")
    replication_factor: int = Field(1, ge=1, description="replication factor of topics nkru creates")

    @model_validator(mode="after")
    def _sasl_complete(self) -> KafkaSettings:
        if self.security_protocol.startswith("SASL_"):
            missing = [f"kafka.{name}" for name in ("sasl_mechanism", "sasl_username", "sasl_password")
                       if getattr(self, name) is None]
            if missing:
                raise ValueError(f"security_protocol {self.security_protocol} needs {', '.join(missing)}")
        return self

    def client_options(self) -> dict[str, Any]:
        """kafka-python keyword arguments for security; shared by producers, consumers and admin clients."""
        opts: dict[str, Any] = {"security_protocol": self.security_protocol}
        if self.sasl_mechanism:
            opts["sasl_mechanism"] = self.sasl_mechanism
            opts["sasl_plain_username"] = self.sasl_username
            opts["sasl_plain_password"] = self.sasl_password.get_secret_value() if self.sasl_password else None
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            value = getattr(self, name)
            if value is not None:
                opts[name] = str(value)
        return opts


ONE_MACHINE_RUNNERS = ("prism", "prismrunner", "direct", "directrunner")


def layout_for(layout: str, runner: str) -> str:
    """A state layout with "auto" decided: single on the runners of one machine (Prism, the direct runner),
    where every keyed stage costs a bundle cycle and its shards gain nothing; sharded on any other runner."""
    if layout != "auto":
        return layout
    return "single" if runner.lower() in ONE_MACHINE_RUNNERS else "sharded"


class ProcessSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    runner: str = Field("prism", description="Beam runner: prism (local), FlinkRunner, DataflowRunner, …")
    group_id: str = Field("nkru-process", description="consumer group of the streaming job's Kafka source")
    start_at: Literal["committed", "earliest", "latest"] = Field(
        "committed", description="where a group without committed offsets starts (restart=resume only)")
    restart: Literal["rebuild", "resume"] = Field(
        "rebuild", description="rebuild: re-read the raw topic's retained horizon to rebuild dedup/merge state, "
        "writing nothing already written; resume: start at the committed offsets with empty state")
    layout: Literal["auto", "single", "sharded"] = Field(
        "auto", description="how the streaming job's state is keyed: single (dedup on one key, merge and alerts on "
        "another: fastest on one machine), sharded (dedup, merge and alert folds on shard keys that spread over "
        "workers); auto: single on prism, else sharded")
    ontology: Path | None = Field(None, description="ontology YAML (default: the bundled one)")
    alert_rules: Path | None = Field(None, description="alert rules YAML (default: the bundled one)")

    @field_validator("runner")
    @classmethod
    def _streaming_runner(cls, value: str) -> str:
        if value.lower() in ("direct", "directrunner"):
            raise ValueError("the direct runner runs bounded replays only (nkru replay); the streaming job runs on "
                             "prism, flink or another streaming runner")
        return value

    def layout_for_runner(self) -> str:
        """`layout` with "auto" decided for `runner` (`layout_for`)."""
        return layout_for(self.layout, self.runner)


class ObservabilitySettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = Field("127.0.0.1", description="address of the /healthz and /metrics endpoint")
    port: int = Field(9464, ge=0, le=65535, description="its port; 0 picks a free one")
    enabled: bool = Field(True, description="serve the endpoint at all")


class Settings(BaseSettings):
    """Everything nkru can be configured with; `nkru config show` prints the effective values."""

    model_config = SettingsConfigDict(env_prefix="NKRU_", env_nested_delimiter="__", frozen=True,
                                      extra="forbid")

    kafka: KafkaSettings = KafkaSettings()
    process: ProcessSettings = ProcessSettings()
    observability: ObservabilitySettings = ObservabilitySettings()
    state_dir: Path = Field(default_factory=state_dir, description="local state: broker data, feed state")
    feeds: Path | None = Field(None, description="feed registry YAML (default: the bundled registry)")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="least severe level logged")
    log_format: Literal["json", "text"] = Field("text", description="structured JSON logs or readable text")

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, file_secret_settings


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings from the file (if any), the environment and `overrides`; ConfigError if invalid."""
    path = config_file or (Path(os.environ["NKRU_CONFIG"]) if os.environ.get("NKRU_CONFIG") else None)
    data: dict[str, Any] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            raise ConfigError(f"settings file {path} does not exist") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"settings file {path} is not valid YAML: {exc}") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"settings file {path} must hold a mapping at the top level")
        data.update(loaded)
    flags: dict[str, Any] = {}
    for key, value in overrides.items():
        if value is None:
            continue
        section, _, field = key.partition("__")
        if field:
            flags.setdefault(section, {})[field] = value
        else:
            flags[key] = value
    try:
        env_set = Settings().model_dump(exclude_unset=True)
        return Settings(**_deep_merge(_deep_merge(data, env_set), flags))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        where = f" (file {path})" if path else ""
        raise ConfigError(f"invalid settings{where}: {problems}") from None


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def describe(model: type[BaseModel] = Settings, prefix: str = "") -> list[tuple[str, str, str]]:
    """(dotted name, default, description) of every setting, nested sections flattened."""
    rows = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows.extend(describe(annotation, f"{prefix}{name}."))
            continue
        default = "(computed)" if info.default_factory is not None else info.default
        rows.append((prefix + name, "" if default is None else str(default), info.description or ""))
    return rows


def env_name(dotted: str) -> str:
    return "NKRU_" + dotted.upper().replace(".", "__")
