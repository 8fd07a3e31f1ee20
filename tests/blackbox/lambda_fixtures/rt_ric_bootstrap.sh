#!/bin/sh
# provided.al2023 bootstrap: AWS's runtime interface client, pip-installed into the
# package next to the handler, run by the host's system Python (the sandbox binds /usr).
# As on AWS, the working directory is /var/task, so `-m` finds the packaged module.
exec /usr/bin/python3 -m awslambdaric "$_HANDLER"
