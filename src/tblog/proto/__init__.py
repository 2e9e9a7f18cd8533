"""Generated protobuf bindings of TensorBoard's wire format (package ``tblog``).

Regenerate with ``python scripts/gen_protos.py``; never edit the ``*_pb2.py`` files.
"""
