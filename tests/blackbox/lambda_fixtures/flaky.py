"""Fails every time; async tests count the attempts through the destination record."""


def handler(event, context):
    raise RuntimeError("always failing")
