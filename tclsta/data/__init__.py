"""Datasets: protocols (manifests), the synthetic dataset, video decoding, frame layout."""
