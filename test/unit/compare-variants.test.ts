import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { binaryDockerfile, golangDockerfile, VARIANT_NAMES, variantsFor } from '../../src/compare/variants.js';
import { memoryInUse } from '../../src/engine/measure.js';

describe('compare: container variants', () => {
  it('puts the same static binary in scratch, distroless (as nonroot) and debian-slim', () => {
    assert.deepEqual(VARIANT_NAMES, ['scratch', 'distroless', 'debian-slim', 'golang']);
    assert.equal(binaryDockerfile('scratch', 'scratch'), 'FROM scratch\nCOPY app /app\nENTRYPOINT ["/app"]\n');
    assert.match(binaryDockerfile('distroless', 'scratch'), /^FROM scratch\nADD rootfs\.tar \/\nCOPY app \/app\nUSER 65532:65532\n/);
    assert.match(binaryDockerfile('debian-slim', 'debian:trixie-slim'), /^FROM debian:trixie-slim\nCOPY app \/app\n/);
  });

  it('builds every variant for amd64, and for arm64 those that need no arm64 emulation, saying why of the others', () => {
    assert.deepEqual(variantsFor('amd64'), { variants: VARIANT_NAMES, without: {} });
    const arm64 = variantsFor('arm64');
    assert.deepEqual(arm64.variants, ['scratch', 'distroless']);
    assert.deepEqual(Object.keys(arm64.without), ['debian-slim', 'golang']);
    assert.match(arm64.without.golang ?? '', /emulation/);
  });

  it('builds the golang variant inside the toolchain image with the VM build\'s flags', () => {
    const dockerfile = golangDockerfile({ toolchainImage: 'gopid1-go-builder:abc', package: 'cmd/server', cgo: false, ldflags: '-buildid= -s -w' });
    assert.match(dockerfile, /^FROM gopid1-go-builder:abc\n/);
    assert.match(dockerfile, /RUN CGO_ENABLED=0 GOOS=linux GOARCH=amd64 GOAMD64=v1 go build -trimpath -ldflags="-buildid= -s -w" -o \/usr\/local\/bin\/app "\.\/cmd\/server"\n/);
    assert.match(golangDockerfile({ toolchainImage: 't', package: '.', cgo: true, ldflags: '-linkmode=external' }), /CGO_ENABLED=1 .* -tags=netgo,osusergo -ldflags=.* "\."\n/);
    assert.match(golangDockerfile({ toolchainImage: 't', package: '.', cgo: false, tags: ['timetzdata'], ldflags: '' }), /go build -trimpath -tags=timetzdata -ldflags=""/, 'the build\'s tags, as the machine\'s program was built');
  });

  it('reads container memory from engine stats the way `docker stats` does, on cgroup v1 and v2', () => {
    assert.equal(memoryInUse({ usage: 5_000_000, stats: { inactive_file: 1_000_000 } }), 4_000_000, 'cgroup v2');
    assert.equal(memoryInUse({ usage: 5_000_000, max_usage: 6_000_000, stats: { total_inactive_file: 2_000_000 } }), 3_000_000, 'cgroup v1');
    assert.equal(memoryInUse({ usage: 5_000_000, stats: {} }), 5_000_000);
    assert.equal(memoryInUse({}), undefined, 'a sample from a stopped container has no usage');
    assert.equal(memoryInUse(undefined), undefined);
  });
});
