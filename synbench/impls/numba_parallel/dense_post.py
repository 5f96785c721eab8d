"""dense_post on Numba, threaded: the serial kernel's dense mat-vec (BLAS), the decay
split over the threads.

``deliver`` is the Numba backend's own: one BLAS gemv (``np.dot``), which runs on BLAS's
threads where BLAS has them. A plain parallel loop would sum each column in another
order than BLAS does, and so differ from the serial kernel in the last bits.
"""

from ..numba import post_is_state
from ..numba.dense import prepare
from ..numba.dense_post import deliver
from . import calls, decayed, register


@calls
def step(data, g, spikes, decay):
    """``state *= decay`` (:func:`decayed`, parallel), then the serial ``deliver`` (BLAS).

    Needs ``conn_mat`` (as a weight matrix). Cost per step: O(n_pre * n_post), whatever
    the firing rate, on BLAS's threads; O(n_post) for the decay, split over the threads.
    """
    return deliver(data, decayed(g, decay), spikes)


register("dense_post", prepare=prepare, deliver=deliver, conductance=post_is_state, step=step)
