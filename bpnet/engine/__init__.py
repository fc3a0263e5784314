"""Training engine: validated configs, step-by-step trainers, background jobs that report events."""
from .config import ConfigError, defaults, schema, validate_config
from .trainer import Diverged, Trainer

__all__ = ["ConfigError", "defaults", "schema", "validate_config", "Trainer", "Diverged"]
