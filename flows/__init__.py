"""Prefect only: flows, tasks, blocks, artifacts and deployments, thin wrappers over ``engine``."""
