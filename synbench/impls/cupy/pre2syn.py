"""pre2syn on CuPy: padded per-neuron synapse lists (cuda/pre2syn.cu)."""

import numpy as np

from . import events_array, i64, index_array, kernel_data, launch, out_array, register


def pad_lists(lists, pad: int) -> np.ndarray:
    """Ragged int lists as a (len(lists), max length) array filled with ``pad``."""
    lengths = np.fromiter((len(x) for x in lists), dtype=np.int64, count=len(lists))
    width = int(lengths.max(initial=0))
    out = np.full((len(lists), width), pad, dtype=np.int64)
    if lengths.sum():
        rows = np.repeat(np.arange(len(lists)), lengths)
        cols = np.arange(rows.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        out[rows, cols] = np.concatenate([np.asarray(x) for x in lists])
    return out


def prepare(conn, weight, dtype):
    pre2syn, post2syn = conn.require("pre2syn", "post2syn")
    pre2syn, post2syn = pad_lists(pre2syn, conn.n_syn), pad_lists(post2syn, conn.n_syn)
    return kernel_data(conn, weight, dtype, pre2syn=index_array(pre2syn),
                       post2syn=index_array(post2syn))


def update(data, g, events, decay):
    """Every synapse decays; those of pre neurons with an event add weight times event.

    Needs ``pre2syn`` [n_pre, max fan-out] and ``post2syn`` [n_post, max fan-in],
    synapse indices padded with n_syn; ``g`` is [n_syn]; weight shared or [n_syn]. Each
    synapse is in exactly one pre list, so one thread per list entry updates it: no
    atomics, and no separate pass for the decay.
    """
    events = events_array(events, data)
    width = data.pre2syn.shape[1]
    if data.n_syn:
        launch("pre2syn.cu", "pre2syn_update", data.n_pre * width, g, data.pre2syn, i64(width),
               data.w, data.w_stride, events, data.dtype.type(decay), i64(data.n_pre),
               i64(data.n_syn), dtype=data.dtype, events=events.dtype)
    return g




def conductance(data, g, out=None):
    """Each post neuron sums the synapses of its padded list, one thread each."""
    out = out_array(data, out)
    launch("pre2syn.cu", "pre2syn_conductance", data.n_post, out, g, data.post2syn,
           i64(data.post2syn.shape[1]), i64(data.n_post), i64(data.n_syn), dtype=data.dtype)
    return out


def record(data):
    return {"rows": data.pre2syn, "width": data.pre2syn.shape[1],
            "cols": data.post2syn, "col_width": data.post2syn.shape[1]}


# The network step updates the lists (a thread per entry), then sums each post's list
# (a warp per post neuron).
register("pre2syn", prepare=prepare, update=update, conductance=conductance,
         reads="READ", cuda="pre2syn.cu", functor="Pre2Syn",
         launches=("network_items", "network_post_sums"),
         items=lambda data: data.n_pre * data.pre2syn.shape[1], record=record)
