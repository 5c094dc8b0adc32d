/**
 * An environment in which a function bundle loads and builds its handler without AWS or network:
 * what the stack sets, with dummy values. Used by the real-bundling test and the cold-start benchmark.
 */
export function lambdaEnv(service: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDDUMMY',
    AWS_SECRET_ACCESS_KEY: 'dummy-secret',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    AWS_LAMBDA_FUNCTION_NAME: `partnerops-${service}`,
    PARTNER_ID: 'examplePA',
    SECRETS_SOURCE: 'aws',
    PARTNER_API_SECRET_ID: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:partner-api',
    PLATFORM_SECRET_ID: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:platform',
    LINK_SIGNING_SECRET_ID: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:link-signing',
    EVENT_SINK: 'eventbridge',
    EVENT_BUS_NAME: 'partnerops-bench',
    CURSOR_SECRET: 'partnerops-cursor-bench',
    TABLE_CLIENTS: 'bench-clients',
    TABLE_CHANNELS: 'bench-channels',
    TABLE_EVENTS: 'bench-events',
    TABLE_CANCELLATIONS: 'bench-cancellations',
    TABLE_AUDIT: 'bench-audit',
    TABLE_OPS: 'bench-ops',
    ONBOARDING_CALLBACK_URL: 'https://example.execute-api.us-east-1.amazonaws.com/v1/onboarding/callback',
    POWERTOOLS_SERVICE_NAME: service,
    POWERTOOLS_METRICS_NAMESPACE: 'PartnerOps',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
  }
}
