import { CompleteSnapshotCommand, PutSnapshotBlockCommand, StartSnapshotCommand, type EBSClient } from '@aws-sdk/client-ebs';
import {
  CopyImageCommand,
  CreateTagsCommand,
  DeleteSnapshotCommand,
  DescribeImagesCommand,
  DescribeSnapshotsCommand,
  ModifyImageAttributeCommand,
  RegisterImageCommand,
  waitUntilImageAvailable,
  waitUntilSnapshotCompleted,
  type EC2Client,
  type Tag,
} from '@aws-sdk/client-ec2';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { sha256 } from '../artifacts/files.js';
import { readManifest, type Manifest } from '../artifacts/manifest.js';
import { Gopid1Error, interrupted, throwIfAborted } from '../errors.js';
import { formatsBuilt, provides } from '../outputs/table.js';
import { toolVersion } from '../paths.js';
import { DEFAULT_OUT_DIR } from '../plan/vocabulary.js';
import { silent, type Reporter } from '../progress.js';
import { aggregateChecksum, dataBlocks, EBS_BLOCK_BYTES, EBS_MAX_GIB, volumeGiB, type DiskBlock } from './blocks.js';
import { awsClients, awsFailure, regionName, type AwsClientOptions } from './clients.js';

export interface PushAwsOptions extends AwsClientOptions {
  /** Out dir of a build with the `aws` format (default dist). */
  dir?: string;
  /** Regions the AMI is copied to after it is registered. */
  copyToRegions?: string[];
  /** Let every AWS account launch the AMI (default: only this one). */
  public?: boolean;
  /** PutSnapshotBlock requests in flight at once (default 16). */
  concurrency?: number;
  onProgress?: Reporter;
  signal?: AbortSignal;
}

export interface PushedImage {
  region: string;
  imageId: string;
}

export interface PushAwsResult {
  imageId: string;
  snapshotId: string;
  region: string;
  /** Bytes sent in PutSnapshotBlock requests (0 when the snapshot was there already). */
  uploadedBytes: number;
  blocks: number;
  seconds: number;
  /** The AMI was found by its manifest tag: nothing was uploaded or registered. */
  existing: boolean;
  copies: PushedImage[];
}

/** The tag that makes a push idempotent: the sha256 of the manifest.json the disk belongs to. */
export const MANIFEST_TAG = 'gopid1:manifest-sha256';
const VERSION_TAG = 'gopid1:version';

interface Pushable {
  manifest: Manifest;
  manifestSha256: string;
  disk: string;
  bytes: number;
  name: string;
}

/** The out dir's aws disk and the manifest that names it, or what to do to make them. */
async function pushable(dir: string): Promise<Pushable> {
  const manifest = await readManifest(dir);
  if (!manifest) throw new Gopid1Error('BAD_INPUT', `${dir} holds no manifest.json of a gopid1 build`, { hint: 'Build it first: gopid1 build <app> --format aws --out <dir>' });
  const record = manifest.artifacts.aws;
  if (!record || !provides(formatsBuilt(manifest), 'aws')) {
    throw new Gopid1Error('BAD_INPUT', `${manifest.name} in ${dir} was built without the aws format`, { hint: `Build it with --format aws (e.g. gopid1 build <app> --format aws --out ${dir}), then push it.` });
  }
  const disk = path.join(dir, record.file);
  const bytes = (await stat(disk).catch(() => undefined))?.size;
  if (bytes === undefined) throw new Gopid1Error('BAD_INPUT', `${disk} is missing`, { hint: 'Build again with --format aws.' });
  if (volumeGiB(bytes) > EBS_MAX_GIB) throw new Gopid1Error('BAD_INPUT', `${record.file} is ${bytes} bytes, more than the ${EBS_MAX_GIB} GiB an EBS snapshot holds`, { hint: 'Build with a smaller --disk-size.' });
  return { manifest, manifestSha256: sha256(await readFile(path.join(dir, 'manifest.json'))), disk, bytes, name: manifest.name };
}

