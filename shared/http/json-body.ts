import type * as z from 'zod/mini'
import { ValidationError } from '../domain/errors'

/** Largest accepted JSON body of a management call; every valid body is far smaller. */
export const MAX_JSON_BODY_BYTES = 8192

/** How one route words its body errors. */
export interface JsonBodyRules {
  /** Message when the body is empty; absent = an empty body parses as `{}`. */
  requiredMessage?: string
  /** Message for an unknown field, e.g. 'Only the field reason is accepted'. */
  unknownFieldsMessage: string
  /** Message when the body is not a JSON object, naming an example. */
  shapeMessage: string
}

/**
 * Parses a strict JSON object body with a zod schema, checking the size before parsing. Every
 * failure is a ValidationError with code `invalid_body` and a message that names the field, never
 * echoing the body itself.
 */
export function parseJsonBody<S extends z.ZodMiniType>(
  raw: string | null,
  schema: S,
  rules: JsonBodyRules,
): z.infer<S> {
  const fail = (message: string): never => {
    throw new ValidationError(message, { code: 'invalid_body' })
  }
  const empty = raw === null || raw.trim() === ''
  if (empty && rules.requiredMessage !== undefined) fail(rules.requiredMessage)
  const text = empty ? '{}' : (raw as string)
  if (Buffer.byteLength(text, 'utf8') > MAX_JSON_BODY_BYTES) fail('The body is too large')
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    fail('The body is not valid JSON')
  }
  const parsed = schema.safeParse(json)
  if (parsed.success) return parsed.data
  const issue = parsed.error.issues[0]
  const isObject = typeof json === 'object' && json !== null && !Array.isArray(json)
  return fail(
    issue?.code === 'unrecognized_keys'
      ? rules.unknownFieldsMessage
      : issue?.path.length
        ? `Invalid ${issue.path.join('.')}: ${issue.message}`
        : isObject && issue
          ? issue.message
          : rules.shapeMessage,
  )
}
