// Loaded with a dynamic import by ../event-sink.ts, so that the EventBridge client is evaluated on first
// use only. A module of its own, because a dynamic import keeps every export of what it names: importing
// the package itself would keep all of its commands in the bundle.
export { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge'
