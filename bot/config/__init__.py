"""The operator's configuration: the YAML schema, `${ENV}` secrets, and errors
that name the file, the line and the fix.

Relative paths in the file are relative to the config file itself. A missing
config file is not an error: every key has a default, and with no platform
section the bot runs the console adapter.

The schema (one model per section) is sections.py; reading, substituting and
checking the file as a whole is loading.py. Everything is imported from here.
"""

from bot.config.loading import (
    DEFAULT_CONFIG,
    MAX_CONFIG_BYTES,
    ConfigError,
    config_path_from,
    load_config,
)
from bot.config.sections import (
    BroadcastConfig,
    Config,
    DatabaseConfig,
    DeliveryConfig,
    Destination,
    MatrixConfig,
    PrivacyConfig,
    PublishingConfig,
    RemindersConfig,
    Strict,
    TelegramConfig,
    TelegramLimits,
    TelegramWebhook,
    WebConfig,
)

__all__ = [
    "DEFAULT_CONFIG",
    "MAX_CONFIG_BYTES",
    "BroadcastConfig",
    "Config",
    "ConfigError",
    "DatabaseConfig",
    "DeliveryConfig",
    "Destination",
    "MatrixConfig",
    "PrivacyConfig",
    "PublishingConfig",
    "RemindersConfig",
    "Strict",
    "TelegramConfig",
    "TelegramLimits",
    "TelegramWebhook",
    "WebConfig",
    "config_path_from",
    "load_config",
]
