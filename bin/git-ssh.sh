#!/bin/sh
# GIT_SSH wrapper for Proximity's git source: runs ssh with the configured key and a pinned
# known_hosts file, taken from the environment (never from shell text built out of input).
set -eu
if [ -n "${PROXIMITY_GIT_SSH_KEY:-}" ]; then
  exec ssh -o BatchMode=yes -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes \
    -o "UserKnownHostsFile=${PROXIMITY_GIT_KNOWN_HOSTS:-/dev/null}" -i "$PROXIMITY_GIT_SSH_KEY" "$@"
fi
exec ssh -o BatchMode=yes -o StrictHostKeyChecking=yes -o "UserKnownHostsFile=${PROXIMITY_GIT_KNOWN_HOSTS:-/dev/null}" "$@"
