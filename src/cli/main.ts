// Entry point: `--version` answers before the rest of raptor is loaded, so it starts like bare node.
declare const RAPTOR_VERSION: string;
const version = typeof RAPTOR_VERSION === 'string' ? RAPTOR_VERSION : 'dev';

const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  process.stdout.write(`${version}\n`);
} else if (args[0] === '__libvirt-rpc-worker' && args.length === 2) {
  // a libvirt connection opened as the user this process was started as (libvirt/rpc/worker.ts)
  const { runRpcWorker } = await import('../libvirt/rpc/worker.ts');
  await runRpcWorker(args[1]!);
} else {
  const { main } = await import('./app.ts');
  process.exitCode = await main(args, version);
}
