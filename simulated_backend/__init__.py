"""simtune's simulation engine: Tuner, SimulatorBackend, SimulatorCallback and schedulers."""