function tagsOf(item: Pushable): Tag[] {
  return [
    { Key: 'Name', Value: item.name },
    { Key: MANIFEST_TAG, Value: item.manifestSha256 },
    { Key: VERSION_TAG, Value: toolVersion },
  ];
}

/** An AMI name (3–128 of letters, digits and ()[] ./-'@_): the machine name and the manifest's hash. */
export function imageName(name: string, manifestSha256: string): string {
  const safe = name.replace(/[^A-Za-z0-9()[\] ./'@_-]/g, '_').slice(0, 100);
  return `gopid1-${safe}-${manifestSha256.slice(0, 12)}`;
}

/** EC2's architecture name for the build's. */
export function ec2Architecture(manifest: Manifest): 'x86_64' | 'arm64' {
  return (manifest.plan as { arch?: string } | undefined)?.arch === 'arm64' ? 'arm64' : 'x86_64';
}

/** EC2's boot mode for the disk: a disk that boots both ways prefers UEFI. */
export function ec2BootMode(manifest: Manifest): 'uefi-preferred' | 'uefi' | 'legacy-bios' {
  const firmware = manifest.artifacts.aws?.firmware ?? [];
  if (firmware.includes('uefi')) return firmware.includes('bios') ? 'uefi-preferred' : 'uefi';
  return 'legacy-bios';
}

interface FoundImage {
  imageId: string;
  snapshotId: string | undefined;
  /** EC2's name for its architecture: x86_64, arm64. */
  architecture: string | undefined;
}

/** The AMI of a build: by its manifest tag, or by its name (which holds the manifest's hash) if tagging it failed. */
export async function findImage(ec2: EC2Client, manifestSha256: string, name?: string): Promise<FoundImage | undefined> {
  const byTag = await ec2.send(new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: `tag:${MANIFEST_TAG}`, Values: [manifestSha256] }] }));
  const found = byTag.Images?.length || name === undefined ? byTag : await ec2.send(new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'name', Values: [imageName(name, manifestSha256)] }] }));
  const image = found.Images?.find((candidate) => candidate.ImageId && candidate.State !== 'deregistered' && candidate.State !== 'failed');
  return image?.ImageId ? { imageId: image.ImageId, snapshotId: image.BlockDeviceMappings?.find((mapping) => mapping.Ebs?.SnapshotId)?.Ebs?.SnapshotId, architecture: image.Architecture } : undefined;
}

async function findSnapshot(ec2: EC2Client, manifestSha256: string): Promise<string | undefined> {
  const found = await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: [{ Name: `tag:${MANIFEST_TAG}`, Values: [manifestSha256] }] }));
  return found.Snapshots?.find((snapshot) => snapshot.State === 'completed')?.SnapshotId;
}

/** Runs `work` over the items with at most `limit` at once; the first failure stops the rest. */
async function inPool<T>(items: AsyncIterable<T>, limit: number, work: (item: T) => Promise<void>): Promise<void> {
  const running = new Set<Promise<void>>();
  let failure: unknown;
  for await (const item of items) {
    if (failure !== undefined) break;
    const task: Promise<void> = work(item).then(
      () => void running.delete(task),
      (error: unknown) => {
        running.delete(task);
        failure ??= error;
      },
    );
    running.add(task);
    if (running.size >= limit) await Promise.race(running);
  }
  await Promise.all(running);
  if (failure !== undefined) throw failure;
}

interface Upload {
  snapshotId: string;
  blocks: number;
  uploadedBytes: number;
}

