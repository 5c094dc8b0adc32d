import { readFileSync } from 'node:fs'
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020'
import addFormats from 'ajv-formats'
import { parse } from 'yaml'

interface MediaType {
  schema?: unknown
}
interface ResponseObject {
  $ref?: string
  content?: Record<string, MediaType>
  headers?: Record<string, { required?: boolean }>
}
interface Operation {
  responses: Record<string, ResponseObject>
}
interface OpenApiDoc {
  openapi: string
  paths: Record<string, Record<string, Operation>>
  components: { schemas: Record<string, unknown>; responses: Record<string, ResponseObject> }
}

/** The OpenAPI document of the repository, parsed. */
export const OPENAPI = parse(
  readFileSync(new URL('../../../docs/openapi.yaml', import.meta.url), 'utf8'),
) as OpenApiDoc

// Component schemas become one schema resource, so `$ref`s resolve without the rest of the document.
const ajv = new Ajv2020({ strict: false, allErrors: true })
addFormats(ajv)
const rewrite = (value: unknown): unknown =>
  JSON.parse(JSON.stringify(value).replaceAll('"#/components/schemas/', '"components#/$defs/'))
ajv.addSchema({ $id: 'components', $defs: rewrite(OPENAPI.components.schemas) as Record<string, unknown> })
const compiled = new Map<string, ValidateFunction>()

function responseObject(path: string, method: string, status: number): ResponseObject {
  const op = OPENAPI.paths[path]?.[method.toLowerCase()]
  if (!op) throw new Error(`OpenAPI has no operation ${method} ${path}`)
  let res = op.responses[String(status)]
  if (!res) throw new Error(`OpenAPI ${method} ${path} documents no ${status} response`)
  if (res.$ref) res = OPENAPI.components.responses[res.$ref.split('/').at(-1) ?? ''] ?? res
  return res
}

/**
 * Checks a real response against the document: the status is documented for the operation, the
 * content type is the documented one, required headers are there, and the body fits the schema.
 * Returns the list of problems (empty when it conforms).
 */
export function openApiProblems(
  path: string,
  method: string,
  res: { status: number; headers: Headers | Record<string, string>; body: string },
): string[] {
  const doc = responseObject(path, method, res.status)
  const header = (name: string): string | null =>
    res.headers instanceof Headers ? res.headers.get(name) : (res.headers[name.toLowerCase()] ?? null)
  const problems: string[] = []
  for (const [name, h] of Object.entries(doc.headers ?? {})) {
    if (h.required && header(name) === null) problems.push(`missing header ${name}`)
  }
  const media = Object.entries(doc.content ?? {})
  if (media.length === 0) return problems
  const contentType = (header('content-type') ?? '').split(';')[0]?.trim() ?? ''
  const entry = media.find(([type]) => type === contentType)
  if (!entry) return [...problems, `content-type ${contentType} is not documented`]
  const [type, { schema }] = entry
  const key = `${method} ${path} ${res.status} ${type}`
  let validate = compiled.get(key)
  if (!validate) {
    validate = ajv.compile(rewrite(schema) as object)
    compiled.set(key, validate)
  }
  const value = type === 'application/json' ? (JSON.parse(res.body) as unknown) : res.body
  if (!validate(value)) {
    problems.push(...(validate.errors ?? []).map((e) => `${e.instancePath || '(body)'} ${e.message ?? ''}`))
  }
  return problems
}

/** Checks `value` against a schema of the document (its `$ref`s resolve to the components). */
export function schemaProblems(schema: unknown, value: unknown): string[] {
  const validate = ajv.compile(rewrite(schema) as object)
  if (validate(value)) return []
  return (validate.errors ?? []).map((e) => `${e.instancePath || '(value)'} ${e.message ?? ''}`)
}
