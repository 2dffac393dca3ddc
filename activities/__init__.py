"""The Temporal face of the services: activities per task queue, and their workers."""