/** The disk as a new EBS snapshot through the EBS direct APIs: only blocks that hold data, each with its checksum. */
async function uploadSnapshot(ebs: EBSClient, ec2: EC2Client, item: Pushable, options: PushAwsOptions, report: Reporter): Promise<Upload> {
  const started = await ebs.send(
    new StartSnapshotCommand({ VolumeSize: volumeGiB(item.bytes), Description: `gopid1 ${item.name} (manifest ${item.manifestSha256.slice(0, 12)})`, Tags: tagsOf(item), Timeout: 60 }),
  );
  const snapshotId = started.SnapshotId;
  if (!snapshotId) throw new Gopid1Error('CLOUD_FAILED', 'StartSnapshot answered without a snapshot id', { hint: 'Try again; if it persists, check the EBS endpoint.' });
  report({ kind: 'step', stage: 'aws', text: `uploading ${path.basename(item.disk)} to ${snapshotId}` });
  const sent: Pick<DiskBlock, 'index' | 'checksum'>[] = [];
  const begun = Date.now();
  try {
    await inPool(dataBlocks(item.disk), options.concurrency ?? 16, async (block) => {
      throwIfAborted(options.signal, 'the snapshot upload');
      await ebs.send(
        new PutSnapshotBlockCommand({ SnapshotId: snapshotId, BlockIndex: block.index, BlockData: block.data, DataLength: EBS_BLOCK_BYTES, Checksum: block.checksum, ChecksumAlgorithm: 'SHA256' }),
        options.signal ? { abortSignal: options.signal } : {},
      );
      sent.push({ index: block.index, checksum: block.checksum });
      const seconds = Math.max(0.001, (Date.now() - begun) / 1000);
      report({ kind: 'count', stage: 'aws', text: `${sent.length} block${sent.length === 1 ? '' : 's'} sent (${((sent.length * EBS_BLOCK_BYTES) / 2 ** 20 / seconds).toFixed(1)} MiB/s)` });
    });
    throwIfAborted(options.signal, 'the snapshot upload');
    await ebs.send(new CompleteSnapshotCommand({ SnapshotId: snapshotId, ChangedBlocksCount: sent.length, Checksum: aggregateChecksum(sent), ChecksumAlgorithm: 'SHA256', ChecksumAggregationMethod: 'LINEAR' }));
    await waitUntilSnapshotCompleted({ client: ec2, maxWaitTime: 1800, ...(options.signal ? { abortSignal: options.signal } : {}) }, { SnapshotIds: [snapshotId] });
  } catch (error) {
    // Nothing half-made stays: an unfinished snapshot is deleted (an interrupted push starts over).
    await ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId })).catch(() => undefined);
    if (options.signal?.aborted) throw interrupted('the snapshot upload', `The unfinished snapshot ${snapshotId} was deleted; run the push again.`);
    throw awsFailure(error, `uploading ${path.basename(item.disk)} to snapshot ${snapshotId} (${sent.length} blocks sent)`);
  }
  return { snapshotId, blocks: sent.length, uploadedBytes: sent.length * EBS_BLOCK_BYTES };
}

async function registerImage(ec2: EC2Client, item: Pushable, snapshotId: string): Promise<string> {
  const registered = await ec2.send(
    new RegisterImageCommand({
      Name: imageName(item.name, item.manifestSha256),
      Description: `gopid1 ${item.name}: a Go program as PID 1 (gopid1 ${toolVersion})`,
      Architecture: ec2Architecture(item.manifest),
      RootDeviceName: '/dev/xvda',
      BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: snapshotId, VolumeType: 'gp3', DeleteOnTermination: true } }],
      VirtualizationType: 'hvm',
      EnaSupport: true,
      BootMode: ec2BootMode(item.manifest),
      ImdsSupport: 'v2.0',
    }),
  );
  if (!registered.ImageId) throw new Gopid1Error('CLOUD_FAILED', 'RegisterImage answered without an image id', { hint: 'Try again.' });
  // Tagged by CreateTags rather than RegisterImage's TagSpecifications, which not every EC2-compatible endpoint honours.
  await ec2.send(new CreateTagsCommand({ Resources: [registered.ImageId], Tags: tagsOf(item) }));
  return registered.ImageId;
}

