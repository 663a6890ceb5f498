/**
 * The architecture's rules, checked by dependency-cruiser in `make test` (make deps-check). A violation names the
 * rule; docs/ARCHITECTURE.md says why each exists. test/unit/dependency-rules.test.ts shows that a bad import in a
 * fixture tree is caught.
 */

/** Stages: the folders of src/ that do one part of the work (not the CLI, not the flows). */
const STAGES = 'artifacts|aws|compare|data|disk|engine|go|initramfs|iso|kernel|outputs|plan|qemu|uki';
/** Modules of a stage that no other stage may import: its internals (the flows in src/api may). */
const INTERNALS = [
  'engine/(?!engine\\.ts$)[^/]+',
  'kernel/(kconfig|signature)',
  'go/elf',
  'initramfs/newc',
  'iso/(dates|hybrid)',
  'qemu/(process|prepare|outcome|qmp|metadata|metadata-responder)',
  'data/(sparse|probe)',
].join('|');

module.exports = {
  forbidden: [
    {
      name: 'dockerode-only-in-engine',
      comment: 'The Docker client library is an implementation detail of src/engine/: everything else sees the Engine interface.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/engine/' },
      to: { path: '^dockerode$|(^|/)node_modules/(@types/)?dockerode/' },
    },
    {
      name: 'engine-only-through-its-interface',
      comment: 'Outside src/engine/, only engine/engine.ts (the Engine interface, its types and the archive helpers) may be imported.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/engine/' },
      to: { path: '^src/engine/', pathNot: '^src/engine/engine\\.ts$' },
    },
    {
      name: 'cli-uses-the-public-api',
      comment: 'The CLI is a thin layer over the Node API: it imports src/index.ts and its own files only.',
      severity: 'error',
      from: { path: '^src/cli/' },
      to: { path: '^src/', pathNot: '^src/(cli/|index\\.ts$)' },
    },
    {
      name: 'nothing-imports-the-cli',
      comment: 'Only the CLI itself knows about the terminal.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'stages-do-not-import-flows',
      comment: 'Flows (src/api) orchestrate stages; a stage never calls a flow.',
      severity: 'error',
      from: { path: `^src/(${STAGES})/|^src/[^/]+\\.ts$`, pathNot: '^src/index\\.ts$' },
      to: { path: '^src/api/' },
    },
    {
      name: 'no-stage-internals',
      comment: "A stage uses another stage only through its public modules; a stage's internals are its own (and the flows').",
      severity: 'error',
      from: { path: `^src/(${STAGES})/` },
      to: { path: `^src/(${INTERNALS})\\.ts$`, pathNot: '^src/$1/' },
    },
    {
      name: 'pure-stages-without-engine',
      comment: 'The QEMU stage, the initramfs writer and the artifacts (out dir, manifest, cache) never touch the container engine.',
      severity: 'error',
      from: { path: '^src/(qemu|initramfs|artifacts)/' },
      to: { path: '^src/engine/' },
    },
    {
      name: 'no-cycles',
      comment: 'Modules form no import cycle (type imports included).',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], extensions: ['.ts', '.js', '.d.ts'] },
  },
};
