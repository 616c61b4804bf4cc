"""Loopback fakes of external services, speaking their wire formats (no test reaches the internet)."""
