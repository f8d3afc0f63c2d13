"""The export graph: a TransformNet rewritten into the form the mobile runtimes run fastest.

``export_graph(net)`` returns a module with the same outputs (parity-checked) that every exporter
converts. Identity until the benchmark work settles a faster form.
"""

from __future__ import annotations

from torch import nn

from mobilestyle.transformer import TransformNet


def export_graph(net: TransformNet) -> nn.Module:
    return net.eval()
