/**
 * Who an owned LXC guest belongs to (DESIGN §3), parameterised by kind: from a kind and an object
 * name come the store key (`App/web`), the marker written into the description, the Proxmox tags,
 * and the label used in messages and audit reasons (`App web`). Pure.
 */
import { encodeMarker, isOwned, MANAGED_TAG, type GuestMarker } from '../../src/model/marker.js'
import type { Kind } from '../../src/model/types.js'

/** A kind whose objects are LXC guests (App, Appliance). */
export interface GuestKind {
  kind: Kind
  /** The kind's own Proxmox tag, besides `proximity` (App: `app`, Appliance: `appliance`). */
  tag: string
}

/** The identity of one object's guest. */
export interface GuestIdentity {
  kind: Kind
  /** The kind's own tag (see GuestKind.tag). */
  tag: string
  name: string
  /** Store and queue key, `Kind/name`. */
  key: string
  /** For messages: `App web`. */
  label: string
  /** The `tags` config value: the kind's tag and `proximity`, sorted, `;`-separated. */
  tags: string
  /** The description: the marker line (with `specHash`), then one human line. */
  description(owner: string, specHash: string): string
  /** True when `marker` is ours (owner) and names this kind and name. */
  owns(marker: GuestMarker | undefined, owner: string): boolean
}

/** Builds the identity of `name`'s guest for a guest kind. */
export function guestIdentity(k: GuestKind, name: string): GuestIdentity {
  const key = `${k.kind}/${name}`
  return {
    kind: k.kind,
    tag: k.tag,
    name,
    key,
    label: `${k.kind} ${name}`,
    tags: [k.tag, MANAGED_TAG].sort().join(';'),
    description: (owner, specHash) =>
      `${encodeMarker({ kind: k.kind, name, owner, specHash })}\nmanaged by proximity (${key}); change the manifest, not this guest`,
    owns: (marker, owner) => isOwned(marker, owner) && marker.kind === k.kind && marker.name === name,
  }
}
