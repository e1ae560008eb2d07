"""Upstream providers, pure of Django: adaptors (one module per wire format or provider),
the registry, the frozen `ChannelSpec`, the one `RelayError`, SSE and tokenizer helpers.

Imported by billing, channels_app and relay; imports none of them (nor Django).
"""
