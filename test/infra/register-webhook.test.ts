import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation'
import { mockClient } from 'aws-sdk-client-mock'
import { afterEach, describe, expect, it } from 'vitest'
import {
  describePlan,
  parseArgs,
  RegisterWebhookError,
  type RegistrationPlan,
  readPlan,
  registerWebhook,
} from '../../infra/register-webhook'
import { createEnvSecretSource } from '../../shared/adapters/secrets'

const cfn = mockClient(CloudFormationClient)
afterEach(() => cfn.reset())

const outputs = (o: Record<string, string>) => ({
  Stacks: [
    {
      StackName: 'x',
      CreationTime: new Date(0),
      StackStatus: 'CREATE_COMPLETE' as const,
      Outputs: Object.entries(o).map(([OutputKey, OutputValue]) => ({ OutputKey, OutputValue })),
    },
  ],
})

const PLAN: RegistrationPlan = {
  partnerId: 'examplePA',
  partnerApiBaseUrl: 'https://partner.example/api/v2',
  partnerApiAuth: 'api_key',
  webhookUrl: 'https://abc123.execute-api.eu-central-1.amazonaws.com/v1/webhooks/360dialog',
  redirectUrl: 'https://abc123.execute-api.eu-central-1.amazonaws.com/v1/onboarding/callback',
  partnerApiSecretArn: 'arn:aws:secretsmanager:eu-central-1:123456789012:secret:PartnerApiSecret-abc',
  webhookTokenSecretArn: 'arn:aws:secretsmanager:eu-central-1:123456789012:secret:WebhookToken-def',
}

/** A fetch that records requests and answers like the Partner API webhook_url endpoints. */
function recordingFetch(opts: { keepRedirect?: string } = {}): {
  fetch: typeof fetch
  requests: { method: string; url: string; headers: Headers; body: unknown }[]
} {
  const requests: { method: string; url: string; headers: Headers; body: unknown }[] = []
  let stored: string | null = null
  let redirect: string | null = opts.keepRedirect ?? null
  const answer = (body: unknown): Response =>
    new Response(JSON.stringify(body), { status: 200, headers: { 'content-type': 'application/json' } })
  const fake = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const body =
      typeof init?.body === 'string'
        ? (JSON.parse(init.body) as { webhook_url?: string; partner_redirect_url?: string })
        : undefined
    requests.push({
      method: init?.method ?? 'GET',
      url: String(input),
      headers: new Headers(init?.headers),
      body,
    })
    const partner = () => ({ id: 'examplePA', webhook_url: stored, partner_redirect_url: redirect })
    if (init?.method === 'POST') stored = body?.webhook_url ?? null
    if (init?.method === 'PATCH') {
      // A partner whose Hub keeps its own redirect URL ignores the PATCH (opts.keepRedirect).
      if (opts.keepRedirect === undefined) redirect = body?.partner_redirect_url ?? redirect
      return answer(partner())
    }
    if (String(input).endsWith('/webhook_url')) return answer({ webhook_url: stored })
    return answer(partner())
  }
  return { fetch: fake as typeof fetch, requests }
}

