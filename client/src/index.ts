/** @partnerops/client: the PartnerOps management API for TypeScript (see client/README.md). */
export {
  type AwsCredentialIdentity,
  type AwsCredentialIdentityProvider,
  canonicalQuery,
  defaultCredentials,
  isLocalEndpoint,
  LOCAL_CREDENTIALS,
  regionFor,
} from './auth'
export {
  type CallOptions,
  type CsvExport,
  LOCAL_ENDPOINT,
  PartnerOpsClient,
  type PartnerOpsClientOptions,
  type WriteOptions,
} from './client'
export * from './errors'
export { Paginator } from './paginator'
export { backoffDelay, type RetryInfo, type RetryOptions } from './transport'
export type * from './types'
