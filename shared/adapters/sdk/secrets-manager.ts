// Loaded with a dynamic import by ../secrets.ts, so that the Powertools provider and the Secrets Manager
// client are evaluated on first use only. A module of its own, because a dynamic import keeps every
// export of what it names.
export { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets'
