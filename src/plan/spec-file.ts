import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { Gopid1Error } from '../errors.js';
import type { BuildOptions, BuildSpec } from './options.js';

export type { BuildSpec };
import { SPEC_SCHEMA } from './spec-schema.js';

/** The spec files `gopid1 build` reads from the app directory, in this order. */
export const SPEC_FILES = ['gopid1.yaml', 'gopid1.yml', 'gopid1.json'];

const validate = new Ajv({ allErrors: true, strict: true }).compile(SPEC_SCHEMA);

function bad(file: string, message: string, hint: string): Gopid1Error {
  return new Gopid1Error('BAD_INPUT', `${file}: ${message}`, { hint });
}

/** One line per schema error: the key's path and what it must be. */
function describeErrors(errors: ErrorObject[]): string[] {
  return errors.map((error) => {
    const at = error.instancePath === '' ? '' : error.instancePath.slice(1).replace(/\//g, '.');
    switch (error.keyword) {
      case 'additionalProperties': {
        const key = String((error.params as { additionalProperty: string }).additionalProperty);
        return `${at === '' ? '' : `${at}.`}${key} is not a key of a spec`;
      }
      case 'enum':
        return `${at} must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
      default:
        return `${at === '' ? 'the spec' : at} ${error.message ?? 'is not valid'}`;
    }
  });
}

/** Paths in a spec are relative to its directory. */
function resolvePaths(spec: BuildSpec, dir: string): BuildSpec {
  const local = (source: string): string => (/^(debian|kernel\.org):/.test(source) ? source : path.resolve(dir, source));
  return {
    ...spec,
    ...(spec.kernelSource !== undefined ? { kernelSource: local(spec.kernelSource) } : {}),
    ...(spec.kernelFragments !== undefined ? { kernelFragments: spec.kernelFragments.map((file) => path.resolve(dir, file)) } : {}),
  };
}

/**
 * Reads a spec: YAML or JSON, or the manifest.json of a build (its recorded spec: the same machine again), checked
 * against the schema. Paths in a spec file are relative to its directory, in a manifest to the app directory.
 */
export async function readSpec(file: string, appDir: string): Promise<BuildSpec> {
  const text = await readFile(file, 'utf8').catch((error: unknown) => {
    throw bad(file, `cannot be read (${error instanceof Error ? error.message : String(error)})`, 'Give the path of a gopid1.yaml or gopid1.json, or of a build\'s manifest.json.');
  });
  let document: unknown;
  try {
    document = /\.json$/i.test(file) ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw bad(file, `is not ${/\.json$/i.test(file) ? 'JSON' : 'YAML'}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`, 'Fix the syntax; `gopid1 schema` prints what a spec may hold.');
  }
  const manifest = document !== null && typeof document === 'object' && (document as { schema?: unknown }).schema === 1 && 'artifacts' in document;
  if (manifest) {
    document = (document as { spec?: unknown }).spec;
    if (document === undefined) throw bad(file, 'is the manifest of a build that recorded no spec (made by an older gopid1)', 'Build it again with this gopid1, or give the options by hand.');
  }
  document ??= {};
  if (!validate(document)) {
    throw bad(file, describeErrors(validate.errors ?? []).join('; '), '`gopid1 schema` prints every key a spec may hold, with its type and allowed values.');
  }
  return resolvePaths(document as BuildSpec, manifest ? path.resolve(appDir) : path.dirname(path.resolve(file)));
}

/** The spec file in the app directory, if there is one. */
export async function findSpec(appDir: string): Promise<string | undefined> {
  for (const name of SPEC_FILES) {
    const file = path.join(appDir, name);
    if (await stat(file).then((info) => info.isFile(), () => false)) return file;
  }
  return undefined;
}

/**
 * The spec a build records in its manifest: the options it was given, but for where and how it ran, with paths
 * relative to the app directory (none of the host's paths); `build <app> --spec manifest.json` builds it again.
 */
export function specRecord(options: BuildOptions, appDir: string): BuildSpec {
  const keys = Object.keys(SPEC_SCHEMA.properties);
  const rest = Object.fromEntries(Object.entries(options).filter(([key, value]) => keys.includes(key) && value !== undefined)) as BuildSpec;
  const relative = (file: string): string => path.relative(appDir, path.resolve(file)) || '.';
  return {
    ...rest,
    ...(rest.kernelSource !== undefined && !/^(debian|kernel\.org):/.test(rest.kernelSource) ? { kernelSource: relative(rest.kernelSource) } : {}),
    ...(rest.kernelFragments !== undefined ? { kernelFragments: rest.kernelFragments.map(relative) } : {}),
  };
}
