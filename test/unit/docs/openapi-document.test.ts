import { describe, expect, it } from 'vitest'
import { ROUTES } from '../../../shared/http/routes'
import { OPENAPI, schemaProblems } from '../../integration/api/openapi'

// The document itself: the SigV4 scheme in the form API Gateway documents, a summary, description
// and example for every operation, every example valid against its own schema, and exactly the
// routes the product serves. (Real answers are checked against it by the integration and client
// suites.)

interface Media {
  schema?: unknown
  example?: unknown
  examples?: Record<string, { value?: unknown }>
}
interface Param {
  name: string
  in: string
  schema?: unknown
  example?: unknown
  $ref?: string
}
interface Operation {
  operationId?: string
  summary?: string
  description?: string
  security?: unknown[]
  parameters?: Param[]
  requestBody?: { content?: Record<string, Media> }
  responses: Record<string, { $ref?: string; content?: Record<string, Media> }>
}

const doc = OPENAPI as unknown as {
  security: unknown
  paths: Record<string, Record<string, Operation | Param[]>>
  components: {
    securitySchemes: Record<string, unknown>
    parameters: Record<string, Param>
    responses: Record<string, { content?: Record<string, Media> }>
  }
}
const METHODS = ['get', 'post', 'patch', 'delete', 'put']
const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
  Object.entries(item)
    .filter(([m]) => METHODS.includes(m))
    .map(([method, op]) => ({ path, method, op: op as Operation })),
)

function examplesOf(media: Media): unknown[] {
  return [
    ...('example' in media ? [media.example] : []),
    ...Object.values(media.examples ?? {}).map((e) => e.value),
  ]
}

function resolveParam(p: Param): Param {
  return p.$ref ? (doc.components.parameters[p.$ref.split('/').at(-1) ?? ''] ?? p) : p
}

describe('docs/openapi.yaml', () => {
  it('declares SigV4 as API Gateway documents it for IAM authorization', () => {
    expect(doc.components.securitySchemes['sigv4']).toMatchObject({
      type: 'apiKey',
      name: 'Authorization',
      in: 'header',
      'x-amazon-apigateway-authtype': 'awsSigv4',
    })
    expect(doc.security).toEqual([{ sigv4: [] }])
  })

  it('documents exactly the routes the product serves, public ones without SigV4', () => {
    const documented = operations.map((o) => `${o.method.toUpperCase()} ${o.path}`).sort()
    expect(documented).toEqual(ROUTES.map((r) => `${r.method} ${r.path}`).sort())
    for (const route of ROUTES) {
      const op = doc.paths[route.path]?.[route.method.toLowerCase()] as Operation
      if (route.auth === 'none') expect(op.security, route.path).toEqual([])
      else expect(op.security, route.path).toBeUndefined()
    }
  })

  it('gives every operation a unique operationId, a summary, a description and an example', () => {
    const ids = operations.map((o) => o.op.operationId)
    expect(new Set(ids).size).toBe(operations.length)
    for (const { path, method, op } of operations) {
      const where = `${method} ${path}`
      expect(op.summary?.trim(), where).toBeTruthy()
      expect(op.description?.trim(), where).toBeTruthy()
      const examples = [
        ...Object.values(op.requestBody?.content ?? {}).flatMap(examplesOf),
        ...Object.values(op.responses).flatMap((r) => Object.values(r.content ?? {}).flatMap(examplesOf)),
        ...(op.parameters ?? []).map(resolveParam).filter((p) => 'example' in p),
      ]
      expect(examples.length, `${where} has no example`).toBeGreaterThan(0)
    }
  })

  it('has every example valid against its own schema', () => {
    const problems: string[] = []
    let checked = 0
    const check = (where: string, media: Record<string, Media> | undefined): void => {
      for (const [type, m] of Object.entries(media ?? {})) {
        for (const ex of examplesOf(m)) {
          checked++
          for (const p of schemaProblems(m.schema ?? {}, ex)) problems.push(`${where} ${type}: ${p}`)
        }
      }
    }
    for (const { path, method, op } of operations) {
      const where = `${method} ${path}`
      check(`${where} request`, op.requestBody?.content)
      for (const [status, r] of Object.entries(op.responses)) check(`${where} ${status}`, r.content)
      for (const p of (op.parameters ?? []).map(resolveParam)) {
        if (!('example' in p)) continue
        checked++
        for (const e of schemaProblems(p.schema ?? {}, p.example)) problems.push(`${where} ${p.name}: ${e}`)
      }
    }
    for (const [name, r] of Object.entries(doc.components.responses)) check(`response ${name}`, r.content)
    expect(problems).toEqual([])
    expect(checked).toBeGreaterThan(20)
  })

  it('rejects an example that does not fit (the check can fail)', () => {
    const channel = (doc.paths['/channels/{channelId}']!['get'] as Operation).responses['200']?.content?.[
      'application/json'
    ]
    expect(channel?.example).toBeDefined()
    const broken = { ...(channel?.example as object), lifecycle: 'sleeping' }
    expect(schemaProblems(channel?.schema, broken)).not.toEqual([])
  })
})