describe('register-webhook', () => {
  it('reads the plan from the stack outputs', async () => {
    cfn.on(DescribeStacksCommand, { StackName: 'PartnerOps-Stateless' }).resolves(
      outputs({
        PartnerId: PLAN.partnerId,
        PartnerApiBaseUrl: PLAN.partnerApiBaseUrl,
        PartnerApiAuth: 'api_key',
        WebhookUrl: PLAN.webhookUrl,
        OnboardingCallbackUrl: PLAN.redirectUrl ?? '',
      }),
    )
    cfn.on(DescribeStacksCommand, { StackName: 'PartnerOps-Stateful' }).resolves(
      outputs({
        PartnerApiSecretArn: PLAN.partnerApiSecretArn,
        WebhookTokenSecretArn: PLAN.webhookTokenSecretArn ?? '',
      }),
    )
    expect(await readPlan(new CloudFormationClient({ region: 'eu-central-1' }), 'PartnerOps')).toEqual(PLAN)
  })

  it('says to deploy first when the stack does not exist', async () => {
    cfn
      .on(DescribeStacksCommand)
      .rejects(Object.assign(new Error('Stack does not exist'), { name: 'ValidationError' }))
    await expect(readPlan(new CloudFormationClient({ region: 'eu-central-1' }), 'Other')).rejects.toThrow(
      /Cannot read stack Other-Stateless .*npm run deploy/,
    )
  })

  it('describes the request for --dry-run without any secret value', () => {
    const text = describePlan(PLAN)
    expect(text).toContain('POST https://partner.example/api/v2/partners/examplePA/webhook_url')
    expect(text).toContain(PLAN.webhookUrl)
    expect(text).toContain('"x-webhook-token":"<value of the webhook token secret>"')
    expect(describePlan({ ...PLAN, webhookTokenSecretArn: null })).not.toContain('x-webhook-token')
  })

  it('sets the webhook URL with the token header when a token is configured', async () => {
    const { fetch, requests } = recordingFetch()
    const secrets = createEnvSecretSource({ partnerApi: 'the-partner-key', webhookToken: 'the-token' })
    const reported = await registerWebhook(PLAN, { secrets, fetch })
    expect(reported).toEqual({ webhookUrl: PLAN.webhookUrl, redirectUrl: PLAN.redirectUrl })
    const post = requests.find((r) => r.method === 'POST')
    expect(post?.url).toBe('https://partner.example/api/v2/partners/examplePA/webhook_url')
    expect(post?.headers.get('x-api-key')).toBe('the-partner-key')
    expect(post?.body).toEqual({ webhook_url: PLAN.webhookUrl, headers: { 'x-webhook-token': 'the-token' } })
  })

  it('sends no headers field without a token', async () => {
    const { fetch, requests } = recordingFetch()
    const secrets = createEnvSecretSource({ partnerApi: 'the-partner-key' })
    await registerWebhook({ ...PLAN, webhookTokenSecretArn: null }, { secrets, fetch })
    expect(requests.find((r) => r.method === 'POST')?.body).toEqual({ webhook_url: PLAN.webhookUrl })
    expect(requests.find((r) => r.method === 'PATCH')?.body).toEqual({
      partner_redirect_url: PLAN.redirectUrl,
    })
  })

  it('reads partner_redirect_url back from partner info and fails when 360dialog reports another', async () => {
    const secrets = createEnvSecretSource({ partnerApi: 'the-partner-key', webhookToken: 'the-token' })
    const { fetch, requests } = recordingFetch({ keepRedirect: 'https://old.example.com/callback' })
    await expect(registerWebhook(PLAN, { secrets, fetch })).rejects.toThrow(
      /reports partner_redirect_url https:\/\/old\.example\.com\/callback instead of .*onboarding\/callback/,
    )
    expect(requests.map((r) => `${r.method} ${new URL(r.url).pathname}`)).toEqual([
      'POST /api/v2/partners/examplePA/webhook_url',
      'PATCH /api/v2/partners/examplePA',
      'GET /api/v2/partners/examplePA/webhook_url',
      'GET /api/v2/partners/examplePA',
    ])
  })

  it('parses its arguments and rejects unknown ones', () => {
    expect(parseArgs([], 'PartnerOps')).toEqual({ stackPrefix: 'PartnerOps', dryRun: false })
    expect(parseArgs(['--dry-run', '--stack-prefix', 'Acme', '--region', 'eu-west-1'], 'PartnerOps')).toEqual(
      {
        stackPrefix: 'Acme',
        dryRun: true,
        region: 'eu-west-1',
      },
    )
    expect(() => parseArgs(['--force'], 'PartnerOps')).toThrow(RegisterWebhookError)
    expect(() => parseArgs(['--region'], 'PartnerOps')).toThrow(/needs a value/)
  })
})
