"""The app layer: wiring from config, the cycle pipeline, the run loop, status and summaries.

Only this layer builds SDK clients and reads the clock; the core it drives stays pure.
"""
