import { CfnOutput, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib'
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb'
import * as kms from 'aws-cdk-lib/aws-kms'
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager'
import type { Construct } from 'constructs'
import { type IndexSpec, type KeyAttribute, TABLES, type TableKey } from '../../shared/adapters/dynamo/tables'
import type { SecretName } from '../../shared/ports'
import { type DeployConfig, webhookAuthSettings } from '../config'

/** Props of the stateful stack. */
export interface StatefulStackProps extends StackProps {
  config: DeployConfig
}

const attribute = (k: KeyAttribute): dynamodb.Attribute => ({
  name: k.name,
  type: k.type === 'S' ? dynamodb.AttributeType.STRING : dynamodb.AttributeType.NUMBER,
})

const projection = (
  p: IndexSpec['projection'],
): Pick<dynamodb.GlobalSecondaryIndexPropsV2, 'projectionType' | 'nonKeyAttributes'> => {
  if (p === 'ALL') return { projectionType: dynamodb.ProjectionType.ALL }
  if (p === 'KEYS_ONLY') return { projectionType: dynamodb.ProjectionType.KEYS_ONLY }
  return { projectionType: dynamodb.ProjectionType.INCLUDE, nonKeyAttributes: p.include }
}

const pascal = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1)

/**
 * What must survive a redeploy or a mistake: the DynamoDB tables (mapped from the store's single
 * definition, shared/adapters/dynamo/tables.ts) and the secrets. Tables are on-demand, encrypted with
 * the AWS managed key, point-in-time recoverable, deletion protected and retained on stack deletion.
 * The events table has a NEW_IMAGE stream, consumed by the webhook applier; the clients, channels and
 * cancellations tables stream NEW_AND_OLD_IMAGES to the change-event publisher.
 */
export class StatefulStack extends Stack {
  readonly tables: Record<TableKey, dynamodb.TableV2>
  /** Secrets by name; `webhookToken` only when the webhook auth mode uses a token. */
  readonly secrets: Partial<Record<SecretName, secretsmanager.Secret>>
  /** Encrypts channel Messaging API keys (README "Channel API keys"). */
  readonly channelKeyKey: kms.Key

  constructor(scope: Construct, id: string, props: StatefulStackProps) {
    super(scope, id, props)
    const tables = {} as Record<TableKey, dynamodb.TableV2>
    for (const spec of TABLES) {
      const table = new dynamodb.TableV2(this, `${pascal(spec.key)}Table`, {
        partitionKey: attribute(spec.partitionKey),
        ...(spec.sortKey ? { sortKey: attribute(spec.sortKey) } : {}),
        billing: dynamodb.Billing.onDemand(),
        encryption: dynamodb.TableEncryptionV2.awsManagedKey(),
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        deletionProtection: true,
        removalPolicy: RemovalPolicy.RETAIN,
        ...(spec.ttlAttribute ? { timeToLiveAttribute: spec.ttlAttribute } : {}),
        // The events table's stream feeds the webhook applier (new image: each event arrives whole); the
        // state tables' streams feed the change-event publisher (both images: it compares them).
        ...(spec.stream ? { dynamoStream: dynamodb.StreamViewType[spec.stream] } : {}),
        globalSecondaryIndexes: spec.indexes.map((index) => ({
          indexName: index.indexName,
          partitionKey: attribute(index.partitionKey),
          ...(index.sortKey ? { sortKey: attribute(index.sortKey) } : {}),
          ...projection(index.projection),
        })),
      })
      tables[spec.key] = table
      new CfnOutput(this, `${pascal(spec.key)}TableName`, {
        value: table.tableName,
        description: spec.purpose,
      })
    }
    this.tables = tables

    // One customer managed key for every channel's API key: $1 a month plus $0.03 per 10,000 calls,
    // where a Secrets Manager secret per channel would cost $0.40 a month each. Only the functions
    // granted Encrypt or Decrypt (shared/functions.ts) can use it, always with the channel's id as
    // encryption context; yearly rotation keeps old ciphertexts readable.
    this.channelKeyKey = new kms.Key(this, 'ChannelKeyKey', {
      description: 'PartnerOps: encrypts channel Messaging API keys (channel-keys table)',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
    })
    new CfnOutput(this, 'ChannelKeyKeyArn', { value: this.channelKeyKey.keyArn })

    // No value in the template: CloudFormation fills these with a random placeholder that the
    // partner replaces (README "Deploy to AWS"); until then upstream calls and webhooks fail closed.
    const partnerApi = new secretsmanager.Secret(this, 'PartnerApiSecret', {
      description:
        props.config.partnerApiAuth === 'bearer'
          ? 'PartnerOps: 360dialog Partner API credentials, JSON {"username":"…","password":"…"}'
          : 'PartnerOps: 360dialog Partner API key (plain text, or JSON {"apiKey":"…"})',
    })
    const platformSecret = new secretsmanager.Secret(this, 'PlatformSecret', {
      description:
        'PartnerOps: 360dialog Platform Secret for x-360dialog-signature (plain text, or a JSON array of active secrets during rotation)',
    })
    // Generated by Secrets Manager; nobody needs to type them.
    const linkSigningKey = new secretsmanager.Secret(this, 'LinkSigningKey', {
      description: 'PartnerOps: HMAC key signing onboarding callback references (generated)',
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
    })
    const secrets: Partial<Record<SecretName, secretsmanager.Secret>> = {
      partnerApi,
      platformSecret,
      linkSigningKey,
    }
    if (webhookAuthSettings(props.config).token) {
      secrets.webhookToken = new secretsmanager.Secret(this, 'WebhookToken', {
        description:
          'PartnerOps: value of the x-webhook-token header 360dialog sends with each webhook (generated)',
        generateSecretString: { passwordLength: 48, excludePunctuation: true },
      })
    }
    this.secrets = secrets

    const outputs: Record<SecretName, string> = {
      partnerApi: 'PartnerApiSecretArn',
      platformSecret: 'PlatformSecretArn',
      linkSigningKey: 'LinkSigningKeyArn',
      webhookToken: 'WebhookTokenSecretArn',
    }
    for (const [name, secret] of Object.entries(secrets) as [SecretName, secretsmanager.Secret][]) {
      new CfnOutput(this, outputs[name], { value: secret.secretArn })
    }

    Validations.of(partnerApi).acknowledge({
      id: 'AwsSolutions::AwsSolutions-SMG4',
      reason:
        'The Partner API key is issued by 360dialog (Partner Hub); Secrets Manager cannot rotate it. The partner rotates it in the Hub and puts the new value (README "Deploy to AWS").',
    })
    Validations.of(platformSecret).acknowledge({
      id: 'AwsSolutions::AwsSolutions-SMG4',
      reason:
        'The Platform Secret is issued by 360dialog; rotation is manual and overlap-safe: the secret accepts a JSON array of active values while 360dialog switches.',
    })
    Validations.of(linkSigningKey).acknowledge({
      id: 'AwsSolutions::AwsSolutions-SMG4',
      reason:
        'Rotating the onboarding link signing key invalidates every link already sent to clients; it is rotated on purpose (put a new value), not on a schedule.',
    })
    if (secrets.webhookToken) {
      Validations.of(secrets.webhookToken).acknowledge({
        id: 'AwsSolutions::AwsSolutions-SMG4',
        reason:
          'The webhook token must be re-registered with 360dialog when it changes (npm run register-webhook); automatic rotation would break webhook delivery until then.',
      })
    }
  }
}
