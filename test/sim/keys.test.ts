import ssh2 from 'ssh2'
import { expect, it } from 'vitest'
import { generateEd25519 } from '../../src/sim/keys.js'

it('every generated ed25519 pair is readable by ssh2 (its generator drops a leading zero byte about once in 256 keys)', () => {
  // 1,000 pairs: without the check in generateEd25519, a malformed one appears with ~98 % probability.
  for (let i = 0; i < 1000; i++) {
    const pair = generateEd25519('t')
    expect(ssh2.utils.parseKey(pair.public)).not.toBeInstanceOf(Error)
    expect(ssh2.utils.parseKey(pair.private)).not.toBeInstanceOf(Error)
  }
})
