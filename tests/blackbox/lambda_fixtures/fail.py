"""Always fails: the runtime reports the exception as an Unhandled function error."""


class BoomError(Exception):
    pass


def handler(event, context):
    print("about to fail")
    raise BoomError("boom: " + str(event.get("n", "")))
