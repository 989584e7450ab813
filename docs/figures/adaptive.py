"""The picture on docs/guide/logging.md: ``report(f).plot()`` of a real run,
drawn when the documentation is built (``make docs``)."""

import sys

import matplotlib

matplotlib.use("Agg")  # no window: the picture goes to a file

import numpy as np  # noqa: E402

from smart_jit import jit, policies, report  # noqa: E402


@jit(use_jit=policies.adaptive())
def total(a):
    s = 0.0
    for x in a:
        s += x
    return s


many, few = np.ones(100), np.ones(100, dtype=np.float32)
for _ in range(30_000):  # called often: interpreted until that cost a compile, then compiled
    total(many)
for _ in range(200):  # called rarely: never worth a compile
    total(few)

print(report(total))
report(total).plot().savefig(sys.argv[1] if len(sys.argv) > 1 else "adaptive.png", dpi=96)
