"""hl-agent: a config-driven LLM decision engine that trades on Hyperliquid."""

__version__ = "0.1.0"
