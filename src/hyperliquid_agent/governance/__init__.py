"""Governance: regime classification, plans with dwell times, the change-cost gate, tripwires.

Everything here is pure (time comes in as `now_ms`); `hyperliquid_agent.governance_store`
saves it to the state store and reads the calendar file. Import submodules directly,
e.g. `from hyperliquid_agent.governance.governor import Governor`.
"""
