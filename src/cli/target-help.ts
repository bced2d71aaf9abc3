/** The `--help` epilog of commands that talk to Proxmox: how the target is chosen (80 columns). */
export const TARGET_HELP = `
Target (first match wins):
  1. a Cluster manifest among the -f inputs
  2. the environment: PROXIMITY_ENDPOINT with PROXIMITY_TOKEN_ID and
     PROXIMITY_TOKEN_SECRET (or PROXIMITY_USERNAME + PROXIMITY_PASSWORD), pinned
     by PROXIMITY_FINGERPRINT or PROXIMITY_CA_FILE (PROXIMITY_INSECURE=1 skips
     the check); node shells through PROXIMITY_SSH_HOST, PROXIMITY_SSH_PORT,
     PROXIMITY_SSH_USER, PROXIMITY_SSH_KEY_FILE, PROXIMITY_SSH_HOST_KEY;
     PROXIMITY_OWNER names this installation (default "proximity")
  3. the built-in sandbox, a simulated Proxmox kept in its state folder
Secret key: PROXIMITY_KEY_FILE, else ~/.config/proximity/secret.key
($XDG_CONFIG_HOME/proximity when set), created on first use; commands find it
from any folder.`

/** The `--help` epilog of commands that keep state: where it lives (lines fit 80 columns). */
export const STATE_HELP = `
State (store, audit log, sandbox) lives in the per-user state directory, one
folder per target: ~/.local/state/proximity/<target> ($XDG_STATE_HOME when set),
where <target> is "sandbox" or <owner>-<host>-<port>-<hash>. --state-dir or
PROXIMITY_STATE_DIR chooses another folder (the flag wins). A ./.proximity left
by older versions is still used, with a notice saying how to move it.
`
