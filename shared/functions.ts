/** The Lambda functions of the product. */
export type FunctionKey = 'webhook' | 'webhookApplier' | 'api' | 'onboarding' | 'poller'
