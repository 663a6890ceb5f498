/**
 * The container images `gopid1 compare` sets against the VM: the same program, packaged the ways people ship
 * Go programs. Each variant is a Dockerfile and the files beside it; the base images are the builders' own
 * (pulled where a registry answers, bootstrapped from Debian's archive where none does).
 */

export type VariantName = 'scratch' | 'distroless' | 'debian-slim' | 'golang';

export const VARIANT_NAMES: readonly VariantName[] = ['scratch', 'distroless', 'debian-slim', 'golang'];

/**
 * The variants an architecture's images can be built as here without emulating it: every one for amd64; for arm64
 * those that only copy files (scratch, and distroless, whose root filesystem is data), since debian-slim needs an
 * arm64 Debian base and golang runs the toolchain inside its image. Each left out, with why.
 */
export function variantsFor(arch: 'amd64' | 'arm64'): { variants: readonly VariantName[]; without: Partial<Record<VariantName, string>> } {
  if (arch === 'amd64') return { variants: VARIANT_NAMES, without: {} };
  return {
    variants: ['scratch', 'distroless'],
    without: { 'debian-slim': 'its arm64 Debian base cannot be bootstrapped here without emulating arm64', golang: 'it runs the Go toolchain inside an arm64 image, which needs arm64 emulation' },
  };
}

export const VARIANT_DESCRIPTIONS: Record<VariantName, string> = {
  scratch: 'FROM scratch + the static binary (the same one the VM runs)',
  distroless: 'distroless-like: CA certificates, tzdata, passwd/group with a nonroot user, no shell; + the binary, as nonroot',
  'debian-slim': 'Debian minbase (debian:<series>-slim) + the binary',
  golang: 'single stage: the Go toolchain image + the source, built in the image (what many people ship)',
};

/** The distroless-like root filesystem, assembled in a container of the Debian base (with network, for apt). */
export const DISTROLESS_ROOTFS_SCRIPT = `set -eu
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ca-certificates tzdata >/dev/null
mkdir -p /rootfs/etc/ssl/certs /rootfs/usr/share /rootfs/tmp /rootfs/home/nonroot /out
cp /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/
cp -a /usr/share/zoneinfo /rootfs/usr/share/
printf 'root:x:0:0:root:/root:/sbin/nologin\\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\\n' > /rootfs/etc/passwd
printf 'root:x:0:\\nnobody:x:65534:\\nnonroot:x:65532:\\n' > /rootfs/etc/group
chmod 1777 /rootfs/tmp
chown 65532:65532 /rootfs/home/nonroot
tar --sort=name --mtime=@\${SOURCE_DATE_EPOCH} --numeric-owner -C /rootfs -cf /out/rootfs.tar .
echo "gopid1: distroless rootfs $(stat -c %s /out/rootfs.tar) bytes"
`;

/** Dockerfiles of the variants that only add the binary to a base. */
export function binaryDockerfile(variant: Exclude<VariantName, 'golang'>, base: string): string {
  switch (variant) {
    case 'scratch':
      return 'FROM scratch\nCOPY app /app\nENTRYPOINT ["/app"]\n';
    case 'distroless':
      // ADD unpacks the local rootfs tar.
      return 'FROM scratch\nADD rootfs.tar /\nCOPY app /app\nUSER 65532:65532\nENTRYPOINT ["/app"]\n';
    case 'debian-slim':
      return `FROM ${base}\nCOPY app /app\nENTRYPOINT ["/app"]\n`;
  }
}

/** The single-stage toolchain image: the app's source built inside the image, with the VM build's flags. */
export function golangDockerfile(options: { toolchainImage: string; package: string; cgo: boolean; tags?: readonly string[]; ldflags: string }): string {
  const pkg = options.package.startsWith('.') ? options.package : `./${options.package}`;
  // go-step's tags: netgo and osusergo with cgo (no glibc NSS in a static binary), then the build's own.
  const tags = [...(options.cgo ? ['netgo', 'osusergo'] : []), ...(options.tags ?? [])];
  return [
    `FROM ${options.toolchainImage}`,
    // gopid1's builder runs as an unprivileged user; a toolchain image as people ship it builds as root.
    'USER root',
    'ARG GOPROXY',
    'ENV GOCACHE=/root/.cache/go-build GOMODCACHE=/root/go/pkg/mod GOPATH=/root/go',
    'COPY src/ /src/',
    'WORKDIR /src',
    `RUN CGO_ENABLED=${options.cgo ? 1 : 0} GOOS=linux GOARCH=amd64 GOAMD64=v1 go build -trimpath ${tags.length > 0 ? `-tags=${tags.join(',')} ` : ''}-ldflags=${JSON.stringify(options.ldflags)} -o /usr/local/bin/app ${JSON.stringify(pkg)}`,
    'ENTRYPOINT ["/usr/local/bin/app"]',
    '',
  ].join('\n');
}
