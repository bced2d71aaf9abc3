/**
 * Builds a JSON array straight into one Buffer from pre-encoded item fragments (hot list routes:
 * `/cluster/resources` over thousands of guests). Items are whole fragments, or
 * `pre + <unsigned integer> + post` where the integer is fixed or an uptime (whole seconds since
 * a start time, evaluated at `toBuffer(now)`), so a list can be cached and re-rendered per
 * request with the clock-dependent numbers moved on. `toBuffer()` sizes the result once and
 * copies: no per-request string joins, flattening or re-encoding of a large response.
 */
export class JsonListBuffer {
  private readonly parts: Buffer[] = []
  /** Per item: WHOLE, FIXED (value is the number) or UPTIME (value is the start time in ms). */
  private readonly kinds: number[] = []
  private readonly values: number[] = []

  /** Number of items. */
  get size(): number {
    return this.kinds.length
  }

  /** Adds an item already serialised as (UTF-8) JSON. */
  add(item: Buffer): void {
    this.parts.push(item)
    this.kinds.push(WHOLE)
    this.values.push(0)
  }

  /** Adds an item `pre` + `n` (a non-negative safe integer) + `post`. */
  addSpliced(pre: Buffer, n: number, post: Buffer): void {
    this.parts.push(pre, post)
    this.kinds.push(FIXED)
    this.values.push(n)
  }

  /** Adds an item `pre` + `max(0, floor((now - startedAt) / 1000))` + `post`, `now` given at render. */
  addUptime(pre: Buffer, startedAt: number, post: Buffer): void {
    this.parts.push(pre, post)
    this.kinds.push(UPTIME)
    this.values.push(startedAt)
  }

  /**
   * The array as chunks to write in order: `[`, the items (rendered at `now`, then reused until
   * an uptime in it would change), then the `extra` items and `]`. Avoids copying the (large,
   * mostly unchanged) item bytes per request.
   */
  toChunks(now = 0, extra: readonly Buffer[] = []): Buffer[] {
    if (this.kinds.length === 0) return [this.toBuffer(now, extra)]
    if (!this.rendered || now < this.renderedFrom || now >= this.renderedUntil) {
      let until = Number.POSITIVE_INFINITY
      for (let i = 0; i < this.kinds.length; i++) {
        if (this.kinds[i] !== UPTIME) continue
        const start = this.values[i] as number
        until = Math.min(until, start + (Math.max(0, Math.floor((now - start) / 1000)) + 1) * 1000)
      }
      const all = this.toBuffer(now)
      this.rendered = all.subarray(1, all.length - 1)
      this.renderedFrom = now
      this.renderedUntil = until
    }
    const tail: Buffer[] = []
    for (const b of extra) tail.push(COMMA, b)
    tail.push(CLOSE)
    return [OPEN, this.rendered, Buffer.concat(tail)]
  }

  private rendered: Buffer | undefined
  private renderedFrom = 0
  private renderedUntil = 0

  /** The `[item,item,…]` array (then `extra` items), uptimes taken at `now`. */
  toBuffer(now = 0, extra: readonly Buffer[] = []): Buffer {
    const n = this.kinds.length
    const numbers = new Array<number>(n)
    let length = 2 + Math.max(0, n + extra.length - 1)
    for (const b of this.parts) length += b.length
    for (const b of extra) length += b.length
    for (let i = 0; i < n; i++) {
      const kind = this.kinds[i]
      if (kind === WHOLE) continue
      const v = this.values[i] as number
      const x = kind === FIXED ? v : Math.max(0, Math.floor((now - v) / 1000))
      numbers[i] = x
      length += digits(x)
    }
    const out = Buffer.allocUnsafe(length)
    let pos = 0
    out[pos++] = 0x5b
    let p = 0
    for (let i = 0; i < n; i++) {
      if (i > 0) out[pos++] = 0x2c
      pos += (this.parts[p++] as Buffer).copy(out, pos)
      if (this.kinds[i] !== WHOLE) {
        pos = writeUint(out, pos, numbers[i] as number)
        pos += (this.parts[p++] as Buffer).copy(out, pos)
      }
    }
    for (let i = 0; i < extra.length; i++) {
      if (n + i > 0) out[pos++] = 0x2c
      pos += (extra[i] as Buffer).copy(out, pos)
    }
    out[pos++] = 0x5d
    return out
  }
}

const OPEN = Buffer.from('[')
const COMMA = Buffer.from(',')
const CLOSE = Buffer.from(']')
const WHOLE = 0
const FIXED = 1
const UPTIME = 2

/** Decimal digits of a non-negative integer. */
function digits(n: number): number {
  let len = 1
  for (let x = n; x >= 10; x = Math.floor(x / 10)) len++
  return len
}

/** Writes a non-negative integer in decimal at `pos`; returns the position after it. */
function writeUint(buf: Buffer, pos: number, n: number): number {
  const end = pos + digits(n)
  let x = n
  for (let i = end - 1; i >= pos; i--) {
    buf[i] = 0x30 + (x % 10)
    x = Math.floor(x / 10)
  }
  return end
}
