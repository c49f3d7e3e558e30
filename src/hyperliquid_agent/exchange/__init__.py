"""Venues: the simulated venue model and its two doors, and the Hyperliquid SDK adapter.

- `feed`       market data container (candles, funding, open interest, asset specs) and CSV I/O
- `synthetic`  the embedded default data: a seeded, regime-switching generator
- `model`      `VenueModel`, the pure simulation core (accounts, matching, funding, liquidation)
- `simulated`  `SimulatedExchange`, the in-process `ExchangePort` over the model (door 1)
- `emulator`   the HTTP server speaking Hyperliquid's JSON over the same model (door 2)
- `hyperliquid` the adapter on hyperliquid-python-sdk (real networks and the emulator)

Nothing heavy is imported here, so importing a submodule stays cheap.
"""
