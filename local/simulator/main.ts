import { startSimulator } from './server'

// `npm run simulator`: the Partner API simulator on its own, in demo mode (channels move forward
// over time). Configuration is the same environment the local runner documents (contract §2).

function intFromEnv(name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    process.stderr.write(`simulator: ${name} must be an integer from 0 to 65535\n`)
    process.exit(1)
  }
  return value
}

async function main(): Promise<void> {
  const port = intFromEnv('SIMULATOR_PORT', 4010)
  const partnerId = process.env['PARTNER_ID'] || 'demoPA'
  const apiKey = process.env['PARTNER_API_KEY'] || 'local-partner-api-key'
  const autoAdvanceMs = intFromEnv('SIMULATOR_AUTO_ADVANCE_MS', 15_000)
  const webhookToken = process.env['WEBHOOK_TOKEN']
  let sim: Awaited<ReturnType<typeof startSimulator>>
  try {
    sim = await startSimulator({
      port,
      partnerId,
      apiKeys: [apiKey],
      platformSecret: process.env['PLATFORM_SECRET'] || 'local-platform-secret',
      webhookUrl: process.env['SIMULATOR_WEBHOOK_URL'] || null,
      webhookHeaders: webhookToken ? { 'x-webhook-token': webhookToken } : {},
      deliverWebhooks: process.env['SIMULATOR_WEBHOOKS'] !== 'off',
      autoAdvanceMs: autoAdvanceMs > 0 ? autoAdvanceMs : null,
    })
  } catch (err) {
    const code = err instanceof Error && 'code' in err ? String(err.code) : ''
    const reason =
      code === 'EADDRINUSE' ? `port ${port} is already in use` : err instanceof Error ? err.message : 'failed'
    process.stderr.write(`simulator: cannot start: ${reason}\n`)
    process.exit(1)
  }
  const lines = [
    `360dialog Partner API simulator listening on ${sim.url}`,
    `  API base:     ${sim.baseUrl}`,
    `  partner id:   ${sim.partnerId}`,
    `  X-API-Key:    ${apiKey === 'local-partner-api-key' ? apiKey : '(from PARTNER_API_KEY)'}`,
    '  Bearer login: POST /api/v2/token {"username":"demo@partnerops.local","password":"local-password"}',
    `  controls:     ${sim.url}/_sim (clients, channels, faults, requests, reset, onboard)`,
    `  try:          curl -H 'X-API-Key: local-partner-api-key' '${sim.baseUrl}/partners/${sim.partnerId}/channels?limit=5'`,
  ]
  process.stdout.write(`${lines.join('\n')}\n`)

  let stopping = false
  const stop = (): void => {
    if (stopping) return
    stopping = true
    sim.close().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}

void main()
