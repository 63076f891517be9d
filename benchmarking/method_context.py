"""What a method factory gets from the benchmark: :class:`MethodContext`.

The scheduler modules are imported only when a context is built, so that listing methods
(``simtune methods``) stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulated_backend.schedulers import SearchSpace


@dataclass(frozen=True)
class MethodContext:
    """What every method factory gets from the benchmark it runs on.

    Args:
        search_space: the configurations a scheduler may propose (a tabular blackbox's
            grid, or its ConfigSpace); never consumed, schedulers draw from their own copy.
        metric: the objective to optimize; ``mode`` is ``"min"`` or ``"max"``.
        fidelity_name: the blackbox's name of its fidelity (e.g. ``"epoch"``).
        fidelity_values: the fidelity grid, ascending; the last value is the maximum.
        seed: seeds the scheduler.
        n_workers: how many trials run at once.

    Example:
        >>> from blackbox_repository import load_blackbox
        >>> blackbox = load_blackbox("sklearn-mlp-digits")
        >>> context = MethodContext.from_blackbox(blackbox, "valid_error", "min", seed=0, n_workers=4)
        >>> context.fidelity_name, context.min_fidelity, context.max_fidelity
        ('epoch', 1, 30)
    """

    search_space: SearchSpace
    metric: str
    mode: str
    fidelity_name: str
    fidelity_values: tuple
    seed: int
    n_workers: int

    def __post_init__(self) -> None:
        from simulated_backend.schedulers import SearchSpace
        from simulated_backend.schedulers.protocol import check_metric_and_mode
        from simulated_backend.schedulers.scheduler_arguments import check_seed

        check_metric_and_mode(self.metric, self.mode)
        check_seed(self.seed)
        if not isinstance(self.search_space, SearchSpace):
            raise TypeError(
                f"search_space must be a SearchSpace, got {type(self.search_space).__name__}"
            )
        if not isinstance(self.fidelity_name, str) or not self.fidelity_name:
            raise ValueError(
                f"fidelity_name must name the blackbox's fidelity, got {self.fidelity_name!r}"
            )
        if len(self.fidelity_values) == 0:
            raise ValueError("fidelity_values is empty; pass the blackbox's fidelity grid")
        if (
            isinstance(self.n_workers, bool)
            or not isinstance(self.n_workers, int)
            or self.n_workers < 1
        ):
            raise ValueError(f"n_workers must be an integer >= 1, got {self.n_workers!r}")
        object.__setattr__(self, "fidelity_values", tuple(self.fidelity_values))

    @property
    def max_fidelity(self) -> Any:
        """The largest fidelity value."""
        return self.fidelity_values[-1]

    @property
    def min_fidelity(self) -> Any:
        """The smallest fidelity value."""
        return self.fidelity_values[0]

    @classmethod
    def from_blackbox(
        cls,
        blackbox: Any,
        metric: str,
        mode: str,
        seed: int,
        n_workers: int,
        restrict_to_grid: bool | None = None,
        search_space: SearchSpace | None = None,
    ) -> MethodContext:
        """The context of ``blackbox``; ``metric`` must be one of its objectives, with its mode.

        ``search_space`` is the blackbox's search space if the caller built it already
        (:class:`benchmarking.loaded_benchmarks.LoadedBenchmarks` keeps one per
        benchmark); by default it is built here (``restrict_to_grid`` applies then).
        """
        from blackbox_repository.blackbox import native
        from simulated_backend.schedulers import SearchSpace
        from simulated_backend.schedulers.protocol import check_metric_and_mode

        check_metric_and_mode(metric, mode, blackbox)
        if search_space is None:
            search_space = SearchSpace.from_blackbox(blackbox, restrict_to_grid)
        return cls(
            search_space=search_space,
            metric=metric,
            mode=mode,
            fidelity_name=blackbox.fidelity_name,
            fidelity_values=tuple(native(v) for v in blackbox.fidelity_values),
            seed=seed,
            n_workers=n_workers,
        )
