"""One small class per wire format. Vendor SDKs are imported inside `complete`/`_client`."""
