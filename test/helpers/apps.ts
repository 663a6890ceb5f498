import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from './e2e.js';

/**
 * A Go module whose main package takes the Go builder 10+ s to compile on two cores: a generated file of
 * `functions` small functions. A fresh nonce in every module keeps Go's build cache from ever answering, so
 * the Go step of each run really compiles (long enough to interrupt, or to lose the engine, mid-step).
 */
export function slowGoApp(prefix: string, functions = 20_000): string {
  const dir = tempDir(prefix);
  const nonce = randomBytes(8).toString('hex');
  const parts = ['// Code generated for a gopid1 test: slow to compile on purpose.', 'package main', '', `const nonce = "${nonce}"`, ''];
  for (let i = 0; i < functions; i++) {
    parts.push(
      `func f${i}(x int) int {`,
      `\tif x%${(i % 7) + 2} == 0 {`,
      `\t\treturn x*${i} + len(nonce)`,
      '\t}',
      '\tfor j := 0; j < x; j++ {',
      `\t\tx += j ^ ${i}`,
      '\t}',
      `\treturn x - ${i}`,
      '}',
      '',
    );
  }
  parts.push('var table = []func(int) int{', ...Array.from({ length: functions }, (_, i) => `\tf${i},`), '}', '');
  writeFileSync(path.join(dir, 'gen.go'), parts.join('\n'));
  writeFileSync(path.join(dir, 'go.mod'), 'module example.com/slow\n\ngo 1.21\n');
  writeFileSync(
    path.join(dir, 'main.go'),
    ['package main', '', 'import "fmt"', '', 'func main() {', '\tsum := 0', '\tfor i, f := range table {', '\t\tsum += f(i % 5)', '\t}', '\tfmt.Println("slow", sum)', '}', ''].join('\n'),
  );
  return dir;
}

/**
 * A Go module embedding `mib` MiB of incompressible bytes, so the initramfs and the ISO are that big and
 * mastering the ISO takes seconds. The bytes are the same in every call (AES-CTR of zeros under a fixed key):
 * Go's build cache keeps one copy, not one per test run.
 */
export function bigAssetApp(prefix: string, mib: number): string {
  const dir = tempDir(prefix);
  const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), Buffer.alloc(16, 1));
  writeFileSync(path.join(dir, 'asset.bin'), Buffer.concat([cipher.update(Buffer.alloc(mib * 1024 * 1024)), cipher.final()]));
  writeFileSync(path.join(dir, 'go.mod'), 'module example.com/bigasset\n\ngo 1.21\n');
  writeFileSync(
    path.join(dir, 'main.go'),
    ['package main', '', 'import (', '\t_ "embed"', '\t"fmt"', ')', '', '//go:embed asset.bin', 'var asset []byte', '', 'func main() {', '\tfmt.Println("asset", len(asset))', '}', ''].join('\n'),
  );
  return dir;
}

/**
 * examples/hello with its main package at ./cmd/<unique name> (pass that as --package): the machine name
 * (the temporary directory's) and the package path are this call's own, so comparison images and the
 * builds of them can be told apart from any other run's.
 */
export function uniqueHelloApp(prefix: string): { dir: string; pkg: string } {
  const dir = tempDir(prefix);
  const pkg = `./cmd/${path.basename(dir)}`;
  mkdirSync(path.join(dir, pkg), { recursive: true });
  writeFileSync(path.join(dir, 'go.mod'), 'module example.com/hello\n\ngo 1.21\n');
  writeFileSync(
    path.join(dir, pkg, 'main.go'),
    ['package main', '', 'import (', '\t"fmt"', '\t"time"', ')', '', 'func main() {', '\tfor {', '\t\tfmt.Println("Hello from Golang")', '\t\ttime.Sleep(1 * time.Second)', '\t}', '}', ''].join('\n'),
  );
  return { dir, pkg };
}
