/** The `--help` epilog of commands that talk to Proxmox: how the target is chosen. */
export const TARGET_HELP = `
Target (first match wins):
  1. a Cluster manifest among the -f inputs
  2. the environment: PROXIMITY_ENDPOINT with PROXIMITY_TOKEN_ID + PROXIMITY_TOKEN_SECRET
     (or PROXIMITY_USERNAME + PROXIMITY_PASSWORD), pinned by PROXIMITY_FINGERPRINT or
     PROXIMITY_CA_FILE (PROXIMITY_INSECURE=1 skips the check); node shells through
     PROXIMITY_SSH_HOST, PROXIMITY_SSH_PORT, PROXIMITY_SSH_USER, PROXIMITY_SSH_KEY_FILE,
     PROXIMITY_SSH_HOST_KEY; PROXIMITY_OWNER names this installation (default "proximity")
  3. the built-in sandbox, a simulated Proxmox kept in <state-dir>/sandbox
Secret key: PROXIMITY_KEY_FILE, else .proximity/secret.key (created in the state dir on first use).
`
