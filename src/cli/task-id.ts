/**
 * Proxmox task ids (UPIDs) as people read them: `vzcreate 105` (task type and guest id) instead of
 * `UPID:pve:0001A2B3:00C0FFEE:65B8F2A1:vzcreate:105:root@pam!proximity:`. The full UPID stays in
 * the audit log and is shown with `-v`. Pure.
 */

/** A UPID inside text: `UPID:<node>:<pid>:<pstart>:<starttime>:<type>:<id>:<user>:` (PVE's encoding). */
const UPID = /UPID:[A-Za-z0-9][A-Za-z0-9-]*:[0-9A-Fa-f]{8}:[0-9A-Fa-f]{8,9}:[0-9A-Fa-f]{8}:([^:\s/]+):([^:\s/]*):[^:\s/]+:/g

/** `vzcreate 105` for a UPID (`vzdump` when the task names no guest); the input when it is not one. */
export function shortTaskId(upid: string): string {
  const m = new RegExp(`^${UPID.source}$`).exec(upid)
  return m ? `${m[1]}${m[2] ? ` ${m[2]}` : ''}` : upid
}

/**
 * Replaces every UPID in `text` with its short form; with `verbose` the full UPID follows in
 * parentheses (`vzcreate 105 (UPID:…)`).
 */
export function shortenTaskIds(text: string, verbose = false): string {
  return text.replace(UPID, (full: string, type: string, id: string) => {
    const short = `${type}${id ? ` ${id}` : ''}`
    return verbose ? `${short} (${full})` : short
  })
}

/** The UPIDs in `text`, in order. */
export function taskIdsIn(text: string): string[] {
  return [...text.matchAll(UPID)].map((m) => m[0])
}
