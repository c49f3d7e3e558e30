"""The LLM client: providers, structured outputs, retries, cost ledger, budgets, replay.

Use the facade: `from hyperliquid_agent.llm_client import LLMClient`. Vendor SDKs are
imported only inside the provider that needs them.
"""
