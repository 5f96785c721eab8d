"""synbench: interchangeable synaptic-propagation kernels for spiking networks.

>>> import synbench
>>> spec = synbench.coba(1000)
>>> result = synbench.run(spec, "pre_slice", "numba", duration=100.0)  # doctest: +SKIP

Importing synbench loads neither JAX nor CuPy; each backend is imported when first used.
"""

from ._version import __version__
from .compare import compare
from .core import connect, registry, strategies, synapses
from .core.connect import (
    DOG,
    All2All,
    Connectivity,
    FixedPostNum,
    FixedPreNum,
    FixedProb,
    GaussianProb,
    GaussianWeight,
    GridEight,
    GridFour,
    GridN,
    IJConn,
    MatConn,
    One2One,
    PowerLaw,
    ScaleFreeBA,
    ScaleFreeBADual,
    SmallWorld,
)
from .core.errors import SynbenchError, SynbenchWarning
from .core.integrators import odeint
from .core.networks import (
    NetworkSpec,
    PoissonSource,
    SpikeTimes,
    coba,
    cobahh,
    cuba,
    driven,
    network,
    with_connector,
)
from .core.registry import KERNEL_API_VERSION
from .fastest import clear_fastest_cache, fastest
from .run import Monitor, RunResult, run

__all__ = [
    "KERNEL_API_VERSION", "DOG", "All2All", "Connectivity", "FixedPostNum", "FixedPreNum",
    "FixedProb", "GaussianProb", "GaussianWeight", "GridEight", "GridFour", "GridN", "IJConn",
    "MatConn", "NetworkSpec", "Monitor", "One2One", "PoissonSource", "PowerLaw", "RunResult",
    "ScaleFreeBA", "ScaleFreeBADual", "SmallWorld", "SpikeTimes", "SynbenchError",
    "SynbenchWarning", "coba", "cobahh", "compare", "cuba", "driven",
    "connect", "network", "odeint", "registry", "run", "fastest", "clear_fastest_cache",
    "with_connector",
    "strategies", "synapses",
    "__version__",
]
