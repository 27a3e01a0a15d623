"""The configuration schema (``config.schema.yaml``) and the reference page generated from it."""
