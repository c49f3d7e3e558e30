"""Public import path of the LLM client: `from hyperliquid_agent.llm_client import LLMClient`."""

from hyperliquid_agent.llm.client import LLMClient
from hyperliquid_agent.llm.types import LLMResponse

__all__ = ["LLMClient", "LLMResponse"]
