"""Release onto the swarm: images (publish), registry login, the stack (deploy), services, the HAProxy edge."""
