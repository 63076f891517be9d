"""simtune benchmarking: benchmark definitions, the baselines registry, studies and analysis."""
