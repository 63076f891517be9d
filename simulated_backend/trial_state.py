"""The simulator's state of a trial that may still run: one small list per trial, its
slots named here (:class:`~simulated_backend.backend.SimulatorBackend` and its one-loop
runs of a stopping rule, :mod:`simulated_backend.stopping_rule_replay`, read and write it)."""

# The state of a trial that may still run: one small list per trial (cheaper to make and to
# read than an object), dropped when the trial stops, completes or fails.
CURVE = 0  # the trial's curve (a non-tabular blackbox's), or None: rows come from the table
CONFIG_INDEX = 1  # the trial's row in a tabular blackbox's grid (-1 otherwise)
SEED_INDEX = 2  # the blackbox seed the trial replays
WORKER = 3  # the worker it runs on, -1 while paused
OFFSET = 4  # simulated time at which its recorded elapsed time 0 falls
POSITION = 5  # fidelity position of its next result
ROW = 6  # its next result's objectives (plain floats), computed one step ahead
# tabular blackboxes: the last block of rows of the trial's curve read, as plain floats,
# and the position of its first row. A trial started by its row (start_trial_at_row) reads
# its first two rows as its first block (start_trial reads the first row alone); then each
# block holds twice as many rows as the one before (from two): a trial stopped at its first
# rung reads no more, one that runs to the end a few blocks, and most results cost a list
# lookup instead of a numpy read.
BLOCK = 7
BLOCK_START = 8
# tabular blackboxes: the trial's first row in the table's flat rows (its row at position k
# is this + k * seeds), logged with each result when the run records results by reference
TABLE_ROW = 9
