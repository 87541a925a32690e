"""Load a YAML file into a strict pydantic model with errors a person can act on.

Shared by the agent and the collector so both report a bad file the same way:
``agent.yaml: mqtt.prot: unknown key (expected one of: host, port, ...)``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from roomwatch.agent.errors import ConfigError

ModelT = TypeVar("ModelT", bound=BaseModel)
# Values under keys like these are never echoed back in an error message.
_SECRET_KEY = re.compile(r"password|community|secret|token|key|passphrase", re.IGNORECASE)
# ... nor the user and password inside a URL (rtsp://user:password@camera/...), up to the
# last "@": a password may hold "/", "?" or "#" (rtsp://admin:pa/ss@camera/...).
_URL_USERINFO = re.compile(r"(://)\S*@")


def read_yaml(path: Path) -> Any:
    """Parse a YAML file; raise ConfigError naming the file and the line on failure."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}:{where}: not valid YAML: {problem}") from None


def load_yaml_model(path: Path, model: type[ModelT]) -> ModelT:
    """Validate a YAML file against ``model``; ConfigError lists every wrong key."""
    data = read_yaml(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: expected a mapping of keys at the top, got {type(data).__name__}"
        )
    return validate_model(data, model, source=str(path))


def validate_model(data: Any, model: type[ModelT], source: str) -> ModelT:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, model, source)) from None


def describe_validation_error(exc: ValidationError, model: type[BaseModel], source: str) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, err["loc"][:-1])
            hint = f" (expected one of: {', '.join(allowed)})" if allowed else ""
            lines.append(f"{source}: {loc}: unknown key{hint}")
        elif err["type"] == "missing":
            lines.append(f"{source}: {loc}: required key is missing")
        else:
            got = err.get("input")
            if isinstance(got, str):
                got = _URL_USERINFO.sub(r"\1***@", got)
            secret = _SECRET_KEY.search(loc) is not None
            plain = not (isinstance(got, dict | list) or got is None or secret)
            shown = f" (got {got!r})" if plain else ""
            lines.append(f"{source}: {loc}: {err['msg']}{shown}")
    return "\n".join(lines)


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Walk the model along ``loc`` to list the keys that would have been accepted."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return []
        current = _inner_model(fields[part].annotation)
        if current is None:
            return []
    fields = getattr(current, "model_fields", None)
    return sorted(fields) if fields else []


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    return None
