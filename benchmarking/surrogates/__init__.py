"""``simtune surrogate``: tune, fit, publish, evaluate and check surrogate benchmarks.

The data layer (splits, model families, ONNX export, the ``trained-onnx`` blackbox kind,
scores) is :mod:`blackbox_repository.surrogate_training`; this package adds what needs the
engine: tuning each model with simtune's schedulers on the real backend
(:mod:`~benchmarking.surrogates.tuning`), the fit pipeline
(:mod:`~benchmarking.surrogates.pipeline`), the test report
(:mod:`~benchmarking.surrogates.report`) and the faithfulness study
(:mod:`~benchmarking.surrogates.faithfulness`; on held-out configurations,
:mod:`~benchmarking.surrogates.held_out`; on cross-fitted answers for every configuration,
:mod:`~benchmarking.surrogates.cross_fit`).
"""
