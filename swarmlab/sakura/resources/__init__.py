"""One accessor per API resource; reached as attributes of `SakuraClient`."""
