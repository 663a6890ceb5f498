import { Gopid1Error } from '../errors.js';

/**
 * Environment variables for the program, from the build (`--env`, defaults in the initramfs) and from the boot
 * (`--env`, `--env-file`, through fw_cfg). Both travel as "KEY=VALUE" entries separated by NUL bytes, so a value
 * may hold any character but NUL.
 */
export type EnvEntry = readonly [key: string, value: string];

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function badEnv(message: string, hint: string): Gopid1Error {
  return new Gopid1Error('BAD_INPUT', message, { hint, field: 'env' });
}

/** One `KEY=VALUE` (`where` names it in errors: "--env", "app.env line 3"). */
export function parseEnvAssignment(text: string, where: string): EnvEntry {
  const at = text.indexOf('=');
  const key = at < 0 ? text : text.slice(0, at);
  if (at < 0 || !NAME.test(key)) {
    throw badEnv(`${where} ${JSON.stringify(text)} is not KEY=VALUE with a name of letters, digits and _`, 'e.g. --env LOG_LEVEL=debug');
  }
  const value = text.slice(at + 1);
  if (value.includes('\0')) throw badEnv(`${where}: the value of ${key} holds a NUL byte`, 'Environment values cannot hold NUL.');
  return [key, value];
}

/**
 * An env file as `docker run --env-file` reads one: `KEY=VALUE` per line, taken as written (no quotes removed);
 * blank lines and lines starting with # are skipped; a line with a name alone takes that variable from `host`
 * (and is skipped when the host has none).
 */
export function parseEnvFile(text: string, file: string, host: NodeJS.ProcessEnv): EnvEntry[] {
  const entries: EnvEntry[] = [];
  text.split(/\r?\n/).forEach((line, index) => {
    const trimmed = line.trimStart();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    if (!trimmed.includes('=')) {
      const name = trimmed.trimEnd();
      if (!NAME.test(name)) throw badEnv(`${file} line ${index + 1} ${JSON.stringify(line)} is not KEY=VALUE or a variable's name`, 'Each line: KEY=VALUE, a name alone (taken from your environment), or a # comment.');
      const value = host[name];
      if (value !== undefined) entries.push([name, value]);
      return;
    }
    entries.push(parseEnvAssignment(trimmed, `${file} line ${index + 1}`));
  });
  return entries;
}

/** The entries as the init reads them: "KEY=VALUE\0" each. */
export function envBlob(entries: readonly EnvEntry[]): Buffer {
  return Buffer.from(entries.map(([key, value]) => `${key}=${value}\0`).join(''), 'utf8');
}
