import { createAwsSecretSource, createEnvSecretSource } from '../adapters/secrets'
import { type Config, SETTINGS, type SettingInfo, type SettingName } from '../env'
import type { SecretName, SecretSource } from '../ports'
import type { AdapterBuilder } from './core'

/** The secret source a configuration asks for: Secrets Manager in AWS, environment values locally. */
export function createSecretSource(config: Config): SecretSource {
  if (config.SECRETS_SOURCE === 'env') {
    const values = secretsByName(config, 'secretValue')
    // Bearer auth keeps its two values in two settings; the secret itself is their JSON.
    if (config.PARTNER_API_AUTH === 'bearer') {
      values.partnerApi = JSON.stringify({
        username: config.PARTNER_API_USERNAME,
        password: config.PARTNER_API_PASSWORD,
      })
    }
    return createEnvSecretSource(values)
  }
  return createAwsSecretSource({
    maxAgeSeconds: config.SECRET_CACHE_SECONDS,
    ids: secretsByName(config, 'secretId'),
  })
}

/** The settings marked as a secret's value (or id) in SETTINGS, by secret name; unset ones left out. */
function secretsByName(
  config: Config,
  role: 'secretValue' | 'secretId',
): Partial<Record<SecretName, string>> {
  const out: Partial<Record<SecretName, string>> = {}
  for (const [name, spec] of Object.entries(SETTINGS) as [SettingName, SettingInfo][]) {
    const secret = spec[role]
    const value = config[name]
    if (secret !== undefined && typeof value === 'string' && value !== '') out[secret] = value
  }
  return out
}

/** `secrets`: Secrets Manager (its client is loaded on the first read) or the local values. */
export const secrets: AdapterBuilder<'secrets'> = ({ config }) => createSecretSource(config)
