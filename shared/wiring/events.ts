import { createEventBridgeSink, createFileEventSink, createMemoryEventSink } from '../adapters/event-sink'
import type { AdapterBuilder } from './core'

/** `events`: the change-event sink, EventBridge in AWS (its client is loaded on the first publish). */
export const events: AdapterBuilder<'events'> = ({ config }) =>
  config.EVENT_SINK === 'eventbridge'
    ? createEventBridgeSink({ busName: config.EVENT_BUS_NAME })
    : config.EVENT_SINK === 'file'
      ? createFileEventSink({ path: config.EVENTS_FILE })
      : createMemoryEventSink()
