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
