import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { refused } from '../errors.js';
import { envBlob, parseEnvAssignment, parseEnvFile, type EnvEntry } from '../plan/env.js';

/**
 * Run-time configuration for the machine (`gopid1 boot --env`, `--env-file`, `--secret`), carried by QEMU's fw_cfg
 * under opt/gopid1/ and read by the supervising init before the program starts: never on the kernel command line,
 * which every process in the machine can read in /proc/cmdline.
 */
export interface RuntimeConfigOptions {
  /** "KEY=VALUE" each. */
  env?: string[];
  /** Files of KEY=VALUE lines, as `docker run --env-file` reads them. */
  envFiles?: string[];
  /** "NAME=FILE" each: the file's bytes become /run/secrets/NAME in the machine (mode 0400). */
  secrets?: string[];
}

export interface RuntimeConfig {
  env: EnvEntry[];
  secrets: { name: string; file: string }[];
}

/** One fw_cfg item: its name in the machine and the host file QEMU reads it from. */
export interface FwCfgItem {
  name: string;
  file: string;
}

const ENV_ITEM = 'opt/gopid1/env';
const SECRET_PREFIX = 'opt/gopid1/secret/';
/** fw_cfg names are at most 55 characters. */
const FW_CFG_NAME_MAX = 55;
export const MAX_SECRET_BYTES = 1024 * 1024;
/** QEMU's pc machines have 32 fw_cfg file slots, which firmware uses too. */
export const MAX_SECRETS = 16;

async function secretOf(spec: string): Promise<{ name: string; file: string }> {
  const at = spec.indexOf('=');
  const name = spec.slice(0, at);
  const file = spec.slice(at + 1);
  if (at <= 0 || file === '' || !/^[A-Za-z0-9._-]+$/.test(name) || name === '.' || name === '..') {
    throw refused(`--secret ${JSON.stringify(spec)} is not NAME=FILE with a name of letters, digits, ., _ and -`, 'e.g. --secret db-password=./secrets/db.txt (the machine reads /run/secrets/db-password)');
  }
  if (SECRET_PREFIX.length + name.length > FW_CFG_NAME_MAX) throw refused(`--secret ${name}: the name is longer than ${FW_CFG_NAME_MAX - SECRET_PREFIX.length} characters`, 'Use a shorter name.');
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) throw refused(`--secret ${name}: ${file} is not a file`, 'Give the path of a file holding the secret.');
  if (info.size > MAX_SECRET_BYTES) throw refused(`--secret ${name}: ${file} is ${info.size} bytes, more than the ${MAX_SECRET_BYTES} a secret may be`, 'Secrets are small (keys, passwords, tokens); put larger data on a disk.');
  return { name, file: path.resolve(file) };
}

/** The boot's run-time configuration, every input checked; undefined when none is given. */
export async function runtimeConfig(options: RuntimeConfigOptions, host: NodeJS.ProcessEnv = process.env): Promise<RuntimeConfig | undefined> {
  const env: EnvEntry[] = [];
  for (const file of options.envFiles ?? []) {
    const text = await readFile(file, 'utf8').catch((error: unknown) => {
      throw refused(`--env-file ${file} cannot be read: ${error instanceof Error ? error.message : String(error)}`, 'Give the path of a file of KEY=VALUE lines.');
    });
    env.push(...parseEnvFile(text, file, host));
  }
  // --env after the files: it wins for the same name.
  for (const text of options.env ?? []) env.push(parseEnvAssignment(text, '--env'));
  const secrets = await Promise.all((options.secrets ?? []).map(secretOf));
  const names = secrets.map((secret) => secret.name);
  const twice = names.find((name, index) => names.indexOf(name) !== index);
  if (twice !== undefined) throw refused(`--secret ${twice} is given twice`, 'Give each secret one name.');
  if (secrets.length > MAX_SECRETS) throw refused(`${secrets.length} secrets are more than the ${MAX_SECRETS} a machine takes`, 'Put several values in one secret file.');
  return env.length === 0 && secrets.length === 0 ? undefined : { env, secrets };
}

/** What QEMU's -fw_cfg options carry: the environment (written into `dir`) and each secret's own file. */
export async function fwCfgItems(config: RuntimeConfig, dir: string): Promise<FwCfgItem[]> {
  const items: FwCfgItem[] = [];
  if (config.env.length > 0) {
    const file = path.join(dir, 'env');
    await writeFile(file, envBlob(config.env), { mode: 0o600 });
    items.push({ name: ENV_ITEM, file });
  }
  for (const secret of config.secrets) items.push({ name: `${SECRET_PREFIX}${secret.name}`, file: secret.file });
  return items;
}

/** The first line of gopid1's instance user-data: the init leaves user-data without it alone. */
export const USER_DATA_HEADER = '#gopid1';

/**
 * The run-time configuration as instance user-data, which the supervising init of a cloud machine reads from the
 * metadata service (init/metadata.go): `#gopid1`, then `KEY=VALUE` lines, then `secret:NAME=BASE64` lines.
 */
export async function userDataText(config: RuntimeConfig): Promise<string> {
  const lines = [USER_DATA_HEADER];
  for (const [key, value] of config.env) {
    if (/[\r\n]/.test(value)) throw refused(`the value of ${key} spans lines, which instance user-data cannot carry`, 'Put it in a secret (--secret NAME=FILE) instead.');
    lines.push(`${key}=${value}`);
  }
  for (const secret of config.secrets) lines.push(`secret:${secret.name}=${(await readFile(secret.file)).toString('base64')}`);
  return `${lines.join('\n')}\n`;
}

/** The fw_cfg item that tells the init, under QEMU, to ask the (emulated) metadata service for its user-data. */
export const METADATA_ITEM = 'opt/gopid1/metadata';
