"""The lab in the cloud: provision, teardown, the lab's resources and lifecycle tags, its inventory, fleet and derived secrets."""
