"""Per-frame feature cache (HDF5) and the feature dump stage."""
