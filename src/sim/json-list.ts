/**
 * Builds a JSON array straight into one Buffer from pre-encoded item fragments (hot list routes:
 * `/cluster/resources` over thousands of guests). Items are added as whole fragments or as
 * `pre + <unsigned integer> + post` (a clock-dependent number spliced into a cached fragment);
 * `toBuffer()` sizes the result once and copies, so no per-request string joins, flattening or
 * re-encoding of a large response.
 */
export class JsonListBuffer {
  private readonly parts: Buffer[] = []
  /** For each item: -1 for a whole fragment, else the integer spliced between two parts. */
  private readonly numbers: number[] = []
  private length = 2

  /** Adds an item already serialised as (UTF-8) JSON. */
  add(item: Buffer): void {
    if (this.numbers.length > 0) this.length++
    this.parts.push(item)
    this.numbers.push(-1)
    this.length += item.length
  }

  /** Adds an item `pre` + `n` (a non-negative safe integer) + `post`. */
  addSpliced(pre: Buffer, n: number, post: Buffer): void {
    if (this.numbers.length > 0) this.length++
    this.parts.push(pre, post)
    this.numbers.push(n)
    this.length += pre.length + post.length + digits(n)
  }

  /** The `[item,item,…]` array. */
  toBuffer(): Buffer {
    const out = Buffer.allocUnsafe(this.length)
    let pos = 0
    out[pos++] = 0x5b
    let p = 0
    for (let i = 0; i < this.numbers.length; i++) {
      if (i > 0) out[pos++] = 0x2c
      const n = this.numbers[i] as number
      const first = this.parts[p++] as Buffer
      pos += first.copy(out, pos)
      if (n >= 0) {
        pos = writeUint(out, pos, n)
        pos += (this.parts[p++] as Buffer).copy(out, pos)
      }
    }
    out[pos++] = 0x5d
    return out
  }
}

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
