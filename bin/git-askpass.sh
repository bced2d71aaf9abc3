#!/bin/sh
# GIT_ASKPASS helper for Proximity's git source: answers git's username and password prompts
# from the environment of the git process, so a token never appears in process arguments.
case "$1" in
  Username*) printf '%s\n' "${PROXIMITY_GIT_USERNAME:-git}" ;;
  *) printf '%s\n' "${PROXIMITY_GIT_PASSWORD:-}" ;;
esac
