"""The management REST API under /api/: DRF viewsets over billing and channels_app.

Writes go through model saves and the billing/channel services, so the relay's caches are
invalidated exactly as for admin edits (core.cachebus topics bumped by signals).
"""