async function copyImage(options: PushAwsOptions, from: string, imageId: string, item: Pushable, region: string): Promise<PushedImage> {
  const { ec2 } = awsClients({ ...options, region });
  const existing = await findImage(ec2, item.manifestSha256, item.name);
  if (existing) {
    if (options.public) await makePublic(ec2, existing.imageId);
    return { region, imageId: existing.imageId };
  }
  const copied = await ec2.send(new CopyImageCommand({ SourceRegion: from, SourceImageId: imageId, Name: imageName(item.name, item.manifestSha256) }));
  if (!copied.ImageId) throw new Gopid1Error('CLOUD_FAILED', `CopyImage to ${region} answered without an image id`, { hint: 'Try again.' });
  await ec2.send(new CreateTagsCommand({ Resources: [copied.ImageId], Tags: tagsOf(item) }));
  await waitUntilImageAvailable({ client: ec2, maxWaitTime: 3600 }, { ImageIds: [copied.ImageId] });
  if (options.public) await makePublic(ec2, copied.ImageId);
  return { region, imageId: copied.ImageId };
}

async function makePublic(ec2: EC2Client, imageId: string): Promise<void> {
  await ec2.send(new ModifyImageAttributeCommand({ ImageId: imageId, LaunchPermission: { Add: [{ Group: 'all' }] } }));
}

/**
 * Pushes the out dir's `aws` disk as an AMI: an EBS snapshot written through the EBS direct APIs (StartSnapshot,
 * PutSnapshotBlock for each block holding data, CompleteSnapshot), then RegisterImage. Snapshot and AMI carry the
 * manifest's sha256, so pushing the same build again finds them and uploads nothing.
 */
export async function pushAws(options: PushAwsOptions = {}): Promise<PushAwsResult> {
  const started = Date.now();
  const report = options.onProgress ?? silent;
  for (const target of options.copyToRegions ?? []) regionName(target, '--copy-to-regions');
  const item = await pushable(path.resolve(options.dir ?? DEFAULT_OUT_DIR));
  const clients = awsClients(options);
  const { ebs, ec2 } = clients;
  const step = async <T>(what: string, action: () => Promise<T>): Promise<T> => {
    throwIfAborted(options.signal, what);
    return action().catch((error: unknown) => {
      throw awsFailure(error, what);
    });
  };
  const region = await step('finding the region', clients.region);
  report({ kind: 'step', stage: 'aws', text: `looking for ${item.name} (manifest ${item.manifestSha256.slice(0, 12)}) in ${region}` });
  const existing = await step('looking for an AMI of this build', () => findImage(ec2, item.manifestSha256, item.name));
  let upload: Upload = { snapshotId: '', blocks: 0, uploadedBytes: 0 };
  if (!existing) {
    // A snapshot of this build that completed before (its AMI not registered) is used again.
    const snapshotId = await step('looking for a snapshot of this build', () => findSnapshot(ec2, item.manifestSha256));
    upload = snapshotId ? { ...upload, snapshotId } : await uploadSnapshot(ebs, ec2, item, options, report);
  }
  const imageId = existing?.imageId ?? (await step('registering the AMI', () => registerImage(ec2, item, upload.snapshotId)));
  // Also for an AMI pushed before: --public on a second push makes it public.
  if (options.public) await step('making the AMI public', () => makePublic(ec2, imageId));
  const copies: PushedImage[] = [];
  for (const target of options.copyToRegions ?? []) {
    report({ kind: 'step', stage: 'aws', text: `copying ${imageId} to ${target}` });
    copies.push(await step(`copying the AMI to ${target}`, () => copyImage(options, region, imageId, item, target)));
  }
  // The snapshot tagged with this build; else the one the AMI maps (they are the same on EC2).
  const snapshotId = existing ? ((await step('finding the AMI\'s snapshot', () => findSnapshot(ec2, item.manifestSha256))) ?? existing.snapshotId ?? '') : upload.snapshotId;
  report({ kind: 'done', stage: 'aws', text: existing ? `${imageId} was pushed before: nothing sent` : `${imageId} registered (${upload.blocks} blocks sent)` });
  return { imageId, snapshotId, region, uploadedBytes: upload.uploadedBytes, blocks: upload.blocks, seconds: (Date.now() - started) / 1000, existing: existing !== undefined, copies };
}
