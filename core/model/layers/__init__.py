"""CG-MuAlign's layers, one per file as in DGL's ``nn/pytorch/conv/``, each opening with its equations.

The equations, numbered once here and cited by number in every layer (DESIGN.md section 2 states
them in words; h_j^k is node j's representation after layer k, N_i the sampled neighbours of i,
each reached through a relation r; both directions of a relation count, an inverse relation has
its own index):

    (1) z_ij  = W_r h_j^{k-1}                  j in N_i        message: one matrix per relation
    (2) s_i   = W_self h_i^{k-1}                               self term (one matrix per type at layer 1)
    (3) h_i^k = sigma([s_i || z_i])                            update: self half || neighbourhood half
    (4) z_i   = mean_{j in N_i} z_ij                           lower layers (AverageAgg)
    (5) alpha_ip = S_p / sum_{p' in N_i} S_p',  S_p = sum_{q in N_i'} exp(-||z_ip - z_i'q||)
                                                               cross-graph attention (top layer)
    (6) beta_ij  = softmax_{j in N_i} LeakyReLU(a_r^T [s_i || z_ij])
                                                               relation-aware self-attention (top layer)
    (7) w_ij  = alpha_ij beta_ij / sum_{j in N_i} alpha_ij beta_ij    combine (top layer)
    (8) z_i   = sum_{j in N_i} w_ij z_ij                       aggregate (top layer)

and symmetrically for the other side i' of a pair. Files:

- :mod:`~core.model.layers.typed_linear`: :class:`TypedLinear`, Eqs. (1) and (2): one matrix per
  relation or per entity type (DGL's ``TypedLinear``).
- :mod:`~core.model.layers.average_agg`: :class:`AverageAggLayer`, Eqs. (1)-(4), the lower layers.
- :mod:`~core.model.layers.collective_agg`: :class:`CollectiveAggLayer`, Eqs. (1)-(3) and (5)-(8),
  the top layer, conditioned on the candidate pair; its attention record :class:`SideAttention`.

Layer 0 (h^0 from names and attributes) is :mod:`core.model.inputs`; the encoder that stacks the
layers is :mod:`core.model.cg_mualign`.
"""

from core.model.layers.average_agg import AverageAggLayer
from core.model.layers.collective_agg import CollectiveAggLayer, PairSide, SideAttention, SideMessages, SideOutput
from core.model.layers.typed_linear import TypedLinear

__all__ = ["AverageAggLayer", "CollectiveAggLayer", "PairSide", "SideAttention", "SideMessages", "SideOutput",
           "TypedLinear"]
