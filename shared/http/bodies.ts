import * as z from 'zod/mini'
import { MAX_REDIRECT_URL_LENGTH } from '../services/onboarding/create-onboarding-link'
import '../domain/zod-locale'
import { parseJsonBody } from './json-body'

/**
 * The JSON bodies of the management writes, validated at the edge before any service runs. Schemas
 * are built on first parse (z.lazy), not at import: it keeps them out of every cold start.
 */

/** Longest accepted cancellation `reason`, in characters (docs/openapi.yaml). */
export const MAX_REASON_CHARS = 500

// C0 controls and DEL: never useful in an identifier and troublesome in logs, CSV and URLs.
function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x20 || c === 0x7f) return true
  }
  return false
}

/** The partner payload rule shared by links and client settings: 1–255 characters, no controls. */
export const partnerPayloadSchema = z.lazy(() =>
  z.string().check(
    z.minLength(1, 'must be 1 to 255 characters'),
    z.maxLength(255, 'must be 1 to 255 characters'),
    z.refine((s) => !hasControl(s), 'must not contain control characters'),
  ),
)

const cancellationSchema = z.lazy(() =>
  z.strictObject({
    reason: z.optional(
      z
        .string()
        .check(
          z.refine(
            (s) => [...s].length <= MAX_REASON_CHARS,
            `reason must be at most ${MAX_REASON_CHARS} characters`,
          ),
        ),
    ),
  }),
)

/** The validated body of a cancellation request or revoke. */
export type CancellationBody = z.infer<typeof cancellationSchema>

/** Parses an optional `{"reason":"…"}` body; any other field, type or size → ValidationError (400). */
export function parseCancellationBody(raw: string | null): CancellationBody {
  return parseJsonBody(raw, cancellationSchema, {
    unknownFieldsMessage: 'Only the field reason is accepted',
    shapeMessage: 'The body must be a JSON object such as {"reason":"…"}',
  })
}

const clientSettingsSchema = z.lazy(() =>
  z
    .strictObject({
      maxChannels: z.optional(z.number().check(z.int('must be an integer'), z.gte(1), z.lte(100))),
      partnerPayload: z.optional(partnerPayloadSchema),
    })
    .check(
      z.refine((b) => b.maxChannels !== undefined || b.partnerPayload !== undefined, {
        message: 'Give maxChannels and/or partnerPayload',
      }),
    ),
)

/** The validated body of `PATCH /clients/{clientId}`. */
export type ClientSettingsBody = z.infer<typeof clientSettingsSchema>

/** Parses the JSON body strictly; unknown fields, wrong types, an empty object → ValidationError (400). */
export function parseClientSettingsBody(raw: string | null): ClientSettingsBody {
  return parseJsonBody(raw, clientSettingsSchema, {
    requiredMessage: 'A JSON body with maxChannels and/or partnerPayload is required',
    unknownFieldsMessage: 'Only the fields maxChannels and partnerPayload are accepted',
    shapeMessage: 'The body must be a JSON object such as {"maxChannels":5}',
  })
}

const linkSchema = z.lazy(() =>
  z.strictObject({
    partnerPayload: partnerPayloadSchema,
    redirectUrl: z.optional(z.string().check(z.minLength(1), z.maxLength(MAX_REDIRECT_URL_LENGTH))),
    number: z.optional(
      z
        .string()
        .check(z.regex(/^\+?[0-9]{6,15}$/, 'must be a phone number in international format, digits only')),
    ),
  }),
)

/** The validated body of `POST /onboarding-links`. */
export type OnboardingLinkBody = z.infer<typeof linkSchema>

/** Parses the JSON body strictly; any unknown field, wrong type or size → ValidationError (400). */
export function parseLinkBody(raw: string | null): OnboardingLinkBody {
  return parseJsonBody(raw, linkSchema, {
    requiredMessage: 'A JSON body with partnerPayload is required',
    unknownFieldsMessage: 'Only the fields partnerPayload, redirectUrl and number are accepted',
    shapeMessage: 'The body must be a JSON object such as {"partnerPayload":"…"}',
  })
}
