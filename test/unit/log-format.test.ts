import { afterEach, describe, expect, it, vi } from 'vitest'
import { createLogger, logStyle } from '../../shared/observability'

afterEach(() => {
  vi.restoreAllMocks()
  vi.unstubAllEnvs()
})

/** Captures what a logger writes (Powertools writes through its own Console on process.stdout/stderr). */
function capture(): { lines: () => string[] } {
  const out: string[] = []
  const write = (chunk: string | Uint8Array): boolean => {
    out.push(String(chunk))
    return true
  }
  vi.spyOn(process.stdout, 'write').mockImplementation(write)
  vi.spyOn(process.stderr, 'write').mockImplementation(write)
  return { lines: () => out.join('').split('\n').filter(Boolean) }
}

describe('log format', () => {
  it('is text on a terminal, JSON when piped or in Lambda, and LOG_FORMAT decides when set', () => {
    expect(logStyle({}, true)).toBe('text')
    expect(logStyle({}, false)).toBe('json')
    expect(logStyle({ AWS_LAMBDA_FUNCTION_NAME: 'fn' }, true)).toBe('json')
    expect(logStyle({ LOG_FORMAT: 'json' }, true)).toBe('json')
    expect(logStyle({ LOG_FORMAT: 'text' }, false)).toBe('text')
    expect(logStyle({ LOG_FORMAT: 'auto' }, true)).toBe('text')
    expect(logStyle({ LOG_FORMAT: 'JSON ' }, true)).toBe('json')
  })

  it('prints one readable line per entry in text style, with the event type on webhook lines', () => {
    vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'INFO')
    const out = capture()
    const logger = createLogger('webhook', 'text')
    logger.info('webhook accepted', { eventKey: 'id:evt-1', eventType: 'channel_created', duplicate: false })
    logger
      .createChild()
      .warn('reconciliation run failed', { seen: { channels: 3 }, error: new Error('boom') })
    const lines = out.lines()
    vi.restoreAllMocks()
    expect(lines).toHaveLength(2)
    expect(lines[0]).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} INFO {2}webhook {2}webhook accepted eventKey=id:evt-1 eventType=channel_created duplicate=false$/,
    )
    expect(lines[1]).toMatch(
      / WARN {2}webhook {2}reconciliation run failed seen=\{"channels":3\} error="Error: boom"$/,
    )
    expect(lines.join('\n')).not.toContain('{"level"')
  })

  it('prints Powertools JSON in json style, with the call attributes', () => {
    vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'INFO')
    const out = capture()
    createLogger('poller', 'json').info('reconciliation run succeeded', { runId: 'r1', pages: 2 })
    const lines = out.lines()
    vi.restoreAllMocks()
    expect(lines).toHaveLength(1)
    expect(JSON.parse(lines[0] ?? '')).toMatchObject({
      level: 'INFO',
      message: 'reconciliation run succeeded',
      service: 'poller',
      runId: 'r1',
      pages: 2,
      timestamp: expect.any(String),
    })
  })
})
