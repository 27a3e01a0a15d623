"""Static-motion fusion: collaborative learning network training, adaptively weighted learning, baselines."""
