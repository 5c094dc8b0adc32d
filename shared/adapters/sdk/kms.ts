// Loaded with a dynamic import by ../channel-keys/cipher.ts, so that the KMS client is evaluated on first
// use only. A module of its own, because a dynamic import keeps every export of what it names: importing
// the package itself would keep all of its commands in the bundle.
export { DecryptCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms'
