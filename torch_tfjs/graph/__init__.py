"""GraphModel importer: tfjs graph models (converted TF GraphDefs) → ``torch.fx`` graphs.

:mod:`.importer` walks the graph into fx; :mod:`.model` is the runtime (:class:`GraphModel`,
its signature, loading); :mod:`.ops` holds one emitter module per tfjs op-list category,
registered in :mod:`.registry`; :mod:`.node` is the interface emitters see.
"""

from .importer import GraphImporter
from .model import GraphModel, build_graph_model, load_graph_model
from .node import OpNode
from .registry import TFJS_OPS, get_op, register_op, supported_ops

__all__ = ["GraphImporter", "GraphModel", "OpNode", "TFJS_OPS", "build_graph_model", "get_op",
           "load_graph_model", "register_op", "supported_ops"]
