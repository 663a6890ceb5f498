import { EBSClient } from '@aws-sdk/client-ebs';
import { EC2Client } from '@aws-sdk/client-ec2';
import { Gopid1Error, interrupted, isGopid1Error } from '../errors.js';

/**
 * Where the AWS clients point. Everything else comes from the SDK's own configuration: the default credential chain
 * (environment, shared files and profiles, SSO, web identity, container and instance metadata), AWS_REGION, and
 * AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_EBS and AWS_ENDPOINT_URL_EC2 for any EC2-compatible endpoint.
 */
export interface AwsClientOptions {
  /** Default: AWS_REGION, else the profile's region. */
  region?: string;
  /** A profile of ~/.aws/config and ~/.aws/credentials (default: AWS_PROFILE, else "default"). */
  profile?: string;
}

export interface AwsClients {
  ebs: EBSClient;
  ec2: EC2Client;
  /** The region the clients resolved. */
  region: () => Promise<string>;
}

/** An AWS region's name as AWS writes them: us-east-1, eu-central-2, us-gov-west-1, cn-north-1, eusc-de-east-1. */
const REGION_NAME = /^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$/;

/** A region name, or a BAD_INPUT naming the option (a name that looks right but no region has fails at the network). */
export function regionName(name: string, option: string): string {
  if (!REGION_NAME.test(name)) {
    throw new Gopid1Error('BAD_INPUT', `${option} ${JSON.stringify(name)} is not an AWS region name`, { hint: 'Use a region\'s code, e.g. us-east-1, eu-west-1, ap-southeast-2 (`aws ec2 describe-regions` lists them).' });
  }
  return name;
}

/** EBS and EC2 clients that retry throttling and server errors with backoff (adaptive: they also slow down). */
export function awsClients(options: AwsClientOptions): AwsClients {
  if (options.region !== undefined) regionName(options.region, '--region');
  // gopid1 runs on Node 20 (its design card); the SDK's notice that later releases will want Node 22 is for us, not
  // for every push a user makes.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const config = {
    ...(options.region !== undefined ? { region: options.region } : {}),
    ...(options.profile !== undefined ? { profile: options.profile } : {}),
    maxAttempts: 8,
    retryMode: 'adaptive',
  };
  const ec2 = new EC2Client(config);
  return { ebs: new EBSClient(config), ec2, region: () => ec2.config.region() };
}

const CREDENTIAL_CHAIN =
  'gopid1 looked where the AWS SDK looks: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (with AWS_SESSION_TOKEN), ' +
  'the profile (--profile, else AWS_PROFILE, else "default") in ~/.aws/credentials and ~/.aws/config (SSO included), ' +
  'AWS_WEB_IDENTITY_TOKEN_FILE, then container and instance metadata. Set one of them (e.g. `aws configure`, or ' +
  '`aws sso login --profile <name>` and --profile <name>), then run the command again.';

function fields(error: unknown): { name: string; message: string; code: string | undefined } {
  const record = (error ?? {}) as { name?: unknown; message?: unknown; code?: unknown; Code?: unknown };
  return {
    name: typeof record.name === 'string' ? record.name : '',
    message: typeof record.message === 'string' ? record.message : String(error),
    code: typeof record.Code === 'string' ? record.Code : typeof record.code === 'string' ? record.code : undefined,
  };
}

/** An AWS SDK failure while doing `what`, as a Gopid1Error that says what to do next (credentials never appear). */
export function awsFailure(error: unknown, what: string): Gopid1Error {
  if (isGopid1Error(error)) return error;
  const { name, message, code } = fields(error);
  if (name === 'AbortError') return interrupted(what);
  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(message)) {
    return new Gopid1Error('CLOUD_CREDENTIALS', `no AWS credentials found while ${what}`, { hint: CREDENTIAL_CHAIN, cause: error });
  }
  if (/Region is missing/i.test(message)) {
    return new Gopid1Error('BAD_INPUT', `no AWS region is set for ${what}`, { hint: 'Pass --region (e.g. --region eu-west-1), or set AWS_REGION or a region in your profile.', cause: error });
  }
  if (['AuthFailure', 'UnrecognizedClientException', 'InvalidClientTokenId', 'AccessDeniedException', 'UnauthorizedOperation', 'AccessDenied'].includes(name || code || '')) {
    return new Gopid1Error('CLOUD_CREDENTIALS', `AWS refused ${what}: ${message}`, {
      hint: 'The credentials were found but may not do this: see the IAM policy in the README (section EC2), or the account and region they belong to.',
      cause: error,
    });
  }
  if (code === 'ENOTFOUND' || code === 'ECONNREFUSED' || /getaddrinfo|ECONNREFUSED/.test(message)) {
    return new Gopid1Error('CLOUD_FAILED', `cannot reach AWS while ${what}: ${message}`, {
      hint: 'Check the region name (e.g. us-east-1: an unknown region has no endpoint to reach), AWS_ENDPOINT_URL if you set one, and the network.',
      cause: error,
    });
  }
  return new Gopid1Error('CLOUD_FAILED', `AWS failed while ${what}: ${name && name !== 'Error' ? `${name}: ` : ''}${message}`, {
    hint: 'Throttling and server errors were retried with backoff; run the command again, and with --debug to see the request that failed.',
    cause: error,
  });
}
