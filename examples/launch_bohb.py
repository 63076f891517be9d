"""Run BOHB on a benchmark in simulated time.

python examples/launch_bohb.py --benchmark sklearn-mlp-digits --n-workers 4 --max-wallclock-time 3600 --seed 0
"""

import sys

from launcher_common import main

if __name__ == "__main__":
    sys.exit(main("BOHB"))
