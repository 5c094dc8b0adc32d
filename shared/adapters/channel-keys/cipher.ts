import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'
import type { KMSClient } from '@aws-sdk/client-kms'
import { DependencyUnavailableError, errorName } from '../../domain/errors'

/**
 * Encrypts channel API keys for storage. The encryption context binds a ciphertext to its channel:
 * a ciphertext copied onto another channel's item does not decrypt. Errors name the operation, never
 * a value.
 */
export interface KeyCipher {
  encrypt(plaintext: string, context: Record<string, string>): Promise<string>
  decrypt(ciphertext: string, context: Record<string, string>): Promise<string>
}

/**
 * AWS KMS, one Encrypt per stored key and one Decrypt per read (a key is far below KMS's 4 KB limit,
 * so no data-key envelope is needed). The SDK client is loaded and built on first use.
 */
export function createKmsCipher(opts: { keyId: string; client?: KMSClient }): KeyCipher {
  let client: Promise<{ kms: KMSClient; mod: typeof import('../sdk/kms') }> | null = null
  const kms = () => {
    client ??= import('../sdk/kms').then((mod) => ({
      kms: opts.client ?? new mod.KMSClient({}),
      mod,
    }))
    return client
  }
  const failed = (what: string, e: unknown): Error =>
    new DependencyUnavailableError(`KMS ${what} failed (${errorName(e)})`, { cause: e })
  return {
    async encrypt(plaintext, context) {
      const { kms: c, mod } = await kms()
      try {
        const out = await c.send(
          new mod.EncryptCommand({
            KeyId: opts.keyId,
            Plaintext: Buffer.from(plaintext, 'utf8'),
            EncryptionContext: context,
          }),
        )
        if (!out.CiphertextBlob) throw new Error('no ciphertext')
        return Buffer.from(out.CiphertextBlob).toString('base64')
      } catch (e) {
        throw failed('Encrypt', e)
      }
    },
    async decrypt(ciphertext, context) {
      const { kms: c, mod } = await kms()
      try {
        const out = await c.send(
          new mod.DecryptCommand({
            KeyId: opts.keyId,
            CiphertextBlob: Buffer.from(ciphertext, 'base64'),
            EncryptionContext: context,
          }),
        )
        if (!out.Plaintext) throw new Error('no plaintext')
        return Buffer.from(out.Plaintext).toString('utf8')
      } catch (e) {
        throw failed('Decrypt', e)
      }
    },
  }
}

/**
 * The local stand-in for KMS: AES-256-GCM with a key derived from a local secret, the encryption
 * context as additional authenticated data. node:crypto does this in a few lines, so no library.
 */
export function createLocalCipher(secret: string): KeyCipher {
  const key = createHash('sha256').update(`partnerops-channel-keys:${secret}`).digest()
  const aad = (context: Record<string, string>): Buffer =>
    Buffer.from(
      JSON.stringify(Object.entries(context).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
      'utf8',
    )
  return {
    async encrypt(plaintext, context) {
      const iv = randomBytes(12)
      const cipher = createCipheriv('aes-256-gcm', key, iv)
      cipher.setAAD(aad(context))
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
      return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')
    },
    async decrypt(ciphertext, context) {
      try {
        const raw = Buffer.from(ciphertext, 'base64')
        const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12))
        decipher.setAAD(aad(context))
        decipher.setAuthTag(raw.subarray(12, 28))
        return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8')
      } catch (e) {
        throw new DependencyUnavailableError('local channel key decryption failed', { cause: e })
      }
    },
  }
}

/** How many decrypted keys a caching cipher keeps, and for how long (README "Channel health", cost). */
export interface DecryptCacheOptions {
  /** Most entries kept; the least recently used goes first. */
  maxEntries: number
  /** An entry is decrypted again after this long, used or not. */
  ttlMs: number
  /** The clock (tests). */
  now?: () => number
}

/**
 * A cipher that remembers what it decrypted, per container: the health job reads every live channel's
 * key once per interval, and a KMS Decrypt per check would cost $0.03 per 10,000 checks for a value
 * that rarely changes. The cache is keyed by a hash of the ciphertext and its encryption context, so
 * a new key (a rotation, a replacement: a new ciphertext) is decrypted afresh and a deleted key is
 * never read from here (the store finds no ciphertext first). Bounded in size (least recently used
 * out first) and in time (`ttlMs`), in process memory only, never logged or serialized. Encrypt passes
 * through. A Map in insertion order is the whole LRU, so no library.
 */
export function createCachingCipher(
  inner: KeyCipher,
  opts: DecryptCacheOptions,
): KeyCipher & { stats(): { hits: number; misses: number; size: number } } {
  const now = opts.now ?? Date.now
  const entries = new Map<string, { plaintext: string; expires: number }>()
  let hits = 0
  let misses = 0
  const keyOf = (ciphertext: string, context: Record<string, string>): string =>
    createHash('sha256')
      .update(JSON.stringify(Object.entries(context).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))))
      .update('\n')
      .update(ciphertext)
      .digest('base64url')
  return {
    encrypt: (plaintext, context) => inner.encrypt(plaintext, context),
    async decrypt(ciphertext, context) {
      const k = keyOf(ciphertext, context)
      const hit = entries.get(k)
      if (hit && hit.expires > now()) {
        hits += 1
        // Most recently used last: Map keeps insertion order.
        entries.delete(k)
        entries.set(k, hit)
        return hit.plaintext
      }
      misses += 1
      if (hit) entries.delete(k)
      const plaintext = await inner.decrypt(ciphertext, context)
      entries.set(k, { plaintext, expires: now() + opts.ttlMs })
      while (entries.size > Math.max(0, opts.maxEntries)) {
        const oldest = entries.keys().next()
        if (oldest.done) break
        entries.delete(oldest.value)
      }
      return plaintext
    },
    stats: () => ({ hits, misses, size: entries.size }),
  }
}
