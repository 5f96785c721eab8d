"""Connectors and the :class:`Connectivity` they build (DESIGN section 2).

A connector (``FixedProb(0.02, seed=0)``, ``GridFour()``, ``IJConn(i, j)``, ...) says
*which* synapses exist; ``connector.build(pre_size, post_size)`` returns a
:class:`Connectivity`, whose canonical form is COO sorted by (pre, post) and which
derives every structure of ``STRUCTURES`` on request:

>>> from synbench.core.connect import FixedProb
>>> conn = FixedProb(0.1, seed=0).build(100, 50)
>>> pre_slice, post_ids = conn.require("pre_slice", "post_ids")

Layout: ``structures`` (the vocabulary, the converters and Connectivity), ``base``
(the Connector base class and shared checks), and one module per connector family:
``regular_conn``, ``random_conn``, ``custom_conn``, ``skewed_conn`` (small-world, scale-free
and weighted grid connectors). A new connector subclasses
:class:`Connector` and implements ``build_coo`` only.
"""

from .base import Connector
from .custom_conn import IJConn, MatConn
from .random_conn import FixedPostNum, FixedPreNum, FixedProb, GaussianProb
from .regular_conn import All2All, GridEight, GridFour, GridN, One2One
from .skewed_conn import DOG, GaussianWeight, PowerLaw, ScaleFreeBA, ScaleFreeBADual, SmallWorld
from .structures import (
    CONN_MAT,
    CONVERTERS,
    CSC,
    CSR,
    ELL,
    POST2PRE,
    POST2SYN,
    POST_IDS,
    POST_ORDER,
    POST_SLICE,
    PRE2POST,
    PRE2SYN,
    PRE_IDS,
    PRE_SLICE,
    STRUCTURES,
    Connectivity,
    as_size,
    available_memory,
    index_dtype,
)

__all__ = [
    "CONN_MAT", "CONVERTERS", "CSC", "CSR", "ELL", "POST2PRE", "POST2SYN", "POST_IDS",
    "POST_ORDER", "POST_SLICE", "PRE2POST", "PRE2SYN", "PRE_IDS", "PRE_SLICE", "STRUCTURES",
    "DOG", "All2All", "Connectivity", "Connector", "FixedPostNum", "FixedPreNum", "FixedProb",
    "GaussianProb", "GaussianWeight", "GridEight", "GridFour", "GridN", "IJConn", "MatConn",
    "One2One", "PowerLaw", "ScaleFreeBA", "ScaleFreeBADual", "SmallWorld",
    "as_size", "available_memory", "index_dtype",
]
