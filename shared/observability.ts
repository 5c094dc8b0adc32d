import { LogFormatter, Logger, LogItem } from '@aws-lambda-powertools/logger'
import type { LogAttributes, UnformattedAttributes } from '@aws-lambda-powertools/logger/types'
import { Metrics } from '@aws-lambda-powertools/metrics'

/** Metrics namespace of every PartnerOps EMF metric. */
export const METRICS_NAMESPACE = 'PartnerOps'

/** How log lines look: JSON (Lambda, files, pipes) or one readable line each (a terminal). */
export type LogStyle = 'json' | 'text'

/**
 * The log style from LOG_FORMAT (`json`, `text`, or `auto`/unset): auto is text when stdout is a
 * terminal outside Lambda, else JSON. Lambda never has a terminal, so deployed functions log JSON.
 */
export function logStyle(
  env: Record<string, string | undefined> = process.env,
  isTerminal: boolean = process.stdout.isTTY === true,
): LogStyle {
  const format = env.LOG_FORMAT?.trim().toLowerCase()
  if (format === 'json' || format === 'text') return format
  return isTerminal && !env.AWS_LAMBDA_FUNCTION_NAME ? 'text' : 'json'
}

// Attributes every line has (shown in the line's head) or that say nothing on a developer's terminal.
const TEXT_SKIPPED = new Set(['level', 'message', 'timestamp', 'service', 'sampling_rate', 'xray_trace_id'])

/** One attribute as `key=value`: plain words as they are, anything else as compact JSON. */
function textField(key: string, value: unknown): string {
  if (value instanceof Error) return `${key}=${JSON.stringify(`${value.name}: ${value.message}`)}`
  if (typeof value === 'string')
    return `${key}=${/^[\w.:/@#+-]+$/.test(value) ? value : JSON.stringify(value)}`
  const json = JSON.stringify(value) ?? String(value)
  return `${key}=${json.length > 300 ? `${json.slice(0, 297)}...` : json}`
}

/**
 * A Powertools log formatter for both styles. JSON: the Powertools structure (level, message,
 * timestamp, service, the Lambda context) with the call's attributes. Text: one line,
 * `HH:MM:SS.mmm LEVEL service  message key=value …`, e.g.
 * `12:00:01.250 INFO  webhook  webhook accepted eventKey=evt-1 eventType=channel_created`.
 */
export class PartnerOpsLogFormatter extends LogFormatter {
  constructor(readonly style: LogStyle) {
    super()
  }

  formatAttributes(attributes: UnformattedAttributes, additional: LogAttributes): LogItem {
    const base: LogAttributes = {
      level: attributes.logLevel,
      message: attributes.message,
      timestamp: this.formatTimestamp(attributes.timestamp),
      service: attributes.serviceName,
      cold_start: attributes.lambdaContext?.coldStart,
      function_name: attributes.lambdaContext?.functionName,
      function_request_id: attributes.lambdaContext?.awsRequestId,
      xray_trace_id: attributes.xRayTraceId,
    }
    if (this.style === 'json') return new LogItem({ attributes: base }).addAttributes(additional)
    const time = attributes.timestamp.toISOString().slice(11, 23)
    const head = `${time} ${String(attributes.logLevel).padEnd(5)} ${attributes.serviceName}  ${attributes.message}`
    const fields = Object.entries({ ...base, ...additional })
      .filter(
        ([k, v]) =>
          !TEXT_SKIPPED.has(k) && v !== undefined && !k.startsWith('function_') && k !== 'cold_start',
      )
      .map(([k, v]) => textField(k, v))
    return new LogItem({ attributes: { [TEXT_LINE]: [head, ...fields].join(' ') } })
  }
}

/** The one attribute a text-style log item carries: the finished line. */
const TEXT_LINE = 'line'

/**
 * Powertools prints every item as `JSON.stringify(attributes)` (Logger.printLog, private, no option to
 * change it); the text style needs the formatter's line printed as it is. This subclass prints that
 * line and otherwise is the Powertools Logger (levels, child loggers, context, sampling).
 * test/unit/observability.test.ts checks the output, so an upgrade that changes printLog fails there.
 */
class TextLogger extends Logger {
  protected override createLogger(options?: ConstructorParameters<typeof Logger>[0]): Logger {
    return new TextLogger(options)
  }
}
Object.defineProperty(TextLogger.prototype, 'printLog', {
  value(this: { console: Record<string, (line: string) => void> }, level: number, log: LogItem): void {
    const line = String(log.getAttributes()[TEXT_LINE] ?? '')
    // Powertools' thresholds: 16 WARN, 20 ERROR, 24 CRITICAL.
    const method = level >= 20 ? 'error' : level >= 16 ? 'warn' : 'info'
    this.console[method]?.(line)
  },
})

/**
 * A Powertools logger for one function (level from POWERTOOLS_LOG_LEVEL, structured context), in the
 * style logStyle() picks: JSON in Lambda and when piped, one readable line each on a terminal.
 */
export function createLogger(serviceName: string, style: LogStyle = logStyle()): Logger {
  const logFormatter = new PartnerOpsLogFormatter(style)
  return style === 'text'
    ? new TextLogger({ serviceName, logFormatter })
    : new Logger({ serviceName, logFormatter })
}

const ownLoggers = new Map<string, Logger>()
function ownLogger(serviceName: string): Logger {
  let logger = ownLoggers.get(serviceName)
  if (!logger) {
    logger = createLogger(serviceName)
    ownLoggers.set(serviceName, logger)
  }
  return logger
}

const NOTHING_TO_PUBLISH = 'No application metrics to publish'

/**
 * A Powertools EMF metrics instance for one function. Its own warnings go through the function's
 * structured logger; the one about an invocation that counted nothing is debug, because that is
 * normal for reads and for stream batches with nothing new, and would otherwise be logged on each.
 * Without a logger of the caller's, one of this service's own is used, so the rule holds everywhere
 * (tests and tools included, where it used to print that warning hundreds of times).
 */
export function createMetrics(serviceName: string, logger: Logger = ownLogger(serviceName)): Metrics {
  const log = (level: 'debug' | 'warn', ...args: unknown[]): void => {
    const [message, ...rest] = args
    logger[level](String(message), ...rest.map((r) => ({ detail: r })))
  }
  return new Metrics({
    namespace: METRICS_NAMESPACE,
    serviceName,
    logger: {
      debug: (...args: unknown[]) => log('debug', ...args),
      info: (...args: unknown[]) => logger.info(String(args[0])),
      error: (...args: unknown[]) => logger.error(String(args[0])),
      warn: (...args: unknown[]) =>
        log(String(args[0]).startsWith(NOTHING_TO_PUBLISH) ? 'debug' : 'warn', ...args),
    },
  })
}
