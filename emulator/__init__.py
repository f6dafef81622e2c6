"""Local emulator of the SAKURA Cloud IaaS API 1.1 (an independent reading of the API reference)."""
