"""Passive channel health, the relay's own state (no models): `windows` counts attempts
and errors per channel and per (channel, model), `report` judges each upstream attempt
against the thresholds, and `cooling` holds the set of channels (or models on a channel)
that routing goes around, with its retest due list.

The package owns no rows: it tells channels_app through core.signals (a rejected key, a
cooling start or end) and hears core.signals.channel_passed_test to end cooling.
"""
