"""The report's data files, validated strictly: ``catalog.yaml`` (what to read from the
rollups) and ``hazards.yaml`` (hazard thresholds)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from roomwatch.agent.yamlconfig import load_yaml_model

HERE = Path(__file__).parent


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KeyMetric(_Strict):
    name: str
    key: str = Field(description="exact key, or a table prefix ending in '{'")
    unit: str = ""
    p95: bool = False

    @property
    def is_prefix(self) -> bool:
        return self.key.endswith("{")

    def matches(self, metric: str) -> bool:
        return metric.startswith(self.key) if self.is_prefix else metric == self.key

    def label_of(self, metric: str) -> str:
        """``mount=/`` for ``disk.used_pct{mount=/}``; empty for a scalar."""
        return metric[len(self.key) : -1] if self.is_prefix else ""


class Catalog(_Strict):
    key_metrics: list[KeyMetric]
    availability_metric: str = "reachable"
    offline_rule: str = "agent_offline"
    process_prefix: str = "process.running{"
    recorder_process: str = "recorder"
    error_prefixes: list[str] = Field(default_factory=list)


class FillSettings(_Strict):
    metrics: list[str]
    full_pct: float = 100
    alarm_pct: float = 90
    min_days: int = Field(default=14, ge=2)
    min_slope_per_day: float = 0.05
    min_r2: float = 0.6
    cleanup_drop_pct: float = 5
    horizon_days: int = 180
    high_days: int = 30
    medium_days: int = 90


class TemperatureSettings(_Strict):
    metric: str = "temperature_c"
    min_days: int = Field(default=14, ge=2)
    rise_c: float = 5
    min_r2: float = 0.3
    critical_c: float = 75
    horizon_days: int = 90


class ErrorSettings(_Strict):
    metrics: list[str]
    window_days: int = Field(default=30, ge=1)
    min_errors: float = 100
    growth_ratio: float = 2.0


class UpsSettings(_Strict):
    replace_metric: str = "battery_replace"
    runtime_metric: str = "battery_minutes_remaining"
    window_days: int = Field(default=14, ge=1)
    runtime_decline_pct: float = 20
    min_runtime_min: float = 10


class LampSettings(_Strict):
    hours_metric: str = "lamp_hours"
    life_metric: str = "lamp_life_hours"
    warn_ratio: float = 0.9
    horizon_days: int = 90


class RepeatedFaultSettings(_Strict):
    min_faults: int = Field(default=3, ge=2)
    ignore_rules: list[str] = Field(default_factory=list)


class HazardSettings(_Strict):
    fill: FillSettings
    temperature: TemperatureSettings
    interface_errors: ErrorSettings
    ups: UpsSettings
    lamp: LampSettings
    repeated_faults: RepeatedFaultSettings

    def daily_metrics(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(exact keys, prefixes) whose daily series the detectors need."""
        keys = [
            self.temperature.metric,
            self.ups.replace_metric,
            self.ups.runtime_metric,
            self.lamp.hours_metric,
        ]
        prefixes = [*self.fill.metrics, *self.interface_errors.metrics]
        return tuple(k for k in keys if not k.endswith("{")), tuple(prefixes)


@lru_cache(maxsize=1)
def catalog() -> Catalog:
    return load_yaml_model(HERE / "catalog.yaml", Catalog)


@lru_cache(maxsize=1)
def hazard_settings() -> HazardSettings:
    return load_yaml_model(HERE / "hazards.yaml", HazardSettings)
