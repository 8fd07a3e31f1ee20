"""Imports a module that only its layer (mounted at /opt, python/ on sys.path) provides."""
import layermod


def handler(event, context):
    return {"from_layer": layermod.VALUE}
