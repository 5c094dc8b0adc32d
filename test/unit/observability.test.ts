import { describe, expect, it, vi } from 'vitest'
import { createLogger, createMetrics } from '../../shared/observability'

describe('createMetrics', () => {
  it('logs an invocation that counted nothing at debug, other metrics warnings at warn', () => {
    const logger = createLogger('test')
    const debug = vi.spyOn(logger, 'debug').mockImplementation(() => undefined)
    const warn = vi.spyOn(logger, 'warn').mockImplementation(() => undefined)
    const metrics = createMetrics('test', logger)
    metrics.publishStoredMetrics()
    expect(debug).toHaveBeenCalledWith(expect.stringContaining('No application metrics to publish'))
    expect(warn).not.toHaveBeenCalled()
    metrics.addDimension('', 'x')
    expect(warn).toHaveBeenCalledWith(expect.stringContaining("doesn't meet the requirements"))
  })
})
