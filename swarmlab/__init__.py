"""swarmlab: the library. Never imports prefect."""
