import { createHmac, timingSafeEqual } from 'node:crypto'
import { ValidationError } from '../../domain/errors'

/** A DynamoDB key of string attributes (every PartnerOps key is a string). */
export type StringKey = Record<string, string>

const MAX_CURSOR_LENGTH = 4096

function invalid(reason: string): ValidationError {
  return new ValidationError(`Invalid cursor: ${reason}; start again without a cursor`, {
    code: 'invalid_cursor',
  })
}

function sign(secret: string, binding: string, payload: string): Buffer {
  return createHmac('sha256', secret).update(binding).update('\n').update(payload).digest()
}

/**
 * Opaque pagination cursors: `base64url(JSON key).base64url(HMAC)`, the HMAC covering the query the
 * cursor belongs to (`binding`: table, index and filter), so a cursor cannot be forged, altered or
 * replayed against another query.
 */
export class CursorCodec {
  constructor(private readonly secret: string) {}

  /** Encodes the exclusive start key of the next page of the query described by `binding`. */
  encode(binding: string, key: StringKey): string {
    const payload = Buffer.from(JSON.stringify(key), 'utf8').toString('base64url')
    return `${payload}.${sign(this.secret, binding, payload).toString('base64url')}`
  }

  /** Decodes a cursor of the query `binding` whose key has exactly `keyNames`; ValidationError otherwise. */
  decode(binding: string, cursor: string, keyNames: readonly string[]): StringKey {
    if (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > MAX_CURSOR_LENGTH)
      throw invalid('malformed')
    const parts = cursor.split('.')
    const [payload, mac] = parts
    if (
      parts.length !== 2 ||
      !payload ||
      !mac ||
      !/^[A-Za-z0-9_-]+$/.test(payload) ||
      !/^[A-Za-z0-9_-]+$/.test(mac)
    ) {
      throw invalid('malformed')
    }
    const expected = sign(this.secret, binding, payload)
    const given = Buffer.from(mac, 'base64url')
    // Non-canonical base64url (changed padding bits) decodes to the same bytes: refuse it as altered.
    if (
      given.length !== expected.length ||
      given.toString('base64url') !== mac ||
      !timingSafeEqual(given, expected)
    ) {
      throw invalid('not issued for this query or altered')
    }
    let key: unknown
    try {
      key = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))
    } catch {
      throw invalid('malformed')
    }
    if (typeof key !== 'object' || key === null || Array.isArray(key)) throw invalid('malformed')
    const entries = Object.entries(key)
    if (
      entries.length !== keyNames.length ||
      !keyNames.every((n) => typeof (key as StringKey)[n] === 'string')
    ) {
      throw invalid('malformed')
    }
    return key as StringKey
  }
}
