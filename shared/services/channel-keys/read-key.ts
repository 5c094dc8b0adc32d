import type { AppDeps } from '../../deps'
import type { KeyStatus } from '../../domain/channel-key'
import { ConflictError, NotFoundError, UpstreamError } from '../../domain/errors'
import { auditKey, type KeyDeps, provisionChannelKey } from './provision-key'

/** What `GET /channels/{channelId}/api-key` answers (docs/openapi.yaml ChannelApiKey). */
export interface ChannelApiKeyView {
  channelId: string
  apiKey: string
  keyId: string | null
  address: string | null
  appId: string | null
  createdAt: string
}

/** What a rotation answers: the new key's facts, never its value (it is fetched with GET). */
export interface RotationView {
  channelId: string
  keyStatus: KeyStatus
  keyId: string | null
  address: string | null
  appId: string | null
  createdAt: string
}

/**
 * Reads a channel's stored key for a caller allowed to (the key-reader policy; the route is closed to
 * every other caller before this runs). Every read, found or not, is audited with the principal.
 */
export async function readChannelKey(
  deps: Pick<AppDeps, 'store' | 'channelKeys' | 'clock' | 'logger'>,
  channelId: string,
  principal: string,
): Promise<ChannelApiKeyView> {
  const channel = await deps.store.channels.get(channelId)
  const key = channel ? await deps.channelKeys.read(channelId) : null
  await auditKey(deps, {
    channelId,
    action: 'channel_key.read',
    principal,
    outcome: !channel ? 'channel_not_found' : key ? 'read' : 'channel_key_not_found',
    details: key ? { keyId: key.keyId, keyStatus: channel?.keyStatus ?? 'none' } : {},
  })
  if (!channel) throw new NotFoundError('Channel not found', { code: 'channel_not_found' })
  if (!key) {
    throw new NotFoundError(
      `No API key is stored for this channel (keyStatus ${channel.keyStatus ?? 'none'})`,
      {
        code: 'channel_key_not_found',
      },
    )
  }
  return {
    channelId,
    apiKey: key.apiKey,
    keyId: key.keyId,
    address: key.address,
    appId: key.appId,
    createdAt: key.createdAt,
  }
}

/**
 * Creates a new key upstream (which revokes the old one there) and replaces the stored one. The
 * idempotency wrapper at the edge makes a repeated request answer the first outcome; the channel's
 * key lease keeps two different rotations (or a rotation and a provisioning) from overlapping.
 */
export async function rotateChannelKey(
  deps: KeyDeps,
  channelId: string,
  opts: { principal: string; idempotencyKey: string },
): Promise<{ view: RotationView; upstreamStatus: number | null }> {
  const result = await provisionChannelKey(deps, channelId, {
    trigger: 'rotation',
    principal: opts.principal,
    idempotencyKey: opts.idempotencyKey,
  })
  switch (result.outcome) {
    case 'created': {
      const key = await deps.channelKeys.read(channelId)
      return {
        view: {
          channelId,
          keyStatus: result.channel?.keyStatus ?? 'active',
          keyId: key?.keyId ?? null,
          address: key?.address ?? null,
          appId: key?.appId ?? null,
          createdAt: key?.createdAt ?? deps.clock.now().toISOString(),
        },
        upstreamStatus: 201,
      }
    }
    case 'unknown_channel':
      throw new NotFoundError('Channel not found', { code: 'channel_not_found' })
    case 'not_ready':
      throw new ConflictError('The channel is not ready for an API key (not live, or being cancelled)', {
        code: 'channel_not_ready',
      })
    case 'busy':
      throw new ConflictError('Another key operation on this channel is in flight; retry shortly', {
        code: 'key_rotation_in_flight',
      })
    case 'permission_missing':
      throw new UpstreamError(
        'The client has not granted the partner permission to create API keys for this channel',
        {
          upstreamStatus: 403,
          retryable: false,
          code: 'key_permission_missing',
        },
      )
    default:
      // 'failed' is thrown by provisionChannelKey for a rotation; the rest cannot happen for one.
      throw new ConflictError(`The key was not rotated (${result.outcome})`, { code: 'conflict' })
  }
}
