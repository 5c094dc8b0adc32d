import { describe, expect, it } from 'vitest'
import {
  createCachingCipher,
  createLocalCipher,
  type KeyCipher,
} from '../../../shared/adapters/channel-keys/cipher'

/** The local AES cipher, counting the decrypts that reach it (what KMS would bill). */
function counted(): KeyCipher & { decrypts: number } {
  const inner = createLocalCipher('test-secret')
  const c = {
    decrypts: 0,
    encrypt: inner.encrypt,
    async decrypt(ciphertext: string, context: Record<string, string>) {
      c.decrypts += 1
      return inner.decrypt(ciphertext, context)
    },
  }
  return c
}

const ctx = (channelId: string) => ({ purpose: 'partnerops-channel-key', channelId })

describe('local channel key cipher', () => {
  it('round-trips, and refuses a ciphertext moved to another channel (the encryption context)', async () => {
    const c = createLocalCipher('test-secret')
    const sealed = await c.encrypt('key-value-1', ctx('A'))
    expect(sealed).not.toContain('key-value-1')
    expect(await c.decrypt(sealed, ctx('A'))).toBe('key-value-1')
    await expect(c.decrypt(sealed, ctx('B'))).rejects.toThrow('local channel key decryption failed')
  })
})

describe('the health job decrypt cache', () => {
  it('decrypts a key once while its ciphertext is unchanged, and a new ciphertext afresh', async () => {
    const inner = counted()
    const c = createCachingCipher(inner, { maxEntries: 10, ttlMs: 60_000 })
    const first = await c.encrypt('key-1', ctx('A'))
    for (let i = 0; i < 5; i++) expect(await c.decrypt(first, ctx('A'))).toBe('key-1')
    expect(inner.decrypts).toBe(1)
    // A rotation or a replacement stores a new ciphertext: never answered from the old entry.
    const second = await c.encrypt('key-2', ctx('A'))
    expect(await c.decrypt(second, ctx('A'))).toBe('key-2')
    expect(inner.decrypts).toBe(2)
    // The context is part of the entry: the same ciphertext under another channel is not a hit.
    await expect(c.decrypt(second, ctx('B'))).rejects.toThrow()
    expect(c.stats()).toMatchObject({ hits: 4, misses: 3, size: 2 })
    // The stats name counts only, never a value.
    expect(JSON.stringify(c.stats())).not.toContain('key-')
  })

  it('decrypts again after the TTL, and keeps at most maxEntries (least recently used out)', async () => {
    let t = 0
    const inner = counted()
    const c = createCachingCipher(inner, { maxEntries: 2, ttlMs: 1000, now: () => t })
    const sealed = await Promise.all(['A', 'B', 'C'].map((id) => c.encrypt(`key-${id}`, ctx(id))))
    const [a, b, cc] = sealed as [string, string, string]
    await c.decrypt(a, ctx('A'))
    await c.decrypt(b, ctx('B'))
    await c.decrypt(a, ctx('A')) // A used last: B is the oldest now
    await c.decrypt(cc, ctx('C')) // evicts B
    expect(c.stats().size).toBe(2)
    expect(inner.decrypts).toBe(3)
    await c.decrypt(a, ctx('A'))
    expect(inner.decrypts).toBe(3)
    await c.decrypt(b, ctx('B'))
    expect(inner.decrypts).toBe(4)
    t += 1001
    await c.decrypt(b, ctx('B'))
    expect(inner.decrypts).toBe(5)
  })
})
