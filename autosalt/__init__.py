"""autosalt: automatic SALT scoring of alopecia areata from scalp photographs."""

__version__ = "0.1.0"
